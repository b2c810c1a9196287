// Headless-browser test harness for the recorder SDK.
//
// The machines this project runs on reach no browser download site, so we drive
// the system browsers with puppeteer-core: Chromium over CDP and Firefox ESR over
// WebDriver BiDi. Tests use Node's built-in runner (`node --test`) and import the
// helpers below; recorder.test.mjs is a short worked example.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

import puppeteer from 'puppeteer-core';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

// Paths can be overridden from the environment so a developer with browsers in
// other places (or a different server build) can still run the suite.
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const FIREFOX_BIN = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';
export const DEFAULT_SERVER_BIN = path.resolve(HERE, '../../build/vocafuse-demo');
// Read at call time, so a test may set the variable before starting a server.
const serverBin = () => process.env.VOCAFUSE_SERVER_BIN || DEFAULT_SERVER_BIN;

// A made-up host name that resolves to loopback in both browsers. A page opened
// as http://insecure.test:PORT/ is NOT a secure context (unlike 127.0.0.1 or
// localhost), so tests can check how the SDK behaves without mediaDevices.
export const INSECURE_HOST = 'insecure.test';

const SERVER_START_TIMEOUT_MS = 15_000;
const SERVER_STOP_GRACE_MS = 5_000;

// ---------------------------------------------------------------------------
// Temporary directories

// Everything the harness creates lives under one per-process directory, removed
// when the process exits, so a crashed test run leaves nothing behind in /tmp.
let processTmpDir;
function harnessTmpDir() {
  if (!processTmpDir) {
    processTmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocafuse-harness-'));
    process.once('exit', () => fs.rmSync(processTmpDir, { recursive: true, force: true }));
  }
  return processTmpDir;
}

export function freshTmpDir(prefix) {
  return fsp.mkdtemp(path.join(harnessTmpDir(), prefix));
}

export async function removeDir(dir) {
  // Browsers may still be flushing their profile for a moment after exit.
  await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

// ---------------------------------------------------------------------------
// Fake microphone input

const speechCache = new Map(); // absolute dir -> Promise<absolute wav path>

/**
 * Makes `speech.wav` in `dir` (default: the harness temp dir): a few seconds of
 * espeak-ng speech as 48 kHz mono 16-bit WAV, the format Chromium's
 * --use-file-for-fake-audio-capture expects. Cached per process and directory.
 * @param {string} [dir]
 * @returns {Promise<string>} absolute path of the WAV file
 */
export function makeSpeech(dir = harnessTmpDir()) {
  const absDir = path.resolve(dir);
  if (!speechCache.has(absDir)) {
    const made = synthesizeSpeech(absDir);
    // Do not cache a failure: a later call may succeed (e.g. after mkdir).
    made.catch(() => speechCache.delete(absDir));
    speechCache.set(absDir, made);
  }
  return speechCache.get(absDir);
}

async function synthesizeSpeech(dir) {
  await fsp.mkdir(dir, { recursive: true });
  const raw = path.join(dir, 'speech-raw.wav');
  const out = path.join(dir, 'speech.wav');
  await execFileP('espeak-ng', [
    '-w', raw,
    'Hello from the voice recorder test. One, two, three, four, five.',
  ]);
  // espeak-ng writes 22.05 kHz; normalise to -3 dBFS before resampling so the
  // resampler does not clip, then make it 48 kHz mono 16-bit.
  await execFileP('sox', [raw, '-b', '16', out, 'gain', '-n', '-3', 'rate', '48000', 'channels', '1']);
  await fsp.rm(raw, { force: true });
  return out;
}

// ---------------------------------------------------------------------------
// Browsers

// The name of the browser each launched Browser came from, for log prefixes and
// for choosing how to set permissions.
const browserNames = new WeakMap();
// Whether each Firefox was launched with the microphone allowed.
const firefoxMicAllowed = new WeakMap();

/** @returns {'chromium' | 'firefox' | 'browser'} */
export function browserName(browser) {
  return browserNames.get(browser) ?? 'browser';
}

// Gives the browser a fresh profile directory and removes it once the browser
// process has gone, however it ended (close(), crash, or test failure).
// A caller that passes its own profile (to start the browser again on it, after a kill)
// removes it itself.
async function launchWithProfile(name, options, profile) {
  if (profile) {
    const browser = await puppeteer.launch({ ...options, userDataDir: profile });
    browserNames.set(browser, name);
    return browser;
  }
  const userDataDir = await freshTmpDir(`${name}-profile-`);
  let browser;
  try {
    browser = await puppeteer.launch({ ...options, userDataDir });
  } catch (err) {
    await removeDir(userDataDir);
    throw err;
  }
  browserNames.set(browser, name);
  const proc = browser.process();
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.once('exit', () => { removeDir(userDataDir).catch(() => {}); });
  } else {
    await removeDir(userDataDir);
  }
  return browser;
}

/**
 * Headless Chromium with a fake microphone that plays `speechWav` (looped).
 *
 * Deliberately without --use-fake-ui-for-media-stream: that flag auto-accepts
 * every prompt and overrides a CDP denial, so permission is set per test with
 * setMicrophone() instead.
 *
 * @param {{ speechWav?: string, hostResolverRules?: string | string[], extraArgs?: string[] }} [opts]
 *   speechWav: WAV to capture from (default: makeSpeech()).
 *   hostResolverRules: extra rules, e.g. 'MAP foo.test 127.0.0.1'; the
 *   insecure.test → 127.0.0.1 mapping is always present.
 * @returns {Promise<import('puppeteer-core').Browser>}
 */
export async function launchChromium({ speechWav, hostResolverRules, extraArgs = [], profile } = {}) {
  const wav = path.resolve(speechWav ?? (await makeSpeech()));
  // Chromium reads only the last --host-resolver-rules, so combine them in one.
  const rules = [`MAP ${INSECURE_HOST} 127.0.0.1`, ...[hostResolverRules ?? []].flat()];
  return launchWithProfile('chromium', {
    browser: 'chrome',
    executablePath: CHROMIUM_BIN,
    headless: true,
    // We pass our own plain --headless (the "new" headless mode since
    // Chromium 132), so drop puppeteer's equivalent --headless=new.
    ignoreDefaultArgs: ['--headless=new'],
    args: [
      '--no-sandbox', // we run as root
      '--headless',
      '--disable-gpu',
      '--no-first-run',
      // Without these Chromium keeps trying to reach the internet (updates,
      // sync, field trials), which this machine refuses.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      `--host-resolver-rules=${rules.join(', ')}`,
      ...extraArgs,
    ],
  }, profile);
}

/**
 * Headless Firefox ESR over WebDriver BiDi with Firefox's fake microphone (a
 * tone, not speech). Its BiDi permissions module does not support the
 * microphone, so the decision is made at launch:
 *   micAllowed true  → getUserMedia succeeds without a prompt;
 *   micAllowed false → getUserMedia rejects with NotAllowedError.
 * Every host name resolves to 127.0.0.1, so http://insecure.test:PORT/ reaches
 * a loopback server while not being a secure context.
 *
 * @param {{ micAllowed?: boolean, prefs?: Record<string, unknown> }} [opts]
 *   prefs: extra Firefox prefs, applied last.
 * @returns {Promise<import('puppeteer-core').Browser>}
 */
export async function launchFirefox({ micAllowed = true, prefs = {}, profile } = {}) {
  const micPrefs = micAllowed
    ? { 'media.navigator.permission.disabled': true }
    : { 'permissions.default.microphone': 2 }; // 2 = block
  const browser = await launchWithProfile('firefox', {
    browser: 'firefox',
    executablePath: FIREFOX_BIN,
    headless: true,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      ...micPrefs,
      'network.dns.forceResolve': '127.0.0.1',
      ...prefs,
    },
  }, profile);
  firefoxMicAllowed.set(browser, micAllowed);
  return browser;
}

/**
 * The browsers every browser test should run in. A test file loops over these.
 * HARNESS_BROWSERS=chromium (comma-separated names) narrows the list locally.
 * @returns {{ name: 'chromium' | 'firefox', launch: (opts?: object) => Promise<import('puppeteer-core').Browser> }[]}
 */
export function browsers() {
  const all = [
    { name: 'chromium', launch: launchChromium },
    { name: 'firefox', launch: launchFirefox },
  ];
  const only = process.env.HARNESS_BROWSERS?.split(',').map((s) => s.trim()).filter(Boolean);
  return only?.length ? all.filter((b) => only.includes(b.name)) : all;
}

// ---------------------------------------------------------------------------
// Pages

/**
 * Opens a page in a fresh isolated browser context (so permissions, storage
 * and cookies do not leak between tests), forwarding the page's console
 * messages and uncaught errors to stderr prefixed with the browser name.
 * Close it with closePage(page) (or by closing the browser).
 * @returns {Promise<import('puppeteer-core').Page>}
 */
export async function newPage(browser) {
  const context = await browser.createBrowserContext();
  let page;
  try {
    page = await context.newPage();
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
  return logConsole(page);
}

/** Copies a page's console and uncaught errors to stderr, marked with the browser's name. */
export function logConsole(page) {
  const prefix = `[${browserName(page.browser())}]`;
  page.on('console', (msg) => {
    process.stderr.write(`${prefix} console.${msg.type()}: ${msg.text()}\n`);
  });
  page.on('pageerror', (err) => {
    process.stderr.write(`${prefix} pageerror: ${err?.stack ?? err}\n`);
  });
  return page;
}

/** Closes a page from newPage() together with its browser context. */
export async function closePage(page) {
  const context = page.browserContext();
  await context.close();
}

/**
 * Sets the microphone permission for `origin` in the page's browser context,
 * before or after the page navigates there.
 *
 * Chromium: CDP Browser.setPermission with the page's browserContextId (without
 * it the setting lands in the default context and a newPage() page never sees
 * it). It is sent over puppeteer's root browser connection on purpose: Chromium
 * drops a session's permission overrides when that CDP session detaches, so a
 * short-lived createCDPSession() + detach() silently reverts to "prompt", which
 * headless Chromium answers with NotAllowedError.
 *   'granted' → getUserMedia({ audio: true }) succeeds;
 *   'denied'  → it rejects with NotAllowedError.
 *
 * Firefox: WebDriver BiDi permissions.setPermission rejects "microphone" as
 * unsupported in Firefox ESR 153, so the decision is made at launch
 * (launchFirefox({ micAllowed })). Here we only check the launch matches the
 * wanted setting (so test code can call this for every browser) and throw
 * otherwise.
 *
 * @param {import('puppeteer-core').Browser} browser
 * @param {import('puppeteer-core').Page} page
 * @param {string} origin e.g. 'http://127.0.0.1:8080' (a URL is reduced to its origin)
 * @param {'granted' | 'denied'} setting
 */
export async function setMicrophone(browser, page, origin, setting) {
  if (setting !== 'granted' && setting !== 'denied') {
    throw new TypeError(`setting must be 'granted' or 'denied', not ${setting}`);
  }
  const name = browserName(browser);
  if (name === 'chromium') {
    // BrowserContext.setPermission is puppeteer's wrapper for exactly
    // Browser.setPermission({ permission, setting, origin, browserContextId }).
    await page.browserContext().setPermission(new URL(origin).origin, {
      permission: { name: 'microphone' },
      state: setting,
    });
    return;
  }
  if (name === 'firefox') {
    const allowed = firefoxMicAllowed.get(browser);
    if (allowed === (setting === 'granted')) return;
    throw new Error(
      `Firefox cannot change the microphone permission at run time; this browser ` +
        `was launched with micAllowed: ${allowed}, so launch another with ` +
        `launchFirefox({ micAllowed: ${setting === 'granted'} })`,
    );
  }
  throw new Error(`setMicrophone: unknown browser ${name}`);
}

/**
 * Evaluates `expression` in the page; it must yield a Blob (or a promise of
 * one), e.g. 'window.lastRecording.blob'. Returns the Blob's bytes.
 *
 * The expression is evaluated through the protocol (not eval() in the page), so
 * it works under a Content-Security-Policy without 'unsafe-eval'. Bytes come
 * over as base64 in slices, so large recordings do not hit message-size limits.
 * @returns {Promise<Buffer>}
 */
export async function blobFromPage(page, expression) {
  const SLICE = 3 * 256 * 1024; // a multiple of 3, so base64 slices concatenate
  const blobHandle = await page.evaluateHandle(expression);
  let bytesHandle;
  try {
    bytesHandle = await page.evaluateHandle(async (blob) => {
      if (!(blob instanceof Blob)) {
        throw new TypeError(`expected a Blob, got ${Object.prototype.toString.call(blob)}`);
      }
      return new Uint8Array(await blob.arrayBuffer());
    }, blobHandle);
    const size = await page.evaluate((bytes) => bytes.length, bytesHandle);
    const parts = [];
    for (let start = 0; start < size; start += SLICE) {
      const b64 = await page.evaluate(
        (bytes, from, to) => {
          const slice = bytes.subarray(from, to);
          let binary = '';
          for (let i = 0; i < slice.length; i += 0x8000) {
            binary += String.fromCharCode.apply(null, slice.subarray(i, i + 0x8000));
          }
          return btoa(binary);
        },
        bytesHandle, start, Math.min(start + SLICE, size),
      );
      parts.push(Buffer.from(b64, 'base64'));
    }
    return Buffer.concat(parts, size);
  } finally {
    await bytesHandle?.dispose().catch(() => {});
    await blobHandle.dispose().catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Media inspection

/**
 * Runs ffprobe on a file (path) or bytes (Buffer).
 * @param {string | Buffer | Uint8Array} input
 * @returns {Promise<{ formatName: string, duration: number, codec: string | undefined,
 *   sampleRate: number, channels: number, raw: object }>}
 *   duration in seconds, from the container or else the audio stream; NaN when
 *   ffprobe reports none ('N/A'), e.g. for a webm recorded with a timeslice.
 */
export async function ffprobe(input) {
  let file = input;
  let tmp;
  if (typeof input !== 'string') {
    tmp = await freshTmpDir('ffprobe-');
    file = path.join(tmp, 'input.bin');
    await fsp.writeFile(file, input);
  }
  try {
    const { stdout } = await execFileP(
      'ffprobe',
      ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const raw = JSON.parse(stdout);
    const format = raw.format ?? {};
    const audio = (raw.streams ?? []).find((s) => s.codec_type === 'audio') ?? {};
    const formatDuration = toNumber(format.duration);
    return {
      formatName: format.format_name,
      duration: Number.isNaN(formatDuration) ? toNumber(audio.duration) : formatDuration,
      codec: audio.codec_name,
      sampleRate: toNumber(audio.sample_rate),
      channels: toNumber(audio.channels),
      raw,
    };
  } finally {
    if (tmp) await removeDir(tmp);
  }
}

// ffprobe prints numbers as strings and 'N/A' when unknown.
function toNumber(value) {
  if (value === undefined || value === null || value === 'N/A' || value === '') return NaN;
  return Number(value);
}

// ---------------------------------------------------------------------------
// The project's server

/**
 * Starts the project's server (build/vocafuse-demo, or $VOCAFUSE_SERVER_BIN)
 * on a free loopback port with a fresh data directory, and waits until it
 * prints its http://127.0.0.1:PORT address.
 *
 * @param {{ testPagesDir: string, extraArgs?: string[], port?: number, dataDir?: string }} opts
 *   port 0 (the default) takes a free one; a dataDir passed in is kept on stop.
 * @returns {Promise<{ url: string, origin: string, port: number, dataDir: string,
 *   logs: string[], stop: () => Promise<void>, kill: () => Promise<void> }>}
 *   url ends in '/'; logs is the server's output so far, one entry per line
 *   ('stdout: …' / 'stderr: …'), and keeps growing while it runs; stop() sends
 *   SIGTERM, SIGKILL after 5 s, waits for exit and removes dataDir (unless it was
 *   passed in); kill() sends SIGKILL and waits for the exit.
 */
export async function startServer({ testPagesDir, extraArgs = [], port = 0, dataDir: ownDataDir }) {
  if (!testPagesDir) throw new TypeError('startServer needs testPagesDir');
  // A caller that passes its data directory (to restart on it) removes it itself.
  const dataDir = ownDataDir ?? await freshTmpDir('server-data-');
  const args = [
    '--addr', `127.0.0.1:${port}`,
    '--data-dir', dataDir,
    '--test-pages', path.resolve(testPagesDir),
    ...extraArgs,
  ];
  const bin = serverBin();
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  const exited = new Promise((r) => child.once('exit', r));
  // 'close' comes after 'exit' once stdout/stderr are drained: the full output.
  const closed = new Promise((r) => child.once('close', r));
  const spawnError = new Promise((r) => child.once('error', r)); // e.g. ENOENT

  // If the test process ends without stop(), do not leave the server running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), SERVER_STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      if (!ownDataDir) await removeDir(dataDir);
    })();
    return stopping;
  };
  // SIGKILL: the crash a restart must recover from. The data directory stays.
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    process.removeListener('exit', killOnExit);
  };

  const address = new Promise((resolve) => {
    collectLines(child.stdout, (line) => {
      logs.push(`stdout: ${line}`);
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m && Number(m[1]) > 0) resolve(Number(m[1]));
    });
    collectLines(child.stderr, (line) => logs.push(`stderr: ${line}`));
  });

  let timer;
  const outcome = await Promise.race([
    address.then((port) => ({ port })),
    spawnError.then((err) => ({
      error: `could not start ${bin}: ${err.message}` +
        (err.code === 'ENOENT' ? ' (build it first, or set VOCAFUSE_SERVER_BIN)' : ''),
    })),
    exited.then(() => Promise.race([closed, delay(500)]))
      .then(() => ({ error: `${bin} exited (code ${child.exitCode}, signal ${child.signalCode}) before listening` })),
    new Promise((r) => {
      timer = setTimeout(
        () => r({ error: `${bin} printed no http://127.0.0.1:PORT within ${SERVER_START_TIMEOUT_MS} ms` }),
        SERVER_START_TIMEOUT_MS,
      );
    }),
  ]);
  clearTimeout(timer);

  if (outcome.error) {
    await stop();
    throw new Error(`${outcome.error}\n--- server output ---\n${logs.join('\n')}`);
  }
  const origin = `http://127.0.0.1:${outcome.port}`;
  return { url: `${origin}/`, origin, port: outcome.port, dataDir, logs, stop, kill };
}

function collectLines(stream, onLine) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) onLine(line.replace(/\r$/, ''));
  });
  stream.on('end', () => { if (pending) onLine(pending); });
}

/** A loopback port that nothing listens on now: for a server that must come back on the same port, or an API that is not there. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

// The browser side of `make bench`: what a page pays for the SDK, each figure beside a
// yardstick measured in the same run on the same machine, and the ratio. Headless
// Chromium with the fake microphone (speech), the real local server, several rounds:
// the median, with the fastest and the slowest round beside it.
//
//   node bench/browser.mjs <sdk-dir>     (the SDK's files plus bare.wasm and the twins)
//
// BENCH_ROUNDS (default 5) sets the rounds of the short figures, BENCH_LONG_ROUNDS
// (default 2) those of the 60-second notes. At the end the table replaces the one between
// <!-- bench:begin --> and <!-- bench:end --> in docs/performance.md (BENCH_DOC names
// another file); a run of some figures only (BENCH_ONLY) writes nothing unless BENCH_DOC is set.
import http from 'node:http';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

import { CHROMIUM_BIN, launchChromium, startServer } from '../test/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.argv[2];
if (!sdkDir) {
  console.error('usage: node bench/browser.mjs <sdk-dir>');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const LONG_ROUNDS = Number(process.env.BENCH_LONG_ROUNDS || 2);
// A slow mobile uplink.
const SLOW = { upload: 750_000 / 8, download: 1_600_000 / 8, latency: 100 };

// Each round is a new visitor (a new browser context): more than the 20 a minute the server
// lets one address make by default.
const server = await startServer({
  testPagesDir: HERE, extraArgs: ['--sdk-dir', path.resolve(sdkDir), '--new-visitors-per-minute', '10000'],
});
const rows = [];

// BENCH_ONLY=bytes,ready,click,stop,memory runs some of the figures (while working on one).
const only = new Set((process.env.BENCH_ONLY || 'bytes,ready,click,stop,memory').split(','));
// A figure that fails is a row saying why; the others are still measured.
async function figure(name, run) {
  if (!only.has(name)) return;
  try {
    await run();
  } catch (err) {
    rows.push({ figure: `${name}: failed`, ours: String(err.message || err).split('\n')[0], yardstick: '' });
  }
}
try {
  await figure('bytes', bytesOverTheWire);
  await figure('ready', ready);
  await figure('click', clickToRecording);
  await figure('stop', () => stopToUploaded(5, 'unthrottled', ROUNDS));
  await figure('stop', () => stopToUploaded(60, 'unthrottled', LONG_ROUNDS));
  await figure('stop', () => stopToUploaded(60, 'throttled', LONG_ROUNDS));
  await figure('memory', memory);
} finally {
  await server.stop();
}
await writeTable(printTable());

// ---- The figures ----

// What the server sends a browser that accepts brotli, body bytes only.
async function bytesOverTheWire() {
  const sizes = {};
  for (const file of ['vocafuse.mjs', 'vocafuse.wasm', 'wasm_exec.js', 'vocafuse-worklet.js', 'bare.wasm']) {
    sizes[file] = await sentBytes(`${server.origin}/sdk/${file}`);
  }
  const sdk = sizes['vocafuse.mjs'] + sizes['vocafuse.wasm'] + sizes['wasm_exec.js'] + sizes['vocafuse-worklet.js'];
  const bare = sizes['bare.wasm'] + sizes['wasm_exec.js'];
  const detail = Object.entries(sizes).map(([f, n]) => `${f} ${kb(n)}`).join(', ');
  rows.push({ figure: 'bytes over the wire (brotli)', ours: kb(sdk), yardstick: `${kb(bare)} bare + wasm_exec.js`, ratio: sdk / bare, note: detail });
}

function sentBytes(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'Accept-Encoding': 'gzip, deflate, br, zstd' } }, (res) => {
      let n = 0;
      res.on('data', (d) => { n += d.length; });
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

// Navigation start → sdk.ready (the bare page: → the program ran). Each round a new
// browser with a new profile: the first load has nothing cached; the repeat visit is a
// second tab of the same browser 5 s later, with its HTTP cache and compiled code.
async function ready() {
  await writeHintedPage();
  const first = { sdk: [], bare: [], hinted: [] };
  const repeat = { sdk: [], bare: [], hinted: [] };
  const loadTasks = { sdk: [], bare: [], hinted: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const which of ['bare', 'sdk', 'generated/hinted']) {
      const browser = await launchChromium();
      try {
        const [tab] = await browser.pages();
        const a = await loadUntilReady(tab, page(which));
        const key = which.replace('generated/', '');
        first[key].push(a.ready);
        loadTasks[key].push(...a.longTasks.filter((t) => t.start < a.ready));
        // A visitor comes back later, not within the same second: the browser keeps the
        // compiled code once the first visit has run a while (V8 caches a module a few
        // seconds after it starts optimising it).
        await delay(5000);
        const again = await browser.newPage();
        repeat[key].push((await loadUntilReady(again, page(which))).ready);
      } finally {
        await browser.close();
      }
    }
  }
  rows.push(timeRow('ready, first load', first.sdk, first.bare, 'bare program', 1.2));
  rows.push(timeRow('ready, repeat visit', repeat.sdk, first.sdk, 'first load', 0.5));
  rows.push(timeRow('  bare program, repeat visit', repeat.bare, first.bare, 'its first load'));
  rows.push(timeRow('  with the preload hints, first load', first.hinted, first.bare, 'bare program'));
  rows.push(taskRow('long tasks, load → ready', loadTasks.sdk, loadTasks.bare, 'bare page', ROUNDS));
}

// The SDK's page with docs/performance.md's hints (build/sdk/preload.html) at the top of its head.
async function writeHintedPage() {
  const hints = await readFile(path.join(sdkDir, 'preload.html'), 'utf8');
  const plain = await readFile(path.join(HERE, 'pages', 'sdk.html'), 'utf8');
  await mkdir(path.join(HERE, 'pages', 'generated'), { recursive: true });
  await writeFile(path.join(HERE, 'pages', 'generated', 'hinted.html'),
    plain.replace('<head>', `<head>\n${hints}`).replace('a page that records with the SDK', 'the SDK with preload hints'));
}

async function loadUntilReady(tab, url) {
  await tab.goto(url);
  await tab.waitForFunction(() => window.marks.ready !== undefined, { polling: 50, timeout: 60_000 });
  return tab.evaluate(() => ({ ready: window.marks.ready, longTasks: window.longTasks }));
}

// The click → onStart (the hand-written page: MediaRecorder's start event), on a page
// that is ready, in a fresh context each round (no token, no microphone open before).
async function clickToRecording() {
  const took = { sdk: [], handwritten: [] };
  const browser = await launchChromium({ extraArgs: ['--use-fake-ui-for-media-stream'] });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of ['handwritten', 'sdk']) {
        const tab = await freshTab(browser, which);
        await tab.click('#record-btn');
        await until(tab, 'started', 1);
        const m = await marksOf(tab);
        took[which].push(m.started[0] - m.clicks[0]);
        await tab.click('#record-btn');
        await until(tab, 'uploaded', 1);
        await tab.browserContext().close();
      }
    }
  } finally {
    await browser.close();
  }
  rows.push(timeRow('click → recording', took.sdk, took.handwritten, 'hand-written page', 1.1));
}

// Both pages record the same speech at once for `seconds`, are stopped at the same
// moment, and each times its stop click → stored on the server. Throttled: each tab has
// its own slow uplink (CDP network emulation is per tab).
async function stopToUploaded(seconds, network, rounds) {
  const took = { sdk: [], handwritten: [] };
  const sizes = { sdk: [], handwritten: [] };
  const toFile = { sdk: [], handwritten: [] }; // stop click → the file in hand (onStop)
  const recording = [];
  const stopping = [];
  const browser = await launchChromium({ extraArgs: ['--use-fake-ui-for-media-stream'] });
  try {
    for (let round = 0; round < rounds; round++) {
      const tabs = {};
      for (const which of ['handwritten', 'sdk']) {
        tabs[which] = await freshTab(browser, which);
        if (network === 'throttled') await tabs[which].emulateNetworkConditions(SLOW);
      }
      await Promise.all(Object.values(tabs).map((t) => t.click('#record-btn')));
      await Promise.all(Object.values(tabs).map((t) => until(t, 'started', 1)));
      // The note's length (what is measured comes after); a 60 s note is stopped at 59 s,
      // before the SDK's limit stops it by itself.
      await delay(Math.min(seconds, 59) * 1000);
      await Promise.all(Object.values(tabs).map((t) => t.click('#record-btn')));
      await Promise.all(Object.values(tabs).map((t) => until(t, 'uploaded', 1, 300_000)));
      for (const [which, tab] of Object.entries(tabs)) {
        const m = await marksOf(tab);
        took[which].push(m.uploaded[0] - m.clicks[1]);
        sizes[which].push(m.stopped[0].size);
        toFile[which].push(m.stopped[0].t - m.clicks[1]);
        if (which === 'sdk') {
          recording.push(m.longTasks.filter((t) => t.start >= m.started[0] && t.start < m.clicks[1]));
          stopping.push(m.longTasks.filter((t) => t.start >= m.clicks[1] && t.start <= m.uploaded[0]));
        }
        await tab.browserContext().close();
      }
    }
  } finally {
    await browser.close();
  }
  const label = `stop → uploaded, ${seconds} s note${network === 'throttled' ? ', 750 kbit/s up, 100 ms' : ''}`;
  const goal = seconds === 60 ? 1.2 : undefined;
  const row = timeRow(label, took.sdk, took.handwritten, 'hand-written fetch PUT', goal);
  row.note = `sizes ${kb(median(sizes.sdk))} (SDK) and ${kb(median(sizes.handwritten))} (by hand); ` +
    `stop → the file in hand ${median(toFile.sdk).toFixed(0)} ms (SDK, onStop) and ${median(toFile.handwritten).toFixed(0)} ms (by hand)`;
  rows.push(row);
  rows.push(taskRow(`long tasks while recording ${seconds} s${network === 'throttled' ? ' (throttled)' : ''}`, recording.flat(), null, '', rounds, 0));
  rows.push(taskRow(`long tasks, stop → uploaded${network === 'throttled' ? ' (throttled)' : ''}`, stopping.flat(), null, '', rounds, 0));
}

// The wasm's memory after the 2nd and the 20th note of one page (1 s each, uploaded).
async function memory() {
  const browser = await launchChromium({ extraArgs: ['--use-fake-ui-for-media-stream'] });
  const at = {};
  try {
    const tab = await freshTab(browser, 'sdk');
    for (let n = 1; n <= 20; n++) {
      await tab.click('#record-btn');
      await until(tab, 'started', n);
      await delay(1000);
      await tab.click('#record-btn');
      await until(tab, 'uploaded', n);
      if (n === 2 || n === 20) at[n] = await tab.evaluate(async () => (await window.sdk.constructor.diagnostics()).wasmMemory);
    }
  } finally {
    await browser.close();
  }
  rows.push({ figure: 'wasm memory after the 20th note', ours: mb(at[20]), yardstick: `${mb(at[2])} after the 2nd`, ratio: at[20] / at[2], goal: 1.1 });
}

// ---- Helpers ----

function page(name) {
  return `${server.origin}/test/pages/${name}.html`;
}

async function freshTab(browser, which) {
  const context = await browser.createBrowserContext();
  const tab = await context.newPage();
  tab.on('pageerror', (err) => process.stderr.write(`[bench ${which}] ${err}\n`));
  await loadUntilReady(tab, page(which));
  return tab;
}

function until(tab, kind, n, timeout = 60_000) {
  return tab.waitForFunction((k, c) => window.marks[k].length >= c || (window.errors || []).length > 0,
    { polling: 50, timeout }, kind, n).then(async () => {
    const errors = await tab.evaluate(() => window.errors || []);
    if (errors.length) throw new Error(`the page reported ${errors.join(', ')}`);
  });
}

function marksOf(tab) {
  return tab.evaluate(() => ({ ...window.marks, longTasks: window.longTasks }));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function ms(xs) {
  return `${median(xs).toFixed(0)} ms [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
}

function kb(n) {
  return `${(n / 1024).toFixed(1)} KB`;
}

function mb(n) {
  return `${(n / 1048576).toFixed(1)} MB`;
}

function timeRow(figure, ours, yardstick, name, goal) {
  return { figure, ours: ms(ours), yardstick: `${ms(yardstick)} ${name}`, ratio: median(ours) / median(yardstick), goal };
}

// Long tasks: how many a round (median over rounds is not kept: the total and the longest).
function taskRow(figure, ours, yardstick, name, rounds, goalLongest) {
  const describe = (tasks) => (tasks.length ? `${tasks.length} in ${rounds} rounds, longest ${Math.max(...tasks.map((t) => t.duration)).toFixed(0)} ms` : `none in ${rounds} rounds`);
  return {
    figure,
    ours: describe(ours),
    yardstick: yardstick ? `${describe(yardstick)} ${name}` : '',
    ratio: undefined,
    goal: goalLongest === 0 ? 'none > 50 ms' : undefined,
  };
}

function printTable() {
  const cells = rows.map((r) => [
    r.figure,
    r.ours,
    r.yardstick,
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
    r.goal === undefined ? '' : typeof r.goal === 'number' ? `≤ ${r.goal}×` : r.goal,
  ]);
  const head = ['figure', 'SDK (median [min–max])', 'yardstick', 'ratio', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  const table = [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
    '',
    ...rows.filter((x) => x.note).map((r) => `- ${r.figure}: ${r.note}`),
  ].join('\n');
  console.log(`\nbrowser benchmark: ${ROUNDS} rounds (${LONG_ROUNDS} for 60 s notes)\n`);
  console.log(table);
  return table;
}

// The table goes into docs/performance.md between its markers, with what it was measured on.
async function writeTable(table) {
  const doc = process.env.BENCH_DOC || (process.env.BENCH_ONLY ? '' : path.resolve(HERE, '../../docs/performance.md'));
  if (!doc) {
    console.log('\nBENCH_ONLY ran some figures: docs/performance.md left as it was');
    return;
  }
  const version = await new Promise((resolve) => {
    // A Chromium that cannot say its version still measured: the line just lacks it.
    execFile(CHROMIUM_BIN, ['--version'], (err, out) => resolve(err ? 'Chromium' : out.trim().split(/\s+/).slice(0, 2).join(' ')));
  });
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const text = await readFile(doc, 'utf8');
  const i = text.indexOf(begin), j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${doc} has no ${begin} … ${end}: the table was not written`);
  const when = new Date().toISOString().slice(0, 10);
  const body = `\nLast run ${when}: ${version}, ${os.cpus().length} cores, ${ROUNDS} rounds (${LONG_ROUNDS} for the 60 s notes).\n\n${table}\n`;
  await writeFile(doc, text.slice(0, i + begin.length) + body + text.slice(j));
  console.log(`\nwrote the table into ${path.relative(process.cwd(), doc)}`);
}

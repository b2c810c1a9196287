// Helpers the browser tests share: waiting on a test page's log, and reading what it recorded.
// openPage, waitFor and their kin take a puppeteer page; the helpers from waitForEvent on
// take a driver's Tab (driver.mjs), so they run in every engine.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';

import { closePage, ffprobe, newPage, setMicrophone } from './harness.mjs';

// A fresh page in a new browser context (a new visitor), the microphone `mic` ('granted',
// 'denied'; null leaves the browser's own default) on each of `origins`.
export async function pageWithMicrophone(browser, origins, mic = 'granted') {
  const page = await newPage(browser);
  try {
    if (mic) {
      for (const origin of [origins].flat()) await setMicrophone(browser, page, origin, mic);
    }
  } catch (err) {
    await closePage(page);
    throw err;
  }
  return page;
}

// The one way the browser tests open a page: a fresh page with the microphone `mic` on
// url's origin, `before(page)` (a viewport, scripts to run first), then url, once
// ready() holds in the page (a test page's pageReady by default).
export async function openPage(browser, url, {
  mic = 'granted', before = async () => {}, ready = () => window.pageReady === true, timeout = 15_000,
} = {}) {
  const page = await pageWithMicrophone(browser, new URL(url).origin, mic);
  await before(page);
  await page.goto(url);
  await page.waitForFunction(ready, { timeout, polling: 50 });
  return page;
}

// A test page of js/test/pages (file may carry a query) served by `server` or from
// `origin`, the microphone `mic`, once the page says it is ready.
export function openTestPage(browser, server, file, mic = 'granted', { origin = server.origin, timeout } = {}) {
  return openPage(browser, `${origin}/test/pages/${file}`, { mic, timeout });
}

// A generous default: on a loaded two-core machine a page can take long to get there; a
// test that passes waits only as long as it must.
export const waitFor = (page, fn, arg, timeout = 30_000) => page.waitForFunction(fn, { timeout, polling: 50 }, arg);
export const waitForEvent = (tab, kind, count = 1, timeout) => tab.waitForEvent(kind, count, timeout);
export const waitForState = (tab, state, timeout) =>
  tab.waitFor((s) => window.control && window.control.state === s, state, timeout);

// The fields of the page's errors, as plain data, with the checks only the page can make.
export function errorsOf(tab) {
  return tab.evaluate(() => window.events('error').map((e) => ({
    code: e.arg.code,
    message: e.arg.message,
    userMessage: e.arg.userMessage,
    details: e.arg.details,
    timestamp: e.arg.timestamp,
    retryable: e.arg.retryable,
    isVocaFuseError: e.arg instanceof window.VocaFuseError,
    isError: e.arg instanceof Error,
    name: e.arg.name,
    hasStack: typeof e.arg.stack === 'string',
    receivedAt: e.now,
    t: e.t,
  })));
}

// Loads window.lastBlob (recordTake's) into an <audio> element, or with `player` reads the
// <vocafuse-recorder>'s player once it has the stored copy: its duration, and where a seek to
// the middle lands. Each wait is bounded, so a media element that never answers fails here,
// by name, rather than in the driver's protocol timeout. A seek that has not landed in 5 s
// is asked once more (headless Firefox has been seen to drop one), as a person would click
// again.
export async function playable(tab, { player = false } = {}) {
  // The element's preview gives way to the stored copy once loaded and not playing.
  if (player) {
    await tab.waitFor(() => {
      const el = document.querySelector('vocafuse-recorder');
      return el.shadowRoot.querySelector('[part=player]').src === el.voicenote?.audio_url;
    }, undefined, 15_000);
  }
  return tab.evaluate(async (fromPlayer) => {
    const audio = fromPlayer ? document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=player]')
      : new Audio(URL.createObjectURL(window.lastBlob));
    const event = (name, ms) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the <audio> element: no ${name} within ${ms / 1000} s`)), ms);
      audio.addEventListener(name, () => { clearTimeout(timer); resolve(); }, { once: true });
      audio.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error(`the <audio> element cannot load it: ${audio.error && audio.error.message}`));
      }, { once: true });
    });
    if (audio.readyState < HTMLMediaElement.HAVE_METADATA) await event('loadedmetadata', 15_000);
    const duration = audio.duration;
    const seek = () => { const landed = event('seeked', 5_000); audio.currentTime = duration / 2; return landed; };
    await seek().catch(seek);
    return { duration, seekedTo: audio.currentTime, src: audio.src };
  }, player);
}

// Whether an AudioContext made during a click runs in this browser (it needs an audio device).
export async function audioRuns(tab) {
  await tab.evaluate(() => {
    document.body.addEventListener('click', () => {
      window.probeAudio = new AudioContext();
      window.probeAudio.resume();
    }, { once: true });
  });
  await tab.click('body');
  return tab.evaluate(async () => {
    // A context that can run starts within moments of resume(): wait for its statechange,
    // bounded, since one that cannot run (no audio device) never fires it.
    const ctx = window.probeAudio;
    if (ctx.state !== 'running') {
      await Promise.race([
        new Promise((resolve) => ctx.addEventListener('statechange', resolve, { once: true })),
        new Promise((resolve) => setTimeout(resolve, 3000)),
      ]);
    }
    const running = window.probeAudio.state === 'running';
    await window.probeAudio.close();
    return running;
  });
}

// Records one take with the given options for about seconds (running during() once the
// recorder has started), and returns what onStop delivered, with the time really
// recorded, and ffprobe's reading of the blob.
export async function recordTake(tab, options, seconds, during = async () => {}) {
  await tab.evaluate((o) => window.attach(o), options);
  await tab.click('#record-btn');
  await tab.waitForEvent('start');
  await during();
  await delay(seconds * 1000);
  await tab.click('#record-btn');
  await tab.waitForEvent('stop');
  const rec = await tab.evaluate(() => {
    const stop = window.events('stop')[0];
    const start = window.events('start')[0];
    window.lastBlob = stop.arg.blob;
    return {
      format: stop.arg.format, mimeType: stop.arg.mimeType, duration: stop.arg.duration, size: stop.arg.size,
      blobType: stop.arg.blob.type, blobSize: stop.arg.blob.size, id: stop.arg.id,
      recorded: (window.events('state').find((e) => e.arg === 'processing').t - start.t) / 1000,
      states: window.events('state').map((e) => e.arg),
      progress: window.events('progress').length,
    };
  });
  return { rec, probe: await ffprobe(await tab.blob('window.lastBlob')) };
}

export async function assertNoLiveTracks(tab, what) {
  // Tracks end synchronously with stop(); give the browser a moment to settle late opens.
  await tab.waitFor(() => window.liveTracks() === 0, undefined, 5_000).catch(() => {});
  const [live, opened] = await tab.evaluate(() => [window.liveTracks(), window.openedTracks.length]);
  assert.equal(live, 0, `${what}: ${live} of ${opened} microphone tracks still live`);
}

// WebKitGTK's automation grants the mock microphone, and its WebDriver has no permissions
// command: a permissions policy refuses it the way Safari refuses a frame. Loads the test
// page `file` into an iframe of the page `tab` shows, whose allow attribute names no
// microphone, as window.refused, once that page says it is ready. tab: a driver's Tab, or
// webkit.mjs's WebKit (the same evaluate and waitFor).
export async function loadInRefusingFrame(tab, file) {
  await tab.evaluate(async (src) => {
    const frame = document.createElement('iframe');
    frame.setAttribute('allow', "microphone 'none'");
    frame.src = src;
    const loaded = new Promise((resolve) => { frame.onload = resolve; });
    document.body.append(frame);
    await loaded;
    window.refused = frame.contentWindow;
  }, `/test/pages/${file}`);
  await tab.waitFor(() => window.refused.pageReady === true, undefined, 15_000);
}


// The server's fault plan (--fault-injection): plan adds a fault, null clears them all.
export async function setFaults(server, plan) {
  const res = await fetch(`${server.origin}/_faults`, { method: plan ? 'POST' : 'DELETE', body: plan && JSON.stringify(plan) });
  assert.ok(res.ok, `/_faults answered ${res.status}`);
}

// The server's JSON log lines (all its runs, from line `from` on), parsed.
export function serverLog(server, from = 0) {
  return server.logs.slice(from)
    .filter((line) => line.startsWith('stderr: {'))
    .map((line) => JSON.parse(line.slice('stderr: '.length)));
}

// The request log lines (from line `from` on).
export const requestsOf = (server, from = 0) => serverLog(server, from).filter((e) => e.msg === 'request');

// The SDK delivers in two steps (POST /v1/upload, then PUTs to presigned URLs): the
// server logs each session it hands out with the voice note's id ("upload session"), which
// is how a recording is followed from its POST to the PUTs of its sessions.
export function sessionsOf(server, id) {
  return serverLog(server).filter((e) => e.msg === 'upload session' && e.voicenote_id === id);
}

// Every POST /v1/upload from line `from` on (a planned fault's included, which names no note).
export const uploadPosts = (server, from = 0) =>
  requestsOf(server, from).filter((e) => e.method === 'POST' && e.path === '/v1/upload');

// Every PUT of the bytes from line `from` on, to any session.
export const sessionPuts = (server, from = 0) =>
  requestsOf(server, from).filter((e) => e.method === 'PUT' && e.path.startsWith('/v1/upload-sessions/'));

// Whether a PUT's path is one of the session's URLs (the single one or a part's).
const ofSession = (path, uploadId) =>
  path === `/v1/upload-sessions/${uploadId}` || path.startsWith(`/v1/upload-sessions/${uploadId}/parts/`);

// Every PUT of one voice note's bytes in the server's log (all its runs, all its sessions):
// a recording's upload, as the one-request PUT /v1/voicenotes/{id} was. A 2xx of a single
// upload is the recording stored; a multipart one has one 2xx a part.
export function putsOf(server, id) {
  const uploads = new Set(sessionsOf(server, id).map((e) => e.upload_id));
  return requestsOf(server).filter((e) => e.method === 'PUT' && [...uploads].some((u) => ofSession(e.path, u)));
}

// The POSTs that opened or found a session of the voice note (those a fault answered name
// none: see uploadPosts).
export function postsOf(server, id) {
  const requests = new Set(sessionsOf(server, id).map((e) => e.request_id));
  return requestsOf(server).filter((e) => e.method === 'POST' && e.path === '/v1/upload' && requests.has(e.request_id));
}

// Runs in the page (recorder.html): attaches with `options` and lets the page itself pause at
// the SDK's own 2 s and stop at `window.plan.stopAt`, set by the test before it resumes. A
// test driver's round trip on a loaded machine would otherwise be recorded as well.
export function attachPausingAt2s(options) {
  const plan = { pauseAt: 2, stopAt: null };
  window.plan = plan;
  window.attach({
    ...options,
    onProgress: (p) => {
      window.note('progress')(p);
      if (plan.pauseAt !== null && p.elapsed >= plan.pauseAt) {
        plan.pauseAt = null;
        window.control.pause();
      } else if (plan.stopAt !== null && p.elapsed >= plan.stopAt) {
        plan.stopAt = null;
        window.control.stop();
      }
    },
  });
}

// Runs in the page (recorder.html): attaches, and at the SDK's own 2 s ends the microphone's
// track as an unplugged device does (stop() fires no `ended`, so it is dispatched), without
// a test driver's round trip recorded in between.
export function attachLosingTheMicrophoneAt2s() {
  let lost = false;
  window.attach({
    onProgress: (p) => {
      window.note('progress')(p);
      if (lost || p.elapsed < 2) return;
      lost = true;
      const track = window.openedTracks[window.openedTracks.length - 1];
      track.stop();
      track.dispatchEvent(new Event('ended'));
    },
  });
}

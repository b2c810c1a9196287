// The browser side of `make bench`: what a page pays for the SDK, each figure beside a
// yardstick measured in the same run on the same machine, the ratio, and the goal of it
// (docs/performance.md). Headless Chromium with the fake microphone (speech), the real
// local server, several rounds: the median, with the fastest and the slowest round beside it.
//
//   node bench/browser.mjs <sdk-dir>     (the SDK's files plus bare.wasm and the twins)
//
// BENCH_ROUNDS (default 5) sets the rounds of the short figures, BENCH_LONG_ROUNDS
// (default 2) those of the 60-second notes. BENCH_ONLY=bytes,ready,click,stop,memory runs
// some figures (stop5 and stop60 some of the stop figures). BENCH_TIMELINE=1 prints, for
// the median round of ready, of the click and of each stop figure, what happened in that
// window on both pages: the page's marks, the SDK's performance marks, the requests
// (Resource Timing), long tasks and long animation frames. Progress goes to stderr, one
// line a round. At the end the table replaces the one between <!-- bench:begin --> and
// <!-- bench:end --> in docs/performance.md (BENCH_DOC names another file); a run of some
// figures only (BENCH_ONLY) writes nothing unless BENCH_DOC is set.
import http from 'node:http';
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.argv[2];
if (!sdkDir) {
  console.error('usage: node bench/browser.mjs <sdk-dir>   (make bench-browser makes the directory)');
  process.exit(2);
}
// What the run needs, said plainly when it is missing (make bench-browser installs both).
const harness = await import('../test/harness.mjs').catch((err) => {
  if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.error(`bench: ${err.message}\nbench: the JavaScript tools are missing: make bench-browser installs them (or: cd js && npm ci)`);
  process.exit(2);
});
const { CHROMIUM_BIN, launchChromium, startServer } = harness;
await access(CHROMIUM_BIN).catch(() => {
  console.error(`bench: no Chromium at ${CHROMIUM_BIN}: make bench-browser installs Debian's chromium, or set CHROMIUM_BIN`);
  process.exit(2);
});
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const LONG_ROUNDS = Number(process.env.BENCH_LONG_ROUNDS || 2);
const TIMELINE = !['', '0', 'false'].includes(process.env.BENCH_TIMELINE || '');
// A slow mobile uplink.
const SLOW = { upload: 750_000 / 8, download: 1_600_000 / 8, latency: 100 };
// The goals of issue 26: ratios to the yardstick, and the longest task allowed.
const GOAL = { ready: 1.2, repeat: 0.5, click: 1.1, stop: 1.2, memory: 1.1, longTask: 50 };
// The wasm's brotli size over the bare program's (make test-size's figure) may not grow
// past what it was when the goals were set.
const BROTLI_RATIO = 1.289;

const began = Date.now();
const only = new Set((process.env.BENCH_ONLY || 'bytes,ready,click,stop,memory').split(','));
const rows = [];
const timelines = [];

// Each round is a new visitor (a new browser context): more than the 20 a minute the server
// lets one address make by default.
const server = await startServer({
  testPagesDir: HERE, extraArgs: ['--sdk-dir', path.resolve(sdkDir), '--new-visitors-per-minute', '10000'],
});
let machine;
try {
  machine = await describeMachine();
  progress(`${machine.line}; ${roundsOf(ROUNDS)} (${LONG_ROUNDS} for the 60 s notes)${TIMELINE ? ', with timelines' : ''}`);
  await figure(['bytes'], bytesOverTheWire);
  await figure(['ready'], ready);
  await figure(['click'], clickToRecording);
  await figure(['stop', 'stop5'], () => stopToUploaded(5, false, ROUNDS));
  await figure(['stop', 'stop5'], () => stopToUploaded(5, true, ROUNDS));
  await figure(['stop', 'stop60'], () => stopToUploaded(60, false, LONG_ROUNDS));
  await figure(['stop', 'stop60'], () => stopToUploaded(60, true, LONG_ROUNDS));
  await figure(['memory'], memory);
} finally {
  await server.stop();
}
const table = printTable();
if (TIMELINE) for (const t of timelines) printTimeline(t);
await writeTable(table);

// A figure that fails is a row saying why; the others are still measured.
async function figure(names, run) {
  if (!names.some((n) => only.has(n))) return;
  try {
    await run();
  } catch (err) {
    rows.push({ figure: `${names[names.length - 1]}: failed`, ours: String(err.message || err).split('\n')[0], yardstick: '' });
  }
}

// The browser's own version (what puppeteer's browser.version() says) and the machine.
async function describeMachine() {
  const browser = await launchChromium();
  let version;
  try {
    version = await browser.version();
  } finally {
    await browser.close();
  }
  const m = /Chrome\/(.+)$/.exec(version);
  const name = m ? `Chromium ${m[1]}, headless` : version;
  const cpus = os.cpus();
  const cores = `${cpus.length} cores${cpus[0] ? ` (${cpus[0].model.trim()})` : ''}`;
  return { name, cores, load: os.loadavg()[0], line: `${name}, ${cores}, load average ${os.loadavg()[0].toFixed(2)}` };
}

// One line to stderr per figure and round: the run is long and the table comes at its end.
function progress(message) {
  const s = Math.round((Date.now() - began) / 1000);
  process.stderr.write(`bench [${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}]: ${message}\n`);
}

// ---- The figures ----

// What the server sends a browser that accepts brotli, body bytes only; and the wasm's
// brotli ratio, make test-size's figure (the same twins, written by wasmsize -write).
async function bytesOverTheWire() {
  progress('bytes over the wire');
  const sizes = {};
  for (const file of ['vocafuse.mjs', 'vocafuse.wasm', 'wasm_exec.js', 'vocafuse-worklet.js', 'bare.wasm']) {
    sizes[file] = await sentBytes(`${server.origin}/sdk/${file}`);
  }
  const sdk = sizes['vocafuse.mjs'] + sizes['vocafuse.wasm'] + sizes['wasm_exec.js'] + sizes['vocafuse-worklet.js'];
  const bare = sizes['bare.wasm'] + sizes['wasm_exec.js'];
  const detail = Object.entries(sizes).map(([f, n]) => `${f} ${kb(n)}`).join(', ');
  rows.push({ figure: 'bytes over the wire (brotli)', ours: kb(sdk), yardstick: `${kb(bare)} bare + wasm_exec.js`, ratio: sdk / bare, note: detail });
  const [wasm, bareWasm] = await Promise.all(['vocafuse.wasm.br', 'bare.wasm.br'].map(async (f) => (await stat(path.join(sdkDir, f))).size));
  rows.push({
    figure: 'the wasm, brotli (make test-size)', ours: kb(wasm), yardstick: `${kb(bareWasm)} bare.wasm`,
    ratio: wasm / bareWasm, digits: 3, goal: BROTLI_RATIO,
  });
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
  const seen = { sdk: [], bare: [] };
  for (let round = 0; round < ROUNDS; round++) {
    progress(`ready, first load and repeat visit, round ${round + 1}/${ROUNDS}`);
    for (const which of ['bare', 'sdk', 'generated/hinted']) {
      const browser = await launchChromium();
      try {
        const [tab] = await browser.pages();
        await loadUntilReady(tab, page(which));
        const a = await snapshot(tab);
        const key = which.replace('generated/', '');
        first[key].push(a.marks.ready);
        loadTasks[key].push(...a.longTasks.filter((t) => t.start < a.marks.ready));
        if (seen[key]) seen[key].push(a);
        // A visitor comes back later, not within the same second: the browser keeps the
        // compiled code once the first visit has run a while (V8 caches a module a few
        // seconds after it starts optimising it).
        await delay(5000);
        const again = await browser.newPage();
        await loadUntilReady(again, page(which));
        repeat[key].push((await snapshot(again)).marks.ready);
      } finally {
        await browser.close();
      }
    }
  }
  rows.push(timeRow('ready, first load', first.sdk, first.bare, 'bare program', GOAL.ready));
  rows.push(timeRow('ready, repeat visit', repeat.sdk, first.sdk, 'first load', GOAL.repeat));
  rows.push(timeRow('  bare program, repeat visit', repeat.bare, first.bare, 'its first load'));
  rows.push(timeRow('  with the preload hints, first load', first.hinted, first.bare, 'bare program'));
  rows.push(taskCountRow('long tasks, load → ready', loadTasks.sdk, loadTasks.bare, 'bare page', ROUNDS));
  const i = medianIndex(first.sdk);
  const j = medianIndex(first.bare);
  timelines.push({
    title: `ready, first load (the median round of each page), ms from the navigation's start`,
    pages: [
      { name: `SDK page, round ${i + 1}`, snap: seen.sdk[i], from: 0, to: seen.sdk[i].marks.ready },
      { name: `bare page, round ${j + 1}`, snap: seen.bare[j], from: 0, to: seen.bare[j].marks.ready },
    ],
  });
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
}

// The click → onStart (the hand-written page: MediaRecorder's start event), on a page
// that is ready, in a fresh context each round (no token, no microphone open before); then
// a stop at once, and the long tasks from the click to onUploaded.
async function clickToRecording() {
  const took = { sdk: [], handwritten: [] };
  const snaps = { sdk: [], handwritten: [] };
  const browser = await launchRecordingBrowser();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      progress(`click → recording, round ${round + 1}/${ROUNDS}`);
      for (const which of turns(round)) {
        const tab = await freshTab(browser, which);
        await tab.click('#record-btn');
        await until(tab, 'started', 1);
        await tab.click('#record-btn');
        await until(tab, 'uploaded', 1);
        const s = await snapshot(tab);
        took[which].push(s.marks.started[0] - s.marks.clicks[0]);
        snaps[which].push(s);
        await tab.browserContext().close();
      }
    }
  } finally {
    await browser.close();
  }
  rows.push(timeRow('click → recording', took.sdk, took.handwritten, 'hand-written page', GOAL.click));
  rows.push(longestTaskRow('longest task, click → onUploaded (click rounds)', snaps, ROUNDS));
  const i = medianIndex(took.sdk);
  timelines.push(recordingTimeline(`click → recording, round ${i + 1}/${ROUNDS} (the SDK's median), ms from the click`,
    snaps, i, (s) => [s.marks.clicks[0], s.marks.started[0]]));
}

// Both pages record the same speech at once for `seconds`, are stopped at the same
// moment, and each times its stop click → onUploaded (the hand-written page: its last PUT
// answered). Throttled: each tab has its own slow link (CDP network emulation is per tab).
async function stopToUploaded(seconds, throttled, rounds) {
  const took = { sdk: [], handwritten: [] };
  const snaps = { sdk: [], handwritten: [] };
  const name = `stop → uploaded, ${seconds} s note${throttled ? ', 750 kbit/s up, 100 ms' : ''}`;
  const browser = await launchRecordingBrowser();
  try {
    for (let round = 0; round < rounds; round++) {
      progress(`${name}, round ${round + 1}/${rounds}`);
      const tabs = {};
      for (const which of turns(round)) {
        tabs[which] = await freshTab(browser, which);
        if (throttled) await tabs[which].emulateNetworkConditions(SLOW);
      }
      await Promise.all(Object.values(tabs).map((t) => t.click('#record-btn')));
      await Promise.all(Object.values(tabs).map((t) => until(t, 'started', 1)));
      // The note's length (what is measured comes after); a 60 s note is stopped at 59 s,
      // before the SDK's limit stops it by itself.
      await delay(Math.min(seconds, 59) * 1000);
      await Promise.all(Object.values(tabs).map((t) => t.click('#record-btn')));
      await Promise.all(Object.values(tabs).map((t) => until(t, 'uploaded', 1, 300_000)));
      for (const [which, tab] of Object.entries(tabs)) {
        const s = await snapshot(tab);
        took[which].push(s.marks.uploaded[0] - s.marks.clicks[1]);
        snaps[which].push(s);
        await tab.browserContext().close();
      }
    }
  } finally {
    await browser.close();
  }
  const row = timeRow(name, took.sdk, took.handwritten, 'hand-written two steps', GOAL.stop);
  const medianOf = (which, f) => `${median(snaps[which].map(f)).toFixed(0)} ms`;
  const toFile = (s) => s.marks.stopped[0].t - s.marks.clicks[1];
  const toPost = (s) => (firstRequest(s, '/v1/upload', s.marks.clicks[1])?.start ?? NaN) - s.marks.clicks[1];
  row.note = `sizes ${kb(median(snaps.sdk.map((s) => s.marks.stopped[0].size)))} (SDK) and ` +
    `${kb(median(snaps.handwritten.map((s) => s.marks.stopped[0].size)))} (by hand); ` +
    `stop → the file in hand ${medianOf('sdk', toFile)} (SDK, onStop) and ${medianOf('handwritten', toFile)} (by hand); ` +
    `stop → POST /upload sent ${medianOf('sdk', toPost)} (SDK) and ${medianOf('handwritten', toPost)} (by hand)`;
  rows.push(row);
  rows.push(longestTaskRow(`longest task, click → onUploaded (${seconds} s note${throttled ? ', throttled' : ''})`, snaps, rounds));
  const i = medianIndex(took.sdk);
  timelines.push(recordingTimeline(`${name}, round ${i + 1}/${rounds} (the SDK's median), ms from the stop click`,
    snaps, i, (s) => [s.marks.clicks[1], s.marks.uploaded[0]]));
}

// Round i's window on both pages, and every long task of every round from the click to
// onUploaded.
function recordingTimeline(title, snaps, i, span) {
  const pages = ['sdk', 'handwritten'].map((which) => {
    const [from, to] = span(snaps[which][i]);
    return { name: which === 'sdk' ? 'SDK page' : 'hand-written page', snap: snaps[which][i], from, to };
  });
  return { title, pages, tasks: { 'SDK page': snaps.sdk, 'hand-written page': snaps.handwritten } };
}

// The wasm's memory after the 2nd and the 20th note of one page (1 s each, uploaded).
async function memory() {
  const browser = await launchChromium({ extraArgs: ['--use-fake-ui-for-media-stream'] });
  const at = {};
  try {
    const tab = await freshTab(browser, 'sdk');
    for (let n = 1; n <= 20; n++) {
      if (n % 5 === 1) progress(`wasm memory, notes ${n}–${n + 4} of 20`);
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
  rows.push({ figure: 'wasm memory after the 20th note', ours: mb(at[20]), yardstick: `${mb(at[2])} after the 2nd`, ratio: at[20] / at[2], goal: GOAL.memory });
}

// ---- Helpers ----

// The long tasks of a round from the click to onUploaded, each with where it fell and
// when, in ms after the click (at the stop: after the stop click).
function tasksOfRound(s, round) {
  const [click, stop] = s.marks.clicks;
  return s.longTasks.filter((t) => t.start >= click && t.start <= s.marks.uploaded[0]).map((t) => {
    const phase = t.start < s.marks.started[0] ? 'at the click' : t.start < stop ? 'recording' : 'at the stop';
    return { ...t, round, phase, at: t.start - (phase === 'at the stop' ? stop : click) };
  });
}

// A browser with the fake microphone allowed, warmed up: a browser's first recording opens
// the capture device and is slower than any after it, whichever page made it.
async function launchRecordingBrowser() {
  const browser = await launchChromium({ extraArgs: ['--use-fake-ui-for-media-stream'] });
  try {
    const tab = await freshTab(browser, 'handwritten');
    await tab.click('#record-btn');
    await until(tab, 'started', 1);
    await tab.click('#record-btn');
    await until(tab, 'uploaded', 1);
    await tab.browserContext().close();
  } catch (err) {
    await browser.close();
    throw err;
  }
  return browser;
}

// Which page goes first: each in turn, so that neither always meets a browser the other
// has just warmed up or left busy.
function turns(round) {
  return round % 2 ? ['sdk', 'handwritten'] : ['handwritten', 'sdk'];
}

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

// What a page saw: its own marks, its long tasks and long animation frames, and the
// browser's performance entries (the SDK's marks and measures, every request, the navigation).
function snapshot(tab) {
  return tab.evaluate(() => {
    const path = (url) => {
      const u = new URL(url);
      return u.origin === location.origin ? u.pathname : url;
    };
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      marks: window.marks,
      longTasks: window.longTasks,
      longFrames: window.longFrames || [],
      perfMarks: performance.getEntriesByType('mark').map((e) => ({ name: e.name, start: e.startTime })),
      measures: performance.getEntriesByType('measure').map((e) => ({ name: e.name, start: e.startTime, end: e.startTime + e.duration })),
      resources: performance.getEntriesByType('resource').map((e) => ({
        path: path(e.name), type: e.initiatorType, start: e.startTime, end: e.responseEnd, firstByte: e.responseStart,
      })),
      navigation: nav ? { responseEnd: nav.responseEnd, domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd } : null,
    };
  });
}

function firstRequest(snap, url, after) {
  return snap.resources.filter((r) => r.path === url && r.start >= after).sort((a, b) => a.start - b.start)[0];
}

function roundsOf(n) {
  return `${n} round${n === 1 ? '' : 's'}`;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// The round whose figure is the median (the lower of the two middle ones).
function medianIndex(xs) {
  const order = xs.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0]);
  return order[(order.length - 1) >> 1][1];
}

function ms(xs) {
  return `${median(xs).toFixed(0)} ms [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
}

// Kilobytes of 1000 bytes, as make size prints them.
function kb(n) {
  return `${(n / 1000).toFixed(1)} kB`;
}

function mb(n) {
  return `${(n / 1e6).toFixed(1)} MB`;
}

function timeRow(figure, ours, yardstick, name, goal) {
  return { figure, ours: ms(ours), yardstick: `${ms(yardstick)} ${name}`, ratio: median(ours) / median(yardstick), goal };
}

// Long tasks of loading: how many, and the longest, over every round.
function taskCountRow(figure, ours, yardstick, name, rounds) {
  const describe = (tasks) => (tasks.length ? `${tasks.length} in ${roundsOf(rounds)}, longest ${Math.max(...tasks.map((t) => t.duration)).toFixed(0)} ms` : `none in ${roundsOf(rounds)}`);
  return { figure, ours: describe(ours), yardstick: `${describe(yardstick)} ${name}` };
}

// The longest task from the click to onUploaded in any round, with where the tasks over
// 50 ms fell (from the click to onStart, while recording, from the stop to onUploaded);
// the hand-written page's beside it. The goal: none at all.
function longestTaskRow(figure, snaps, rounds) {
  const describe = (list) => {
    const tasks = list.flatMap(tasksOfRound);
    if (!tasks.length) return { text: `none in ${roundsOf(rounds)}`, longest: 0 };
    const longest = Math.max(...tasks.map((t) => t.duration));
    const phases = ['at the click', 'recording', 'at the stop'].map((p) => [p, tasks.filter((t) => t.phase === p).length])
      .filter(([, n]) => n).map(([p, n]) => `${n} ${p}`).join(', ');
    return { text: `${longest.toFixed(0)} ms; ${tasks.length} in ${roundsOf(rounds)} (${phases})`, longest };
  };
  const ours = describe(snaps.sdk);
  return {
    figure, ours: ours.text, yardstick: `${describe(snaps.handwritten).text} hand-written page`,
    goal: `none > ${GOAL.longTask} ms`, met: ours.longest <= GOAL.longTask,
  };
}

function printTable() {
  const cells = rows.map((r) => {
    // A ratio meets its goal as printed: 1.104 is 1.10×, within ≤ 1.1×.
    const ratio = r.ratio === undefined ? '' : r.ratio.toFixed(r.digits ?? 2);
    const met = r.met ?? (typeof r.goal === 'number' && ratio ? Number(ratio) <= r.goal : undefined);
    return [
      r.figure,
      r.ours,
      r.yardstick,
      ratio && `${ratio}×`,
      r.goal === undefined ? '' : typeof r.goal === 'number' ? `≤ ${r.goal}×` : r.goal,
      met === undefined ? '' : met ? 'yes' : '**NO**',
    ];
  });
  const head = ['figure', 'SDK (median [min–max])', 'yardstick', 'ratio', 'goal', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  const missed = cells.filter((c) => c[5] === '**NO**').length;
  const table = [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
    '',
    ...rows.filter((x) => x.note).map((r) => `- ${r.figure}: ${r.note}`),
    ...(missed ? [`- goals missed: ${missed} (marked **NO**)`] : []),
  ].join('\n');
  console.log(`\nbrowser benchmark: ${machine?.line ?? 'Chromium'}; ${roundsOf(ROUNDS)} (${LONG_ROUNDS} for the 60 s notes)\n`);
  console.log(table);
  return table;
}

// One window of one round on each page: every event that overlaps it, in time order,
// in ms from the window's start.
function printTimeline({ title, pages, tasks }) {
  console.log(`\ntimeline: ${title}`);
  for (const { name, snap, from, to } of pages) {
    const events = [];
    const add = (start, end, what) => {
      if (start <= to + 0.5 && (end ?? start) >= from - 0.5) events.push({ start, end, what });
    };
    const m = snap.marks;
    for (const t of m.clicks || []) add(t, undefined, 'click');
    for (const t of m.started || []) add(t, undefined, 'recording (onStart / MediaRecorder start)');
    for (const s of m.stopped || []) add(s.t, undefined, `the file in hand (onStop), ${kb(s.size)}`);
    for (const t of m.uploaded || []) add(t, undefined, 'uploaded (onUploaded / the last PUT answered)');
    if (m.ready !== undefined) add(m.ready, undefined, 'ready');
    if (snap.navigation) {
      add(snap.navigation.responseEnd, undefined, 'navigation: the page arrived');
      add(snap.navigation.domInteractive, undefined, 'navigation: DOM interactive');
      add(snap.navigation.domContentLoaded, undefined, 'navigation: DOMContentLoaded handled');
    }
    for (const p of snap.perfMarks) add(p.start, undefined, `mark ${p.name}`);
    for (const p of snap.measures) add(p.start, p.end, `measure ${p.name}`);
    for (const r of snap.resources) add(r.start, r.end, `${r.type} ${r.path} (first byte ${(r.firstByte - r.start).toFixed(1)} ms in)`);
    for (const t of snap.longTasks) add(t.start, t.start + t.duration, `LONG TASK ${t.duration.toFixed(0)} ms`);
    for (const f of snap.longFrames) {
      const scripts = f.scripts.map(describeScript);
      add(f.start, f.start + f.duration, `long animation frame, ${f.blocking.toFixed(0)} ms blocking: ${scripts.join('; ') || 'no script'}`);
    }
    events.sort((a, b) => a.start - b.start);
    const at = (t) => (t - from).toFixed(1).padStart(8);
    console.log(`  ${name} (${(to - from).toFixed(0)} ms):`);
    for (const e of events) console.log(`  ${at(e.start)} ${e.end === undefined ? ' '.repeat(10) : `–${at(e.end)} `} ${e.what}`);
  }
  for (const [name, snaps] of Object.entries(tasks || {})) {
    const seen = snaps.flatMap((s, round) => tasksOfRound(s, round).map((t) => ({ ...t, frames: framesOf(s, t) })));
    console.log(`  long tasks, click → onUploaded, ${name}, over ${roundsOf(snaps.length)}: ${seen.length ? '' : 'none'}`);
    for (const t of seen) {
      const after = `${t.at.toFixed(0)} ms after the ${t.phase === 'at the stop' ? 'stop ' : ''}click`;
      console.log(`    round ${t.round + 1}, ${t.phase}, ${after}: ${t.duration.toFixed(0)} ms; ${t.frames || 'no script attributed (no long animation frame over it)'}`);
    }
  }
}

// What Long Animation Frames say ran in the frames that overlap a long task.
function framesOf(snap, task) {
  return snap.longFrames.filter((f) => f.start <= task.start + task.duration && f.start + f.duration >= task.start)
    .flatMap((f) => f.scripts).map(describeScript).join('; ');
}

function describeScript(s) {
  return `${s.invoker}${s.fn ? ` ${s.fn}` : ''}${s.url ? ` (${s.url.replace(server.origin, '')})` : ''} ${s.duration.toFixed(0)} ms`;
}

// The table goes into docs/performance.md between its markers, with what it was measured on.
async function writeTable(text) {
  const doc = process.env.BENCH_DOC || (process.env.BENCH_ONLY ? '' : path.resolve(HERE, '../../docs/performance.md'));
  if (!doc) {
    console.log('\nBENCH_ONLY ran some figures: docs/performance.md left as it was');
    return;
  }
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const old = await readFile(doc, 'utf8');
  const i = old.indexOf(begin), j = old.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${doc} has no ${begin} … ${end}: the table was not written`);
  const when = new Date().toISOString().slice(0, 10);
  const body = `\nLast run ${when}: ${machine?.name ?? 'Chromium'}, ${machine?.cores ?? `${os.cpus().length} cores`}, ` +
    `${roundsOf(ROUNDS)} (${LONG_ROUNDS} for the 60 s notes); load average ${machine?.load.toFixed(2) ?? '?'} at the start and ${os.loadavg()[0].toFixed(2)} at the end ` +
    `(a shared machine: only the ratios within one run mean anything).\n\n${text}\n`;
  await writeFile(doc, old.slice(0, i + begin.length) + body + old.slice(j));
  console.log(`\nwrote the table into ${path.relative(process.cwd(), doc)}`);
}

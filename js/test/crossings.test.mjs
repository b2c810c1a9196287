// The SDK's crossings between Go (WebAssembly) and JavaScript, counted in Chromium for one
// 5-second note and for one retry after a 503, and checked against the table in
// docs/architecture.md, so that the document cannot go stale.
//
// How they are counted (pages/crossings-counter.js, no change to the SDK): every Go→JS
// call is one of wasm_exec.js's syscall/js.* imports, counted by name; every JS→Go call
// is a go._resume() with a pending event (a function Go exported, called).
//
// VOCAFUSE_WRITE_CROSSINGS=1 writes the measured figures into the table instead of
// checking them; VOCAFUSE_CROSSINGS_DOC=path names another document with the same markers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { browsers, closePage, startServer } from './harness.mjs';
import { openTestPage, waitFor } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DOC = path.resolve(process.env.VOCAFUSE_CROSSINGS_DOC || path.join(HERE, '../../docs/architecture.md'));
const WRITE = process.env.VOCAFUSE_WRITE_CROSSINGS === '1';
const BEGIN = '<!-- crossings:begin -->';
const END = '<!-- crossings:end -->';

// How far a count may drift from the table. Each phase's crossings are fixed by the code:
// measured again and again on an idle machine they repeat to the call, but for the
// recording's, which follow the clock. While recording, Go's timers read the input's level
// 20 times a second and tick the progress 5 times a second; on a loaded machine (two
// cores shared with builds) those timers fire late and a second holds fewer of them: a
// recording second was measured up to 25 % below its idle figure, and the first second
// holds 12 to 23 timer wake-ups, as the level reads begin once the AudioContext runs. So
// the rows paced by the clock (the first second, the recording's rate, and the whole note,
// about half of whose calls are the recording's) get ±30 %, every other row ±15 % (at
// least ±3 calls for the small ones): wide
// enough for the noise, narrow enough to catch a change of the code such as an error
// envelope or the 201's voice note read key by key.
const TOLERANCE = { relative: 0.15, clocked: 0.3, absolute: 3 };

const NOTE_SECONDS = 5;
const POST_UPLOAD = { path_prefix: '/v1/upload', method: 'POST' };
// The page's marks of POST {apiBaseUrl}/upload: made, and answered 503.
const POST_OPENED = /^open POST \/.*\/upload$/;
const POST_REFUSED = /^load POST \/.*\/upload 503$/;

let server;

async function fault(plan) {
  const res = await fetch(`${server.origin}/_faults`, { method: plan ? 'POST' : 'DELETE', body: plan && JSON.stringify(plan) });
  assert.ok(res.ok, `/_faults answered ${res.status}`);
}

// A count between two marks: Go→JS calls (syscall/js.*, finalizeRef apart: Go's garbage
// collector makes those when it runs, not the route), JS→Go calls, timer wake-ups.
function between(a, b, per = 1) {
  const kinds = {};
  let finalizeRef = 0;
  for (const [name, n] of Object.entries(b.imports)) {
    if (!name.startsWith('syscall/js.')) continue;
    const d = n - (a.imports[name] || 0);
    if (!d) continue;
    const kind = name.slice('syscall/js.'.length);
    if (kind === 'finalizeRef') finalizeRef += d;
    else kinds[kind] = d;
  }
  const round = (n) => Math.round((n / per) * 10) / 10;
  const goToJS = Object.values(kinds).reduce((s, n) => s + n, 0);
  const byKind = Object.entries(kinds).sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .map(([k, n]) => `${k} ${round(n)}`).join(', ');
  return {
    goToJS: round(goToJS), jsToGo: round(b.calls - a.calls), wakeups: round(b.wakeups - a.wakeups),
    finalizeRef: round(finalizeRef), byKind,
  };
}

// Records one note in a fresh page and answers the page's marks, once it is uploaded.
async function recordNote(browser) {
  const page = await openTestPage(browser, server, `crossings.html?seconds=${NOTE_SECONDS}`);
  try {
    await page.click('#record-btn');
    await waitFor(page, () => window.events('uploaded').length > 0 || window.events('error').length > 0, undefined, 60_000);
    const { marks, errors, stoppedAt } = await page.evaluate(() => ({
      marks: window.crossings.marks,
      errors: window.events('error').map((e) => `${e.arg.code}: ${e.arg.message}`),
      stoppedAt: window.stopClicked,
    }));
    assert.deepEqual(errors, [], 'the note should upload without an error');
    return { marks, stoppedAt };
  } finally {
    await closePage(page);
  }
}

// The first mark after mark `after` whose label is label (a string) or matches it (a RegExp).
function find(marks, label, after = -1) {
  const i = marks.findIndex((m, j) => j > after && (label instanceof RegExp ? label.test(m.label) : m.label === label));
  assert.ok(i >= 0, `no mark ${label} after mark ${after}: ${marks.map((m) => m.label).join(', ')}`);
  return i;
}

const ROUTES = [
  'A 5-second note: the click → 1 s recorded',
  'A 5-second note: recording, per second',
  'A 5-second note: the stop click → onStop',
  'A 5-second note: onStop → the POST',
  'A 5-second note: the POST → onUploaded',
  'A 5-second note: the click → onUploaded',
  'A retry after a 503: the 503 → the next POST',
  'A retry after a 503: the next POST → onUploaded',
  'A retry after a 503: the 503 → onUploaded',
];

// The recording's first second holds the start's one-off work, and the token's (asked for
// at the recorder's start, it may be read before or after onStart): the rate is measured after it.
function noteRows({ marks, stoppedAt }) {
  const click = find(marks, 'click');
  const start = find(marks, 'start', click);
  const second = marks.findIndex((m, j) => j > start && m.label === 'progress' && m.elapsed >= 1);
  assert.ok(second > start, 'no progress tick at 1 s');
  const stopClick = find(marks, 'click', start);
  const stop = find(marks, 'stop', stopClick);
  const post = find(marks, POST_OPENED, stop);
  const uploaded = find(marks, 'uploaded', post);
  const m = (i) => marks[i];
  return {
    [ROUTES[0]]: between(m(click), m(second)),
    [ROUTES[1]]: between(m(second), m(stopClick), stoppedAt - m(second).elapsed),
    [ROUTES[2]]: between(m(stopClick), m(stop)),
    [ROUTES[3]]: between(m(stop), m(post)),
    [ROUTES[4]]: between(m(post), m(uploaded)),
    [ROUTES[5]]: between(m(click), m(uploaded)),
  };
}

function retryRows({ marks }) {
  const refused = find(marks, POST_REFUSED);
  const post = find(marks, POST_OPENED, refused);
  const uploaded = find(marks, 'uploaded', post);
  const m = (i) => marks[i];
  return {
    [ROUTES[6]]: between(m(refused), m(post)),
    [ROUTES[7]]: between(m(post), m(uploaded)),
    [ROUTES[8]]: between(m(refused), m(uploaded)),
  };
}

const COLUMNS = ['Route', 'Go→JS calls', 'JS→Go calls', 'Go timer wake-ups', 'finalizeRef', 'Go→JS calls by kind'];

function table(rows) {
  const lines = [
    `| ${COLUMNS.join(' | ')} |`,
    '|---|---:|---:|---:|---:|---|',
    ...ROUTES.map((route) => {
      const r = rows[route];
      return `| ${route} | ${r.goToJS} | ${r.jsToGo} | ${r.wakeups} | ${r.finalizeRef} | ${r.byKind} |`;
    }),
  ];
  return lines.join('\n');
}

// The table between the markers: route → { goToJS, jsToGo }.
function parseTable(text) {
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  assert.ok(from >= 0 && to > from, `${DOC} has no ${BEGIN} … ${END}`);
  const rows = {};
  for (const line of text.slice(from + BEGIN.length, to).split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length < 3 || !ROUTES.includes(cells[0])) continue;
    rows[cells[0]] = { goToJS: Number(cells[1]), jsToGo: Number(cells[2]) };
  }
  return rows;
}

async function writeTable(rows) {
  const text = await fs.readFile(DOC, 'utf8');
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  assert.ok(from >= 0 && to > from, `${DOC} has no ${BEGIN} … ${END}`);
  await fs.writeFile(DOC, `${text.slice(0, from + BEGIN.length)}\n${table(rows)}\n${text.slice(to)}`);
}

// The rows the recording's timers pace; every other row is fixed by the code.
const CLOCKED = new Set([
  'A 5-second note: the click → 1 s recorded',
  'A 5-second note: recording, per second',
  'A 5-second note: the click → onUploaded',
]);

// The first POST leaves beside the outbox's first write, so that write's landing (its
// answer read, the journal dropped: 10 to 12 Go→JS calls) falls before or after the POST,
// run by run: in the first row or the second of a note, and in a retry's first row or
// before the 503. Those rows get that much more room.
const RACED = new Set([
  'A 5-second note: onStop → the POST',
  'A 5-second note: the POST → onUploaded',
  'A retry after a 503: the 503 → the next POST',
  'A retry after a 503: the 503 → onUploaded',
]);
const OUTBOX_LANDING = 12;

function within(route, measured, documented) {
  const relative = CLOCKED.has(route) ? TOLERANCE.clocked : TOLERANCE.relative;
  const slack = Math.max(TOLERANCE.absolute, Math.abs(documented) * relative) + (RACED.has(route) ? OUTBOX_LANDING : 0);
  return Math.abs(measured - documented) <= slack;
}

const chromium = browsers().filter((b) => b.name === 'chromium');

for (const { name, launch } of chromium) {
  describe(name, () => {
    let browser;
    before(async () => {
      server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection'] });
      browser = await launch();
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    const measured = {};

    test('a 5-second note: crossings from the click to onUploaded', async () => {
      await fault(null);
      Object.assign(measured, noteRows(await recordNote(browser)));
    });

    test('a retry after a 503: crossings from the 503 to onUploaded', async () => {
      await fault({ ...POST_UPLOAD, status: 503, code: 5002, times: 1 });
      try {
        Object.assign(measured, retryRows(await recordNote(browser)));
      } finally {
        await fault(null);
      }
    });

    test(`the counts agree with ${path.basename(DOC)}'s table (±${TOLERANCE.relative * 100} %, the recording's rows ±${TOLERANCE.clocked * 100} %)`, async (t) => {
      const missing = ROUTES.filter((r) => !measured[r]);
      assert.deepEqual(missing, [], 'a measurement above failed');
      t.diagnostic('measured:');
      for (const line of table(measured).split('\n')) t.diagnostic(line);
      if (WRITE) {
        await writeTable(measured);
        t.diagnostic(`wrote the table of ${DOC}`);
        return;
      }
      const documented = parseTable(await fs.readFile(DOC, 'utf8'));
      const off = [];
      for (const route of ROUTES) {
        const d = documented[route];
        assert.ok(d, `${DOC}'s table has no row "${route}" (VOCAFUSE_WRITE_CROSSINGS=1 writes it)`);
        for (const key of ['goToJS', 'jsToGo']) {
          if (!within(route, measured[route][key], d[key])) off.push(`${route}, ${key}: measured ${measured[route][key]}, documented ${d[key]}`);
        }
      }
      assert.deepEqual(off, [], `the crossings moved beyond the tolerance: fix the code or rewrite ${DOC}'s table (VOCAFUSE_WRITE_CROSSINGS=1)`);
    });
  });
}

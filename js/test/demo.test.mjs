// The demo page (demo/web/static, served at /) as a visitor uses it, in Chromium at a desktop
// (1280×800) and a phone (390×844) size: a recording listed at the top of "Your notes" with its
// duration, played and deleted; its transcript arriving in the background (Transcribing…, then
// the recogniser's text); the outbox ("Waiting to send") with uploads failing and offline,
// and "Send now"; load errors. axe-core audits each state (the element's shadow root too), and
// the screenshots of the main states are written to build/screenshots/, or to the directory
// SCREENSHOTS names, relative to the repository (SCREENSHOTS=docs/screenshots updates the README's).
// And in every engine of the driver layer (WebKit too): recorded, paused, uploaded and deleted
// by keyboard alone, and, in Firefox and WebKit, the outbox, the notes and the SDK failing,
// axe auditing each state.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { engines } from './driver.mjs';
import { closePage, launchChromium, launchFirefox, startServer } from './harness.mjs';
import { openPage, setFaults, waitFor } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const SHOTS = path.resolve(REPO, process.env.SCREENSHOTS || 'build/screenshots');
// axe-core's source as a function, for evaluate (puppeteer's or a driver's).
const injectAxe = new Function(await fs.readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const RECORD = 'vocafuse-recorder >>> [part=record]';
// What the fake microphone says (makeSpeech in harness.mjs), word by word.
const SPOKEN = ['hello', 'from', 'the', 'voice', 'recorder', 'test', 'one', 'two', 'three', 'four', 'five'];


let server;
let browser;
before(async () => {
  await fs.mkdir(SHOTS, { recursive: true });
  server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection'] });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// The demo page in a fresh context (a new visitor, nothing stored), once the SDK has
// answered ready (or failed) and the notes list has loaded (or failed).
async function open(viewport, { mic = 'granted', beforeLoad = async () => {}, on = browser } = {}) {
  const before = async (page) => {
    await page.setViewport(viewport);
    // What the element's events carry, for the checks the screen cannot show (the recording's id).
    await page.evaluateOnNewDocument(() => {
      window.seen = { stop: [], error: [], elapsed: 0, csp: [] };
      // The page's CSP (no inline script or style): anything it refuses is a bug of the page.
      addEventListener('securitypolicyviolation', (e) => window.seen.csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
      addEventListener('vocafuse-stop', (e) => window.seen.stop.push({ id: e.detail.id, duration: e.detail.duration }));
      addEventListener('vocafuse-error', (e) => window.seen.error.push({ code: e.detail.code, userMessage: e.detail.userMessage }));
      addEventListener('vocafuse-progress', (e) => { window.seen.elapsed = e.detail.elapsed; });
    });
    await beforeLoad(page);
  };
  return openPage(on, server.url, {
    mic, before, timeout: 30_000,
    ready: () => document.documentElement.dataset.recorder
      && document.querySelector('#notes').getAttribute('aria-busy') === 'false',
  });
}

const recorderState = (page) => page.evaluate(() => document.querySelector('vocafuse-recorder').state);
const waitForState = (page, states, timeout) =>
  waitFor(page, (s) => s.includes(document.querySelector('vocafuse-recorder').state), [states].flat(), timeout);

// Starts a recording and waits until the level part shows the fake microphone's speech.
async function startRecording(page) {
  await page.locator(RECORD).click();
  await waitForState(page, 'recording');
  await waitFor(page, () => {
    const root = document.querySelector('vocafuse-recorder').shadowRoot;
    const meter = root.querySelector('[part=meter]');
    const scale = /scaleX\(([\d.]+)\)/.exec(root.querySelector('[part=level]').style.transform);
    return !meter.hidden && Number(meter.getAttribute('aria-valuenow')) > 0 && scale && Number(scale[1]) > 0;
  });
}

// Stops once `seconds` have been recorded (the SDK's own clock); answers what onStop had.
async function stopAfter(page, seconds) {
  const before = await page.evaluate(() => window.seen.stop.length);
  await waitFor(page, (s) => window.seen.elapsed >= s, seconds, seconds * 1000 + 15_000);
  await page.locator(RECORD).click();
  await waitFor(page, (n) => window.seen.stop.length > n, before);
  return page.evaluate(() => window.seen.stop.at(-1));
}

// Finite animations (a new note slides in) have ended: contrast is measured, and pictures
// taken, on what stays on screen.
const settled = (page) => waitFor(page, () => document.getAnimations()
  .every((a) => a.playState !== 'running' || a.effect.getTiming().iterations === Infinity));

// No CSP violation heard so far, then, once settle(page) has answered, axe-core over the whole
// document, the element's open shadow root included: on a puppeteer page or a driver's tab
// (each has evaluate). axe's source is evaluated through the protocol (CDP, WebDriver BiDi,
// WebDriver), which the page's CSP does not govern (a <script> would be refused).
async function assertAxeFindsNothing(page, what, settle) {
  assert.deepEqual(await page.evaluate(() => window.seen.csp), [], `${what}: the CSP refused something`);
  await settle(page);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(injectAxe);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
    }));
  });
  const report = violations.map((v) => `  ${v.id} (${v.impact}): ${v.help}\n` +
    v.nodes.map((n) => `    ${JSON.stringify(n.target)}\n      ${(n.summary || '').replace(/\n/g, '\n      ')}`).join('\n'));
  assert.equal(violations.length, 0, `axe, ${what}:\n${report.join('\n')}`);
}

// A screenshot of what the window shows, scrolled from the top just enough to show `selector`.
async function shot(page, name, selector) {
  await page.evaluate((sel) => {
    window.scrollTo(0, 0);
    document.querySelector(sel)?.scrollIntoView({ block: 'nearest' });
  }, selector);
  await settled(page);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// What the page shows, as the text a reader gets (white space collapsed).
const text = (page, selector) => page.$eval(selector, (el) => el.textContent.replace(/\s+/g, ' ').trim());
const noteItems = (page) => page.$$eval('#notes-list > li', (items) => items.map((li) => ({
  id: li.dataset.id,
  when: li.querySelector('.note-when').textContent,
  meta: li.querySelector('.note-meta').textContent,
  src: li.querySelector('audio').src,
  deleteName: li.querySelector('.delete').textContent,
})));
const pendingItems = (page) => page.$$eval('#pending-list > li', (items) => items.map((li) => ({
  id: li.dataset.id, text: li.textContent.replace(/\s+/g, ' ').trim(),
})));
const visible = (page, selector) => page.$eval(selector, (el) => el.checkVisibility());

// A token of the page's visitor (its cookie), for reading the API from here.
// The token in whichever of the shapes in use the demo's /api/token answers.
const visitorToken = (page) => page.evaluate(async () => {
  const a = await (await fetch('/api/token', { method: 'POST' })).json();
  return a.token ?? a.data?.id_token ?? a.data?.jwt_token;
});

// A short WAV (a 440 Hz tone, 8 kHz mono 16-bit), for notes stored through the API directly.
function toneWAV(secs) {
  const rate = 8000;
  const samples = Math.round(rate * secs);
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0); wav.writeUInt32LE(36 + samples * 2, 4); wav.write('WAVE', 8);
  wav.write('fmt ', 12); wav.writeUInt32LE(16, 16); wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(rate, 24); wav.writeUInt32LE(rate * 2, 28); wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34);
  wav.write('data', 36); wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i += 1) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return wav;
}

const seconds = (clock) => { const [m, s] = clock.split(':').map(Number); return m * 60 + s; };

describe('the demo page', () => {
  test('desktop: idle, recording, the note listed at the top, played and deleted', async () => {
    await setFaults(server, null);
    const page = await open(DESKTOP);
    try {
      assert.equal(await recorderState(page), 'idle');
      assert.match(await text(page, '#notes-status'), /No notes yet/);
      assert.equal(await visible(page, '#outbox'), false, 'an empty outbox is hidden');
      assert.equal(await visible(page, '#offline .offline-text'), false, 'online: no banner');
      await assertAxeFindsNothing(page, 'idle, desktop', settled);
      await shot(page, 'desktop-idle');

      await startRecording(page);
      await assertAxeFindsNothing(page, 'recording, desktop', settled);
      await shot(page, 'desktop-recording');
      const stop = await stopAfter(page, 2.5);

      // The note arrives at the top of the list, with what was recorded.
      await waitFor(page, (id) => document.querySelector('#notes-list > li')?.dataset.id === id, stop.id);
      await waitForState(page, 'uploaded');
      const [top] = await noteItems(page);
      const [clock, kb, format] = top.meta.split(' · ');
      // The list shows whole seconds, rounded down, of the server's duration (within 0.1 s of the SDK's).
      assert.ok(seconds(clock) <= stop.duration + 0.1 && seconds(clock) > stop.duration - 1.1, `listed as ${clock}, recorded ${stop.duration} s`);
      assert.match(kb, /^\d+(\.\d)? KB$/);
      assert.match(format, /^(WEBM|OGG|WAV)$/);
      assert.match(top.when, /^Today, /);
      assert.match(top.deleteName, /^Delete the \d:\d\d note from today, /);
      assert.match(top.src, new RegExp(`/v1/voicenotes/${stop.id}/audio\\?`));
      // Before it is played, the note's length shows: in the player once it has read the file's
      // head, beside it until then (or for a file that carries no duration).
      const player = await page.$eval('#notes-list > li', (li) => {
        const audio = li.querySelector('audio');
        const length = li.querySelector('.note-length');
        return { duration: audio.duration, played: audio.played.length, length: length?.textContent, shown: !!length?.checkVisibility() };
      });
      assert.equal(player.played, 0, 'not played yet');
      if (Number.isFinite(player.duration)) {
        assert.ok(Math.abs(player.duration - seconds(clock)) < 1, `the player's length: ${JSON.stringify(player)}, listed ${clock}`);
      } else {
        assert.ok(player.shown && player.length === clock, `the length beside the player: ${JSON.stringify(player)}, listed ${clock}`);
      }
      assert.equal(await visible(page, '#outbox'), false, 'a delivered recording does not wait');
      await assertAxeFindsNothing(page, 'notes listed, desktop', settled);
      await shot(page, 'desktop-notes', '#notes');

      // Its audio_url fetches as audio, and the list's player plays it.
      const res = await fetch(top.src, { headers: { Range: 'bytes=0-' } });
      assert.ok([200, 206].includes(res.status), `audio_url answered ${res.status}`);
      assert.match(res.headers.get('content-type'), /^audio\//);
      await page.evaluate(() => {
        const audio = document.querySelector('#notes-list > li audio');
        audio.muted = true;
        return audio.play();
      });
      await waitFor(page, () => document.querySelector('#notes-list > li audio').currentTime > 0);
      const played = await page.evaluate(() => {
        const audio = document.querySelector('#notes-list > li audio');
        audio.pause();
        return { currentTime: audio.currentTime, duration: audio.duration, error: audio.error && audio.error.message };
      });
      assert.ok(played.currentTime > 0 && !played.error, `played ${JSON.stringify(played)}`);

      // Delete: gone from the list (focus stays in the section) and from the API.
      await page.locator(`#notes-list > li[data-id="${stop.id}"] .delete`).click();
      await waitFor(page, (id) => !document.querySelector(`#notes-list > li[data-id="${id}"]`), stop.id);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'notes-title');
      assert.match(await text(page, '#notes-status'), /No notes yet/);
      const token = await visitorToken(page);
      const gone = await fetch(`${server.origin}/v1/voicenotes/${stop.id}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(gone.status, 404);
      assert.equal((await gone.json()).error.code, 6001);
    } finally {
      await closePage(page);
    }
  });

  test('desktop: a new note shows Transcribing…, then its transcript, without a reload', async (t) => {
    await setFaults(server, null);
    const page = await open(DESKTOP);
    // The requests the page makes for transcripts: the polls of what is still processing and
    // each note's transcription, with when they were made.
    const requests = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.pathname === '/v1/voicenotes' && url.searchParams.get('status') === 'processing') requests.push({ kind: 'poll', at: Date.now() });
      else if (url.pathname.endsWith('/transcription')) requests.push({ kind: 'transcription', path: url.pathname, at: Date.now() });
    });
    try {
      // Every state the notes' transcript lines and the live region go through, seen in the page
      // by MutationObservers (a state shorter than the test's polling is not missed), with where
      // the line and the player sit in their note. The same array at the end: the same document.
      await page.evaluate(() => {
        const seen = window.seen;
        seen.transcripts = [];
        seen.announced = [];
        const top = (li, sel) => Math.round(li.querySelector(sel).getBoundingClientRect().top - li.getBoundingClientRect().top);
        const record = () => {
          for (const li of document.querySelectorAll('#notes-list > li')) {
            const line = li.querySelector('.transcript');
            const entry = { id: li.dataset.id, state: li.dataset.transcript, text: line.textContent,
              shown: line.checkVisibility(), playerTop: top(li, 'audio'), lineTop: top(li, '.transcript'), at: Date.now() };
            const last = seen.transcripts.findLast((e) => e.id === entry.id);
            if (!last || last.state !== entry.state || last.text !== entry.text) seen.transcripts.push(entry);
          }
        };
        new MutationObserver(record).observe(document.querySelector('#notes-list'),
          { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-transcript'] });
        new MutationObserver(() => {
          const said = document.querySelector('#announce').textContent;
          if (said) seen.announced.push(said);
        }).observe(document.querySelector('#announce'), { subtree: true, childList: true, characterData: true });
      });

      await startRecording(page);
      const stop = await stopAfter(page, 5); // the sentence is about 4.7 s long
      await waitFor(page, (id) => document.querySelector('#notes-list > li')?.dataset.id === id, stop.id);

      // First "Transcribing…" under the new note, then (the recogniser runs at about half real
      // time, at a low priority) its transcript, on the page that recorded it.
      await waitFor(page, (id) => window.seen.transcripts.some((e) => e.id === id && e.state === 'processing'), stop.id);
      await waitFor(page, (id) => ['transcribed', 'failed'].includes(document.querySelector(`#notes-list > li[data-id="${id}"]`)?.dataset.transcript),
        stop.id, 60_000);
      const shown = await page.$eval(`#notes-list > li[data-id="${stop.id}"]`, (li) => ({
        state: li.dataset.transcript,
        line: li.querySelector('.transcript').textContent.replace(/\s+/g, ' ').trim(),
        text: li.querySelector('.transcript-text')?.textContent ?? '',
        confidence: li.querySelector('.transcript-confidence')?.textContent ?? '',
      }));
      t.diagnostic(`transcript of the ${stop.duration.toFixed(1)} s note: "${shown.text}" (${shown.confidence})`);
      assert.equal(shown.state, 'transcribed', `not transcribed: "${shown.line}"`);
      const words = shown.text.toLowerCase().match(/[\p{L}']+/gu) ?? [];
      assert.ok(words.length > 0, `no words in "${shown.text}"`);
      // What the recogniser makes of synthetic speech varies; its accuracy on human speech is
      // the server's tests' (demo/transcription_process_test.go). Here: the page shows it.
      t.diagnostic(`words of the sentence recognised: ${SPOKEN.filter((w) => words.includes(w)).join(', ')}`);
      assert.match(shown.confidence, /^\d{1,3}% confidence$/);
      assert.equal(shown.line, `Transcript: ${shown.text} ${shown.confidence}`);

      // The line went from "Transcribing…" straight to the transcript, in place: the player
      // above it did not move, nor did the line's start.
      const states = await page.evaluate((id) => window.seen.transcripts.filter((e) => e.id === id), stop.id);
      assert.deepEqual(states.map((e) => [e.state, e.text.startsWith('Transcript: ') ? 'Transcript: …' : e.text]),
        [['processing', 'Transcribing…'], ['transcribed', 'Transcript: …']], JSON.stringify(states));
      assert.ok(states.every((e) => e.shown), 'the line is shown in both states');
      assert.equal(new Set(states.map((e) => e.playerTop)).size, 1, `the player moved: ${JSON.stringify(states)}`);
      assert.equal(new Set(states.map((e) => e.lineTop)).size, 1, `the line moved: ${JSON.stringify(states)}`);

      await assertAxeFindsNothing(page, 'transcript shown, desktop', settled);
      await shot(page, 'desktop-transcript', `#notes-list > li[data-id="${stop.id}"]`);

      // Said once in the live region, with its words; no reload on the way; the note's
      // transcription asked for once, and no more polls once nothing was processing.
      const announced = await page.evaluate(() => window.seen.announced);
      const spoken = announced.filter((a) => a.includes('Transcript of the '));
      assert.equal(spoken.length, 1, JSON.stringify(announced));
      assert.ok(spoken[0].includes(`Transcript of the ${await page.$eval(`#notes-list > li[data-id="${stop.id}"]`, (li) => li.dataset.label)}: `), spoken[0]);
      assert.ok(spoken[0].includes(shown.text.split(' ').slice(0, 5).join(' ')), spoken[0]);
      assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
      const fetched = requests.filter((r) => r.kind === 'transcription');
      assert.deepEqual(fetched.map((r) => r.path), [`/v1/voicenotes/${stop.id}/transcription`]);
      const polls = requests.filter((r) => r.kind === 'poll');
      assert.ok(polls.length >= 1, 'the page polled');
      assert.ok(polls.every((p) => p.at <= fetched[0].at), `${polls.length} polls, some after the transcript`);
      t.diagnostic(`${polls.length} polls while transcribing`);
    } finally {
      await closePage(page);
    }
  });

  test('firefox: a new note shows Transcribing…, then what the recogniser made of it, without a reload', async (t) => {
    // Firefox's fake microphone is a tone: the recogniser hears nothing (3003, no speech) or
    // a stray word, so either outcome will do; what is checked is the page's part in Firefox.
    const firefox = await launchFirefox();
    try {
      const page = await open(DESKTOP, { on: firefox });
      // Not startRecording(): headless Firefox may have no running AudioContext, so no level.
      await page.locator(RECORD).click();
      await waitForState(page, 'recording');
      const stop = await stopAfter(page, 2);
      await waitFor(page, (id) => document.querySelector('#notes-list > li')?.dataset.id === id, stop.id);
      const item = `#notes-list > li[data-id="${stop.id}"]`;
      // Polled in the page rather than from here, so a short "Transcribing…" is not missed.
      const states = await page.evaluate((sel) => new Promise((resolve, reject) => {
        const seen = [];
        const look = () => {
          const li = document.querySelector(sel);
          const now = `${li.dataset.transcript}: ${li.querySelector('.transcript').textContent}`;
          if (seen.at(-1) !== now) seen.push(now);
          if (!['processing', 'waiting'].includes(li.dataset.transcript)) resolve(seen);
          else if (seen.length > 5) reject(new Error(seen.join(' | ')));
        };
        new MutationObserver(look).observe(document.querySelector(sel), { subtree: true, childList: true, characterData: true, attributes: true });
        look();
      }), item);
      t.diagnostic(`firefox: ${states.join(' → ')}`);
      assert.equal(states[0], 'processing: Transcribing…');
      assert.equal(states.length, 2, states.join(' | '));
      assert.match(states[1], /^(transcribed: Transcript: \S.* \d{1,3}% confidence|failed: No words were recognised in this note\.)$/);
      await waitFor(page, () => /^(Transcript of the|No words were recognised in the) \d:\d\d note/.test(document.querySelector('#announce').textContent));
      assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
      await assertAxeFindsNothing(page, 'transcript shown, firefox', settled);
    } finally {
      await firefox.close();
    }
  });

  test('phone: recording, then the notes list, newest first, with "Load more"', async () => {
    await setFaults(server, null);
    const page = await open(PHONE);
    try {
      await assertAxeFindsNothing(page, 'idle, phone', settled);
      await shot(page, 'phone-idle');
      // Notes stored before the page loads are listed too, newest first: two recordings.
      const ids = [];
      for (let i = 0; i < 2; i += 1) {
        await startRecording(page);
        if (i === 0) {
          await assertAxeFindsNothing(page, 'recording, phone', settled);
          await shot(page, 'phone-recording', '.try');
        }
        await page.evaluate(() => { window.seen.elapsed = 0; });
        const stop = await stopAfter(page, 1 + i);
        await waitFor(page, (id) => document.querySelector('#notes-list > li')?.dataset.id === id, stop.id);
        await waitForState(page, 'uploaded');
        ids.unshift(stop.id);
      }
      assert.deepEqual((await noteItems(page)).map((n) => n.id), ids);
      // The players and their lengths fit the phone's width: nothing to scroll sideways.
      const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(widths.scroll <= widths.client, `the page is ${widths.scroll} px wide on a ${widths.client} px screen`);
      await assertAxeFindsNothing(page, 'notes listed, phone', settled);
      await shot(page, 'phone-notes', '#notes');

      // After a reload the API's list is the same, newest first.
      await page.reload();
      await waitFor(page, () => document.querySelectorAll('#notes-list > li').length === 2);
      assert.deepEqual((await noteItems(page)).map((n) => n.id), ids);
      assert.equal(await visible(page, '#load-more'), false);

      // Past a page of 20: the first 20 are listed, and "Load more" brings the rest.
      const token = await visitorToken(page);
      for (let i = 0; i < 19; i += 1) {
        const res = await fetch(`${server.origin}/v1/voicenotes/${crypto.randomUUID()}`, {
          method: 'PUT', body: toneWAV(0.5), headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'audio/wav' },
        });
        assert.equal(res.status, 201);
      }
      await page.reload();
      await waitFor(page, () => document.querySelectorAll('#notes-list > li').length === 20);
      assert.equal(await visible(page, '#load-more'), true);
      await page.locator('#load-more').click();
      await waitFor(page, () => document.querySelectorAll('#notes-list > li').length === 21);
      assert.equal(await visible(page, '#load-more'), false);
      assert.deepEqual((await noteItems(page)).slice(-2).map((n) => n.id), ids, 'the oldest come last');
      assert.ok(await page.evaluate(() => document.activeElement.classList.contains('delete')), 'focus on the first note loaded');
    } finally {
      await closePage(page);
    }
  });

  test('the microphone refused: the element shows PERMISSION_DENIED\'s userMessage', async () => {
    await setFaults(server, null);
    for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
      const page = await open(viewport, { mic: 'denied' });
      try {
        await page.locator(RECORD).click();
        await waitForState(page, 'error');
        const [error] = await page.evaluate(() => window.seen.error);
        assert.equal(error.code, 'PERMISSION_DENIED');
        const shown = await page.evaluate(() => document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=error]').textContent);
        assert.equal(shown, error.userMessage);
        await assertAxeFindsNothing(page, `microphone refused, ${name}`, settled);
        await shot(page, `${name}-error`, '.try');
      } finally {
        await closePage(page);
      }
    }
  });

  test('the token endpoint failing: "Your notes" says so, and "Try again" loads them', async () => {
    await setFaults(server, { path_prefix: '/api/token', method: 'POST', status: 503, code: 5002, times: 1 });
    const page = await open(DESKTOP);
    try {
      await waitFor(page, () => !document.querySelector('#notes-error').hidden);
      assert.match(await text(page, '#notes-error'), /could not be loaded\. The voice-note service is having trouble/);
      await assertAxeFindsNothing(page, 'notes failed to load, desktop', settled);
      await page.locator('#notes-retry').click();
      await waitFor(page, () => document.querySelector('#notes-error').hidden
        && /No notes yet/.test(document.querySelector('#notes-status').textContent));
    } finally {
      await closePage(page);
    }
  });

  test('the SDK cannot load (no wasm): the page shows NETWORK_ERROR\'s userMessage once', async () => {
    await setFaults(server, null);
    const page = await open(DESKTOP, {
      beforeLoad: async (p) => {
        await p.setRequestInterception(true);
        p.on('request', (req) => (/\/sdk\/vocafuse\.wasm/.test(req.url()) ? req.abort('failed') : req.continue()));
      },
    });
    try {
      assert.equal(await page.evaluate(() => document.documentElement.dataset.recorder), 'failed');
      const message = await text(page, '#page-error');
      assert.match(message, /The recorder could not start\. \S/);
      const part = await page.evaluate(() => {
        const el = document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=error]');
        return { text: el.textContent, shown: el.checkVisibility() };
      });
      assert.ok(message.endsWith(part.text), `the page shows ${message}, the SDK said ${part.text}`);
      assert.equal(part.shown, false, 'said twice');
      await assertAxeFindsNothing(page, 'SDK failed to load, desktop', settled);
    } finally {
      await closePage(page);
    }
  });

  test('uploads failing: the recording waits with its last error; "Send now" delivers it', async () => {
    await setFaults(server, { path_prefix: '/v1/upload', method: 'POST', status: 503, code: 5002, times: 1000 });
    const page = await open(DESKTOP);
    try {
      await startRecording(page);
      const stop = await stopAfter(page, 1);
      await waitForState(page, 'error', 40_000);
      await waitFor(page, (id) => {
        const item = document.querySelector(`#pending-list > li[data-id="${id}"]`);
        return item && item.checkVisibility() && /Tried \d+ times?/.test(item.textContent);
      }, stop.id);
      const errors = await page.evaluate(() => window.seen.error);
      const [item] = await pendingItems(page);
      assert.ok(item.text.includes(errors.at(-1).userMessage), `${item.text} lacks ${errors.at(-1).userMessage}`);
      assert.match(item.text, /^\d:\d\d recording · \d+(\.\d)? KB/);
      assert.equal((await noteItems(page)).length, 0);
      await assertAxeFindsNothing(page, 'waiting to send, desktop', settled);
      await shot(page, 'desktop-outbox', '#outbox');

      await setFaults(server, null);
      await page.locator('#send-now').click();
      // The SDK's own retry may deliver it while Send now is still at work, so the list and the
      // outbox can be right before the button's handler ends: the wait includes where focus went
      // (the heading, as the section and its button go away).
      await waitFor(page, (id) => document.querySelector('#notes-list > li')?.dataset.id === id
        && document.querySelector('#outbox').hidden
        && document.activeElement?.id === 'notes-title', stop.id);
    } finally {
      await setFaults(server, null);
      await closePage(page);
    }
  });

  test('offline: the banner, the recording waits; back online, it is sent by itself and focus on "Send now" moves to the list', async () => {
    await setFaults(server, null);
    for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
      const page = await open(viewport);
      try {
        await page.setOfflineMode(true);
        await waitFor(page, () => document.querySelector('#offline .offline-text').checkVisibility());
        assert.match(await text(page, '#offline'), /offline.*kept on this device and sent when the connection is back/);
        assert.equal(await page.$eval('#offline', (el) => el.getAttribute('role')), 'status');

        await startRecording(page);
        const stop = await stopAfter(page, 1);
        await waitFor(page, (id) => document.querySelector(`#pending-list > li[data-id="${id}"]`)?.checkVisibility(), stop.id);
        await waitForState(page, 'error', 40_000);
        await waitFor(page, (id) => /Tried \d+ times?/.test(document.querySelector(`#pending-list > li[data-id="${id}"]`)?.textContent), stop.id);
        const errors = await page.evaluate(() => window.seen.error);
        const [item] = await pendingItems(page);
        assert.ok(item.text.includes(errors.at(-1).userMessage), `${item.text} lacks ${errors.at(-1).userMessage}`);
        await assertAxeFindsNothing(page, `offline with a recording waiting, ${name}`, settled);
        await shot(page, `${name}-offline`, '#outbox');

        // A keyboard user is on "Send now" when the connection comes back: the SDK sends the
        // recording by itself, the outbox and its button go away, and focus moves to the list
        // rather than falling to the page's body.
        await page.focus('#send-now');
        await page.setOfflineMode(false);
        await waitFor(page, () => !document.querySelector('#offline .offline-text').checkVisibility());
        await waitFor(page, (id) => document.querySelector('#notes-list > li')?.dataset.id === id
          && document.querySelector('#outbox').hidden
          && document.activeElement?.id === 'notes-title', stop.id);
      } finally {
        await page.setOfflineMode(false).catch(() => {});
        await closePage(page);
      }
    }
  });
});

// Runs in the page: what the element's events carry, and what the CSP refuses.
function hearPage() {
  window.seen = { stop: [], error: [], elapsed: 0, csp: [] };
  addEventListener('securitypolicyviolation', (e) => window.seen.csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  addEventListener('vocafuse-stop', (e) => window.seen.stop.push({ id: e.detail.id, duration: e.detail.duration }));
  addEventListener('vocafuse-error', (e) => window.seen.error.push({ code: e.detail.code, userMessage: e.detail.userMessage }));
  addEventListener('vocafuse-progress', (e) => { window.seen.elapsed = e.detail.elapsed; });
}

// The demo page by keyboard alone, and its states axe-audited, in each engine of the driver
// layer (a driver's tab: no viewport, screenshots or request hooks, which the tests above use
// in Chromium).
for (const { name, launch, skip, lacks } of engines()) {
  describe(`the demo page by keyboard, ${name}`, { skip }, () => {
    let drv;
    before(async () => {
      drv = await launch();
    });
    after(async () => {
      await drv?.close();
    });

    // A fresh visitor on the demo page, once the SDK has answered (`recorder`: 'ready' or
    // 'failed') and the notes list has loaded or failed. The page is heard from its start
    // where the engine runs a script before the page's own, else from here on.
    async function openDemo(recorder = 'ready') {
      const page = await drv.newTab({ origins: [server.origin] });
      try {
        if (drv.can('beforeLoad')) await page.beforeLoad(hearPage);
        await page.goto(server.url);
        await page.waitFor(() => document.documentElement.dataset.recorder
          && document.querySelector('#notes').getAttribute('aria-busy') === 'false', undefined, 30_000);
        if (!drv.can('beforeLoad')) await page.evaluate(hearPage);
        assert.equal(await page.evaluate(() => document.documentElement.dataset.recorder), recorder);
      } catch (err) {
        await page.close();
        throw err;
      }
      return page;
    }

    // Finite animations have gone, on a driver's tab. (WebKit lists an animation as finished
    // for a frame or two in which getComputedStyle still answers its last animated opacity:
    // 'finished' is not yet settled there.)
    const tabSettled = (page) => page.waitFor(() => document.getAnimations().every((a) => a.effect.getTiming().iterations === Infinity));

    // The page's trouble is audited in Chromium by the tests above (each state at two sizes).
    const auditedAbove = name === 'chromium' && 'Chromium: the tests above audit this state';

    const state = (page) => page.evaluate(() => document.querySelector('vocafuse-recorder').state);
    const stateIs = (page, s, timeout) => page.waitFor((want) => document.querySelector('vocafuse-recorder').state === want, s, timeout);
    // The focused element: the element's part, or else the document's element's id.
    const focused = (page) => page.evaluate(() => (document.activeElement === document.querySelector('vocafuse-recorder')
      ? document.activeElement.shadowRoot.activeElement?.getAttribute('part') ?? null : document.activeElement?.id ?? null));
    const textOf = (page, selector) => page.evaluate((sel) => document.querySelector(sel).textContent.replace(/\s+/g, ' ').trim(), selector);

    // Records `seconds` by keyboard from the page's start: Tab to Record, Enter, Enter again.
    async function recordByKeyboard(page, seconds) {
      await page.keys(null, 'Tab');
      assert.equal(await focused(page), 'record', 'the first Tab reaches Record');
      await page.keys(null, 'Enter');
      await stateIs(page, 'recording');
      await page.waitFor((s) => window.seen.elapsed >= s, seconds, seconds * 1000 + 15_000);
      await page.keys(null, 'Enter');
      await page.waitFor(() => window.seen.stop.length === 1);
      return (await page.evaluate(() => window.seen.stop))[0];
    }

    test('keyboard only: Tab to Record, Enter records, Space pauses and resumes, Enter stops; the note listed, deleted by Enter; axe at each step', async () => {
      await setFaults(server, null);
      const page = await openDemo();
      try {
        assert.equal(await state(page), 'idle');
        await assertAxeFindsNothing(page, `idle, ${name}`, tabSettled);

        await page.keys(null, 'Tab');
        assert.equal(await focused(page), 'record', 'the first Tab reaches Record');
        await page.keys(null, 'Enter');
        await stateIs(page, 'recording');
        await page.waitFor(() => window.seen.elapsed >= 1, undefined, 20_000);
        await assertAxeFindsNothing(page, `recording, ${name}`, tabSettled);

        await page.keys(null, 'Tab');
        assert.equal(await focused(page), 'pause');
        await page.keys(null, ' ');
        await stateIs(page, 'paused');
        await assertAxeFindsNothing(page, `paused, ${name}`, tabSettled);
        await page.keys(null, ' ');
        await stateIs(page, 'recording');
        await page.waitFor(() => window.seen.elapsed >= 2, undefined, 20_000);
        await page.keys(null, 'Shift+Tab');
        assert.equal(await focused(page), 'record');
        await page.keys(null, 'Enter');

        // Uploaded, and listed at the top of "Your notes"; focus stays on Record.
        await page.waitFor(() => window.seen.stop.length === 1);
        const [stop] = await page.evaluate(() => window.seen.stop);
        await page.waitFor((id) => document.querySelector('#notes-list > li')?.dataset.id === id, stop.id);
        await stateIs(page, 'uploaded');
        assert.ok(stop.duration >= 1.8 && stop.duration < 4, `recorded ${stop.duration} s`);
        assert.equal(await focused(page), 'record');
        assert.deepEqual(await page.evaluate(() => window.seen.error), []);
        await assertAxeFindsNothing(page, `notes listed, ${name}`, tabSettled);

        // Its transcript line leaves "Transcribing…" (the words, or why there are none).
        await page.waitFor((id) => ['transcribed', 'failed'].includes(document.querySelector(`#notes-list > li[data-id="${id}"]`)?.dataset.transcript),
          stop.id, 60_000);
        await assertAxeFindsNothing(page, `transcript shown, ${name}`, tabSettled);

        // Deleted from its Delete button by Enter: gone, focus on the section's heading.
        await page.keys(`#notes-list > li[data-id="${stop.id}"] .delete`, 'Enter');
        await page.waitFor((id) => !document.querySelector(`#notes-list > li[data-id="${id}"]`), stop.id);
        assert.equal(await focused(page), 'notes-title');
        assert.match(await textOf(page, '#notes-status'), /No notes yet/);
        await assertAxeFindsNothing(page, `note deleted, ${name}`, tabSettled);
      } finally {
        await page.close();
      }
    });

    test('uploads failing: the recording waits with what went wrong; "Send now" by keyboard delivers it; axe', { skip: auditedAbove }, async () => {
      await setFaults(server, { path_prefix: '/v1/upload', method: 'POST', status: 503, code: 5002, times: 1000 });
      const page = await openDemo();
      try {
        const stop = await recordByKeyboard(page, 1);
        await page.waitFor((id) => {
          const item = document.querySelector(`#pending-list > li[data-id="${id}"]`);
          return item && item.checkVisibility() && /Tried \d+ times?/.test(item.textContent);
        }, stop.id);
        assert.match(await textOf(page, `#pending-list > li[data-id="${stop.id}"]`), /^\d:\d\d recording · \d+(\.\d)? KB/);
        assert.equal(await page.evaluate(() => document.querySelectorAll('#notes-list > li').length), 0);
        await assertAxeFindsNothing(page, `waiting to send, ${name}`, tabSettled);

        await setFaults(server, null);
        await page.keys('#send-now', 'Enter');
        // The SDK's own retry may deliver it while Send now is still at work: the wait
        // includes where focus went (the heading, as the section and its button go away).
        await page.waitFor((id) => document.querySelector('#notes-list > li')?.dataset.id === id
          && document.querySelector('#outbox').hidden
          && document.activeElement?.id === 'notes-title', stop.id);
        await assertAxeFindsNothing(page, `sent, ${name}`, tabSettled);
      } finally {
        await setFaults(server, null);
        await page.close();
      }
    });

    test('the token endpoint failing: "Your notes" says so; "Try again" by keyboard loads them; axe', { skip: auditedAbove }, async () => {
      await setFaults(server, { path_prefix: '/api/token', method: 'POST', status: 503, code: 5002, times: 1 });
      const page = await openDemo();
      try {
        await page.waitFor(() => !document.querySelector('#notes-error').hidden);
        assert.match(await textOf(page, '#notes-error'), /could not be loaded\. The voice-note service is having trouble/);
        await assertAxeFindsNothing(page, `notes failed to load, ${name}`, tabSettled);
        await page.keys('#notes-retry', 'Enter');
        await page.waitFor(() => document.querySelector('#notes-error').hidden
          && /No notes yet/.test(document.querySelector('#notes-status').textContent));
      } finally {
        await setFaults(server, null);
        await page.close();
      }
    });

    // The wasm's connection cut by the server (the tests above abort the request in Chromium).
    test('the SDK cannot load (no wasm): the page shows NETWORK_ERROR\'s userMessage once; axe', { skip: auditedAbove }, async () => {
      await setFaults(server, { path_prefix: '/sdk/vocafuse.wasm', drop: true, times: 1000 });
      const page = await openDemo('failed');
      try {
        const message = await textOf(page, '#page-error');
        assert.match(message, /The recorder could not start\. \S/);
        const part = await page.evaluate(() => {
          const el = document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=error]');
          return { text: el.textContent, shown: el.checkVisibility() };
        });
        assert.ok(message.endsWith(part.text), `the page shows ${message}, the SDK said ${part.text}`);
        assert.equal(part.shown, false, 'said twice');
        await assertAxeFindsNothing(page, `SDK failed to load, ${name}`, tabSettled);
      } finally {
        await setFaults(server, null);
        await page.close();
      }
    });

    test('the microphone refused: the element shows PERMISSION_DENIED\'s userMessage; axe', { skip: auditedAbove || lacks('refuseMicrophone') }, async () => {
      await setFaults(server, null);
      const page = await drv.newTab({ mic: 'denied', origins: [server.origin] });
      try {
        if (drv.can('beforeLoad')) await page.beforeLoad(hearPage);
        await page.goto(server.url);
        await page.waitFor(() => document.documentElement.dataset.recorder === 'ready', undefined, 30_000);
        if (!drv.can('beforeLoad')) await page.evaluate(hearPage);
        await page.keys(null, 'Tab');
        await page.keys(null, 'Enter');
        await stateIs(page, 'error');
        const [error] = await page.evaluate(() => window.seen.error);
        assert.equal(error.code, 'PERMISSION_DENIED');
        assert.equal(await page.evaluate(() => document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=error]').textContent), error.userMessage);
        await assertAxeFindsNothing(page, `microphone refused, ${name}`, tabSettled);
      } finally {
        await page.close();
      }
    });
  });
}

// <vocafuse-recorder>, the drop-in element, in real browsers (Chromium, Firefox, WebKit: the
// driver layer) with the real MediaRecorder, or WebKit's Web Audio → WAV: one line of HTML
// records, pauses, resumes, stops and uploads, by mouse and by keyboard alone, and its DOM
// events carry what the SDK's callbacks received.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { engines } from './driver.mjs';
import { startServer } from './harness.mjs';
import { assertNoLiveTracks, playable, setFaults } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RECORD = 'vocafuse-recorder >>> [part=record]';
const PAUSE = 'vocafuse-recorder >>> [part=pause]';

let server;
before(async () => {
  server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection'] });
});
after(async () => {
  await server?.stop();
});

// A fresh tab (a new visitor) on the element's page, the microphone `mic`.
async function open(drv, mic = 'granted') {
  const page = await drv.newTab({ mic, origins: [server.origin] });
  try {
    await page.goto(`${server.origin}/test/pages/element.html`);
    await page.waitFor(() => window.pageReady === true, undefined, 15_000);
    await page.waitFor(() => document.querySelector('vocafuse-recorder').control !== null);
  } catch (err) {
    await page.close();
    throw err;
  }
  return page;
}

const stateIs = (page, state, timeout = 15_000) => page.waitFor(
  (s) => document.querySelector('vocafuse-recorder').getAttribute('state') === s, state, timeout);
const recordedAtLeast = (page, seconds) => page.waitFor(
  (s) => window.of('progress').some((e) => e.detail.elapsed >= s), seconds, 15_000);
const hasVoicenote = (page, timeout) => page.waitFor(() => document.querySelector('vocafuse-recorder').voicenote !== null, undefined, timeout);

// What the element shows, read from its shadow root.
function shown(page) {
  return page.evaluate(() => {
    const el = document.querySelector('vocafuse-recorder');
    const part = (name) => el.shadowRoot.querySelector(`[part=${name}]`);
    return {
      state: el.state,
      record: part('record').textContent.trim(),
      pressed: part('record').getAttribute('aria-pressed'),
      pause: part('pause').hidden ? null : part('pause').textContent.trim(),
      status: part('status').textContent,
      error: part('error').textContent,
      remaining: part('ring').hidden ? null : part('remaining').textContent,
      player: part('player').hidden ? null : part('player').src,
      focused: el.shadowRoot.activeElement?.getAttribute('part') ?? null,
    };
  });
}

// Every DOM event carries the very value its callback received, in the same order.
async function assertEventsMatchCallbacks(page) {
  const mismatch = await page.evaluate(() => {
    const names = {
      onStateChange: 'vocafuse-statechange', onStart: 'vocafuse-start', onProgress: 'vocafuse-progress',
      onLevel: 'vocafuse-level', onWarning: 'vocafuse-warning', onStop: 'vocafuse-stop',
      onUploadProgress: 'vocafuse-upload-progress', onUploaded: 'vocafuse-uploaded', onError: 'vocafuse-error',
    };
    if (window.calls.length !== window.events.length) return `${window.calls.length} callbacks, ${window.events.length} events`;
    for (let i = 0; i < window.calls.length; i++) {
      const call = window.calls[i];
      const event = window.events[i];
      // CustomEvent's detail is null where the callback got nothing (onStart).
      if (names[call.name] !== event.type || (call.arg ?? null) !== event.detail) {
        return `#${i}: ${call.name}(${JSON.stringify(call.arg)}) but ${event.type} ${JSON.stringify(event.detail)}`;
      }
    }
    return null;
  });
  assert.equal(mismatch, null);
}

// The note the element says it stored, read back through its audio_url.
async function assertStored(page) {
  const note = await page.evaluate(async () => {
    const el = document.querySelector('vocafuse-recorder');
    const v = el.voicenote;
    const audio = await fetch(v.audio_url, { cache: 'no-store' });
    return { ...v, audioStatus: audio.status, audioBytes: (await audio.arrayBuffer()).byteLength };
  });
  assert.equal(note.audioStatus, 200);
  assert.equal(note.audioBytes, note.size);
  return note;
}

for (const { name, launch, skip, lacks } of engines()) {
  describe(name, { skip }, () => {
    let drv;
    before(async () => {
      drv = await launch();
    });
    after(async () => {
      await drv?.close();
    });

    test('one line of HTML records, pauses, resumes, stops and uploads; the events carry the callbacks\' values', async () => {
      const page = await open(drv);
      try {
        assert.deepEqual(await shown(page), {
          state: 'idle', record: 'Record', pressed: 'false', pause: null, status: 'Ready to record', error: '',
          remaining: null, player: null, focused: null,
        });
        await page.click(RECORD);
        await stateIs(page, 'recording');
        await recordedAtLeast(page, 1);
        const recording = await shown(page);
        assert.equal(recording.record, 'Stop');
        assert.equal(recording.pause, 'Pause');
        assert.ok(Number(recording.remaining) <= 59 && Number(recording.remaining) >= 50, `ring shows ${recording.remaining} s left`);

        await page.click(PAUSE);
        await stateIs(page, 'paused');
        assert.equal((await shown(page)).pause, 'Resume');
        await page.click(PAUSE);
        await stateIs(page, 'recording');
        await recordedAtLeast(page, 2);
        await page.click(RECORD);
        await stateIs(page, 'uploaded');
        await hasVoicenote(page);
        await playable(page, { player: true });

        const done = await shown(page);
        assert.equal(done.status, 'Saved');
        const note = await assertStored(page);
        assert.equal(done.player, note.audio_url, 'the player plays the stored note');
        assert.ok(note.duration >= 1.8 && note.duration < 4, `stored ${note.duration} s`);
        const seen = await page.evaluate(() => window.events.map((e) => e.type)
          .filter((t, i, all) => t !== 'vocafuse-level' && t !== 'vocafuse-progress' && t !== all[i - 1]));
        for (const type of ['vocafuse-start', 'vocafuse-stop', 'vocafuse-uploaded']) assert.ok(seen.includes(type), `${type} in ${seen}`);
        await assertEventsMatchCallbacks(page);
        await assertNoLiveTracks(page, 'after the element\'s take');
      } finally {
        await page.close();
      }
    });

    test('a person playing the preview while it uploads is not cut off: the stored copy takes its place once paused', async () => {
      // The PUT held 3 s: the upload ends while the preview plays (looped, so it plays on).
      await setFaults(server, { path_prefix: '/v1/upload-sessions/', method: 'PUT', delay_ms: 3000, times: 1 });
      const page = await open(drv);
      const player = () => page.evaluate(() => {
        const p = document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=player]');
        return { src: p.src, paused: p.paused };
      });
      try {
        await page.click(RECORD);
        await stateIs(page, 'recording');
        await recordedAtLeast(page, 1);
        await page.click(RECORD);
        await page.waitFor(() => document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=player]').src.startsWith('blob:'));
        const preview = await page.evaluate(async () => {
          const p = document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=player]');
          p.loop = true;
          await p.play();
          return p.src;
        });
        await stateIs(page, 'uploaded', 15_000);
        await hasVoicenote(page);
        assert.deepEqual(await player(), { src: preview, paused: false }, 'the preview plays on');
        await page.evaluate(() => document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=player]').pause());
        await playable(page, { player: true });
      } finally {
        await setFaults(server, null);
        await page.close();
      }
    });

    test('keyboard only: Tab to the button, Enter records, Space pauses and resumes, Enter stops', async () => {
      const page = await open(drv);
      try {
        await page.keys(null, 'Tab');
        assert.equal((await shown(page)).focused, 'record');
        await page.keys(null, 'Enter');
        await stateIs(page, 'recording');
        await recordedAtLeast(page, 1);
        await page.keys(null, 'Tab');
        assert.equal((await shown(page)).focused, 'pause');
        await page.keys(null, ' ');
        await stateIs(page, 'paused');
        await page.keys(null, ' ');
        await stateIs(page, 'recording');
        await page.keys(null, 'Shift+Tab');
        assert.equal((await shown(page)).focused, 'record');
        await page.keys(null, 'Enter');
        await stateIs(page, 'uploaded');
        await hasVoicenote(page);
        await assertStored(page);
        // The pause button went away with the recording; focus stayed on the record button.
        assert.equal((await shown(page)).focused, 'record');
        await assertEventsMatchCallbacks(page);
      } finally {
        await page.close();
      }
    });

    test('offline at the stop: the element shows the upload\'s error; back online, the outbox delivers it and the element is uploaded with no message', async (t) => {
      if (!drv.can('offline')) return t.skip(drv.lacks('offline'));
      const page = await open(drv);
      try {
        await page.click(RECORD);
        await stateIs(page, 'recording');
        await recordedAtLeast(page, 2);
        await page.offline(true);
        await page.waitFor(() => navigator.onLine === false, undefined, 5_000);
        await page.click(RECORD);

        // Every try fails at once while offline: the page hears the outcome after the SDK's
        // six tries (7.75–15.5 s of backoff, never past 20 s), and the recording stays in the outbox.
        await stateIs(page, 'error', 30_000);
        const failed = await page.evaluate(() => {
          const el = document.querySelector('vocafuse-recorder');
          const part = (n) => el.shadowRoot.querySelector(`[part=${n}]`);
          return {
            codes: window.of('error').map((e) => e.detail.code),
            userMessage: window.of('error').at(-1)?.detail.userMessage,
            error: part('error').textContent,
            errorShown: part('error').checkVisibility(),
            progressShown: !part('progress').hidden,
            uploaded: window.of('uploaded').length,
            id: window.of('stop')[0].detail.id,
          };
        });
        assert.equal(failed.codes.at(-1), 'NETWORK_ERROR', `errors heard: ${failed.codes}`);
        assert.ok(failed.userMessage, 'the error carries a userMessage');
        assert.equal(failed.error, failed.userMessage, 'the element shows the error\'s userMessage');
        assert.equal(failed.errorShown, true, 'the error message is on screen');
        assert.equal(failed.progressShown, false, 'no upload bar in error');
        assert.equal(failed.uploaded, 0);

        // Back online: the SDK retries on the `online` event and the recording lands in the
        // background. The control leaves error for uploaded, and the element clears its message.
        await page.offline(false);
        await stateIs(page, 'uploaded', 30_000);
        await hasVoicenote(page, 10_000);

        const done = await shown(page);
        assert.equal(done.state, 'uploaded', 'the control\'s own state');
        assert.equal(done.error, '', 'the error message is cleared once the recording is delivered');
        assert.equal(done.status, 'Saved');
        assert.equal(await page.evaluate(() => document.querySelector('vocafuse-recorder').shadowRoot
          .querySelector('[part=error]').checkVisibility()), false, 'no error box on screen');
        const states = await page.evaluate(() => window.of('statechange').map((e) => e.detail));
        assert.deepEqual(states.slice(-2), ['error', 'uploaded'], `states: ${states}`);
        assert.equal(states.filter((s) => s === 'uploaded').length, 1, `states: ${states}`);
        assert.equal(await page.evaluate(() => window.of('uploaded').length), 1, 'one vocafuse-uploaded');

        // The server holds the recording once, under the id onStop gave.
        const note = await assertStored(page);
        assert.equal(note.id, failed.id);
        const listed = await page.evaluate(async () => {
          const a = await (await fetch('/api/token', { method: 'POST' })).json();
          const token = a.token ?? a.data?.id_token ?? a.data?.jwt_token;
          const res = await fetch('/v1/voicenotes?page=0&limit=50', { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
          const body = await res.json();
          return { status: res.status, total: body.pagination?.total, ids: body.data.map((n) => n.id) };
        });
        assert.deepEqual(listed, { status: 200, total: 1, ids: [failed.id] });
        await assertEventsMatchCallbacks(page);
        await assertNoLiveTracks(page, 'after the late delivery');
      } finally {
        await page.offline(false).catch(() => {});
        await page.close();
      }
    });

    if (name === 'chromium') {
      test('attributes: a max-duration the SDK refuses is INVALID_OPTION on screen; a good one applies to the next take', async () => {
        const page = await open(drv);
        try {
          await page.evaluate(() => document.querySelector('vocafuse-recorder').setAttribute('max-duration', '0'));
          const refused = await page.evaluate(() => ({
            codes: window.of('error').map((e) => e.detail.code),
            control: document.querySelector('vocafuse-recorder').control,
          }));
          assert.deepEqual(refused, { codes: ['INVALID_OPTION'], control: null });
          const userMessage = await page.evaluate(() => window.of('error')[0].detail.userMessage);
          assert.equal((await shown(page)).error, userMessage);

          await page.evaluate(() => document.querySelector('vocafuse-recorder').setAttribute('max-duration', '2'));
          assert.equal((await shown(page)).error, '', 'the refusal is cleared once the attribute is good');
          await page.click(RECORD);
          await stateIs(page, 'uploaded', 20_000);
          await hasVoicenote(page);
          const limit = await page.evaluate(() => window.of('error').slice(1).map((e) => ({ code: e.detail.code, max: e.detail.details.max_duration })));
          assert.deepEqual(limit, [{ code: 'DURATION_EXCEEDED', max: 2 }]);
          const note = await assertStored(page);
          assert.ok(note.duration <= 2.25 && note.duration > 1.5, `stored ${note.duration} s under a 2 s limit`);
        } finally {
          await page.close();
        }
      });

      test('ten seconds before the limit, the status (a live region) says so once', async () => {
        const page = await open(drv);
        try {
          await page.evaluate(() => {
            const el = document.querySelector('vocafuse-recorder');
            el.setAttribute('max-duration', '12');
            // When the status first says it, in the recording's own time (the progress event
            // that made it say so is the last one dispatched): the test's polling is not counted.
            new MutationObserver(() => {
              if (window.saidAt === undefined && /left/.test(el.shadowRoot.querySelector('[part=status]').textContent)) {
                window.saidAt = window.of('progress').at(-1).detail.elapsed;
              }
            }).observe(el.shadowRoot.querySelector('[part=status]'), { childList: true, characterData: true, subtree: true });
          });
          await page.click(RECORD);
          await stateIs(page, 'recording');
          await page.waitFor(() => window.saidAt !== undefined, undefined, 15_000);
          const said = await page.evaluate(() => {
            const status = document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=status]');
            return { text: status.textContent, live: status.getAttribute('aria-live'), elapsed: window.saidAt };
          });
          assert.equal(said.text, 'Recording, 10 seconds left');
          assert.equal(said.live, 'polite');
          assert.ok(said.elapsed >= 1.5 && said.elapsed < 3, `said at ${said.elapsed} s of 12`);
          await page.click(RECORD);
          await stateIs(page, 'uploaded', 20_000);
        } finally {
          await page.close();
        }
      });
    }

    // Not in Firefox, whose refusal takes a second browser launched to refuse.
    if (name !== 'firefox') {
      test('a refused microphone: the error\'s userMessage in an alert, the same error as a DOM event', { skip: lacks('refuseMicrophone') }, async () => {
        const page = await open(drv, 'denied');
        try {
          await page.click(RECORD);
          await stateIs(page, 'error');
          const [error] = await page.evaluate(() => window.of('error').map((e) => ({ code: e.detail.code, userMessage: e.detail.userMessage })));
          assert.equal(error.code, 'PERMISSION_DENIED');
          const view = await shown(page);
          assert.equal(view.error, error.userMessage);
          assert.equal(await page.evaluate(() => document.querySelector('vocafuse-recorder').shadowRoot
            .querySelector('[part=error]').getAttribute('role')), 'alert');
          await assertEventsMatchCallbacks(page);
          await assertNoLiveTracks(page, 'after the refusal');
        } finally {
          await page.close();
        }
      });
    }
  });
}

// The SDK in WebKit, the engine of Safari: WebKitGTK's MiniBrowser under WebKitWebDriver
// (see webkit.mjs), with WebKit's mock microphone (tones, not speech). Its MediaRecorder
// makes only MP4, so every recording here goes the Web Audio → WAV way, as in Safari
// before 18.4.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

import { ffprobe, freshTmpDir, startServer } from './harness.mjs';
import {
  attachLosingTheMicrophoneAt2s, attachPausingAt2s, loadInRefusingFrame, putsOf as serverPuts, requestsOf, setFaults,
} from './support.mjs';
import { launchWebKit, webkitAvailable } from './webkit.mjs';
import {
  multipartScenario, standInExpiredScenario, standInMultipartScenario, standInSlowDownScenario, startFlowRig, tokenShapeScenario,
} from './flow-scenarios.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let server;
let wk;
before(async () => {
  server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection'] });
});
after(async () => {
  await server?.stop();
});
// Each test has a browser of its own: WebKitGTK keeps left pages alive (its back/forward
// cache, the same web process, their IndexedDB connections and locks), and one test's
// engine trouble must not become the next test's failure. A session starts in about 1 s.
beforeEach(async () => {
  wk = await launchWebKit();
});
afterEach(async (t) => {
  if (t.passed === false) t.diagnostic(`webkit said, last: ${wk?.lastWords() || '(nothing)'}`);
  await wk?.close();
  wk = undefined;
});

// A test that failed because a web process aborted in GLib as it started (see
// WebKit.glibAborted) runs once more, in a new browser. Any other failure, or that one
// twice, fails it.
function wkTest(name, fn) {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (!wk?.glibAborted()) throw err;
      t.diagnostic(`a WebKit web process aborted in GLib (${wk.lastWords()}); failed with ${String(err.message).split('\n')[0]}; run again in a new browser`);
      await wk.close();
      await fault(null); // what the first run set up of the server
      wk = await launchWebKit();
      await fn(t);
    }
  });
}

const fault = (plan) => setFaults(server, plan);
const putsOf = (id) => serverPuts(server, id);

async function open(file) {
  // Each test is a new visitor (the server holds only what it made). Cookies are cleared
  // from the page of the test before, on the same origin.
  await wk.clearCookies().catch(() => {});
  await wk.goto(`${server.origin}/test/pages/${file}`);
  await wk.waitFor(() => window.pageReady === true);
}

const recorded = (seconds) => wk.waitFor((s) => window.events('progress').some((e) => e.arg.elapsed >= s), seconds, 20_000);
const waitEvent = (kind, n = 1, timeout = 20_000) => wk.waitFor(([k, c]) => window.events(k).length >= c, [kind, n], timeout);

// The last onStop's recording, its bytes probed by ffprobe.
async function lastRecording() {
  const rec = await wk.evaluate(() => {
    const s = window.events('stop');
    const r = s[s.length - 1].arg;
    return { id: r.id, format: r.format, duration: r.duration, size: r.size, peakLevel: r.peakLevel };
  });
  const file = path.join(await freshTmpDir('webkit-'), `rec.${rec.format}`);
  await writeFile(file, await wk.blob(() => { const s = window.events('stop'); return s[s.length - 1].arg.blob; }));
  return { rec, probe: await ffprobe(file) };
}

// The stored voice note's bytes, read back from the server with the page's own token.
async function storedProbe(id) {
  await wk.evaluate(async (noteId) => {
    const a = await (await fetch('/api/token', { method: 'POST', credentials: 'same-origin' })).json();
    const token = a.token ?? a.data?.id_token ?? a.data?.jwt_token; // any shape in use
    window.stored = await (await fetch(`/v1/voicenotes/${noteId}/audio`, { headers: { Authorization: `Bearer ${token}` } })).blob();
  }, id);
  const file = path.join(await freshTmpDir('webkit-stored-'), 'stored.wav');
  await writeFile(file, await wk.blob(() => window.stored));
  return ffprobe(file);
}

const noLiveTracks = () => wk.waitFor(() => window.liveTracks() === 0, undefined, 5_000);

describe('webkit', { skip: !webkitAvailable() && 'WebKitGTK (webkit2gtk-driver) is not installed' }, () => {
  wkTest('record and stop: a 16 kHz mono WAV, uploaded, stored and read back the same', async () => {
    await open('recorder.html');
    await wk.evaluate(() => window.attach());
    await wk.click('#record-btn');
    await recorded(2);
    await wk.click('#record-btn');
    await waitEvent('stop');
    const { rec, probe } = await lastRecording();
    assert.equal(rec.format, 'wav');
    assert.deepEqual([probe.codec, probe.sampleRate, probe.channels], ['pcm_s16le', 16000, 1]);
    assert.ok(Math.abs(probe.duration - rec.duration) < 0.01 && rec.duration > 1.9, `duration ${rec.duration}, file ${probe.duration}`);
    await waitEvent('uploaded');
    const stored = await storedProbe(rec.id);
    assert.ok(Math.abs(stored.duration - probe.duration) < 0.01, `stored ${stored.duration} s`);
    await noLiveTracks();
  });

  wkTest('maxDuration: 1.5 stops by itself with DURATION_EXCEEDED, the WAV no longer than the limit', async () => {
    await open('recorder.html');
    await wk.evaluate(() => window.attach({ maxDuration: 1.5 }));
    await wk.click('#record-btn');
    await waitEvent('stop', 1, 15_000);
    const err = await wk.evaluate(() => window.events('error')[0].arg.code);
    assert.equal(err, 'DURATION_EXCEEDED');
    const { rec } = await lastRecording();
    assert.ok(rec.duration <= 1.5 && rec.duration > 1.3, `duration ${rec.duration}`);
    await noLiveTracks();
  });

  wkTest('the microphone refused (a permissions policy) → PERMISSION_DENIED, nothing left live', async () => {
    await open('recorder.html');
    await loadInRefusingFrame(wk, 'recorder.html');
    await wk.evaluate(() => { window.refused.attach(); window.refused.document.querySelector('#record-btn').click(); });
    await wk.waitFor(() => window.refused.events('error').length > 0);
    const r = await wk.evaluate(() => ({
      code: window.refused.events('error')[0].arg.code, state: window.refused.control.state, live: window.refused.liveTracks(),
    }));
    assert.deepEqual(r, { code: 'PERMISSION_DENIED', state: 'error', live: 0 });
  });

  wkTest("the reference's onError example takes the PERMISSION_DENIED branch", async () => {
    await open('recorder.html');
    await loadInRefusingFrame(wk, 'reference.html');
    await wk.evaluate(() => window.refused.document.querySelector('#record-btn').click());
    await wk.waitFor(() => window.refused.messages.length > 0);
    assert.deepEqual(await wk.evaluate(() => window.refused.messages.map((m) => m.text)), ['Please allow microphone access']);
  });

  // The element's refusal (element.test.mjs's, which needs a refusing browser) in a frame
  // whose permissions policy refuses the microphone.
  wkTest('<vocafuse-recorder> refused the microphone: the error\'s userMessage in an alert, the same error as a DOM event', async () => {
    await open('recorder.html');
    await loadInRefusingFrame(wk, 'element.html');
    await wk.waitFor(() => window.refused.pageReady === true && window.refused.document.querySelector('vocafuse-recorder').control !== null);
    await wk.evaluate(() => window.refused.document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=record]').click());
    await wk.waitFor(() => window.refused.document.querySelector('vocafuse-recorder').getAttribute('state') === 'error');
    const r = await wk.evaluate(() => {
      const w = window.refused;
      const part = w.document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=error]');
      const errors = w.of('error').map((e) => ({ code: e.detail.code, userMessage: e.detail.userMessage }));
      // Every DOM event carries the very value its callback received, in the same order.
      const same = w.calls.length === w.events.length && w.calls.every((c, i) => (c.arg ?? null) === w.events[i].detail);
      return { errors, shown: part.textContent, role: part.getAttribute('role'), same, live: w.liveTracks() };
    });
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].code, 'PERMISSION_DENIED');
    assert.deepEqual([r.shown, r.role, r.same, r.live], [r.errors[0].userMessage, 'alert', true, 0]);
  });

  wkTest('pause and resume: 2 s + 2 s paused + 2 s holds 4 s; levels measured; peakLevel agrees', async () => {
    await open('recorder.html');
    await wk.evaluate(attachPausingAt2s, {});
    await wk.click('#record-btn');
    await wk.waitFor(() => window.control.state === 'paused');
    await delay(2000); // the pause itself
    await wk.evaluate(() => {
      window.plan.stopAt = 4;
      window.control.resume();
    });
    await waitEvent('stop');
    const { rec, probe } = await lastRecording();
    assert.ok(Math.abs(probe.duration - 4) <= 0.3, `${probe.duration} s for 4 s recorded`);
    const levels = await wk.evaluate(() => {
      const start = window.events('start')[0].t;
      const stop = window.events('state').find((e) => e.arg === 'processing').t;
      const l = window.events('level').filter((e) => e.t >= start && e.t <= stop && e.arg > 0);
      // The pause as it was (2 s and the driver's round trips), from the page's state log.
      const states = window.events('state');
      const paused = states.find((e) => e.arg === 'paused').t;
      const resumed = states.find((e) => e.arg === 'recording' && e.t > paused).t;
      return {
        can: window.control.canMeasureLevel, max: Math.max(0, ...l.map((e) => e.arg)), n: l.length,
        seconds: (stop - start - (resumed - paused)) / 1000,
      };
    });
    assert.equal(levels.can, true);
    assert.ok(levels.n / levels.seconds >= 10, `${levels.n} levels in ${levels.seconds} s recorded`);
    assert.ok(levels.max > 0.05, `the mock microphone's loudest level ${levels.max}`);
    assert.ok(rec.peakLevel >= levels.max && rec.peakLevel - levels.max < 0.05, `peakLevel ${rec.peakLevel}, max ${levels.max}`);
    await noLiveTracks();
  });

  wkTest('the microphone track ends mid-recording: kept, uploaded, DEVICE_LOST, the next recording works', async () => {
    await open('recorder.html');
    await wk.evaluate(attachLosingTheMicrophoneAt2s);
    await wk.click('#record-btn');
    await waitEvent('uploaded');
    const r = await wk.evaluate(() => ({ code: window.events('error')[0].arg.code, recorded: window.events('error')[0].arg.details.recorded }));
    assert.equal(r.code, 'DEVICE_LOST');
    const { rec } = await lastRecording();
    assert.ok(Math.abs(rec.duration - 2) < 0.4 && r.recorded === rec.duration, `kept ${rec.duration} s`);
    await wk.waitFor(() => window.control.state === 'idle');
    await noLiveTracks();
    await wk.click('#record-btn');
    await waitEvent('start', 2);
    await wk.click('#record-btn');
    await waitEvent('stop', 2);
    await noLiveTracks();
  });

  // The outbox's rows (a 503 on POST /v1/upload, a recording pending across a reload and
  // how WebKit keeps it) run in outbox.test.mjs for every engine; a 1002, in upload.test.mjs.

  wkTest('the page left in the middle of a recording: the next load rebuilds the WAV from the journal', async () => {
    await open('outbox.html');
    await wk.click('#record-btn');
    await recorded(3);
    const seen = performance.now();
    await wk.waitFor(async () => (await window.journalIds()).length > 0);
    const [id] = await wk.evaluate(() => window.journalIds());
    // Away without a stop: the tab's page is replaced, as when the user follows a link.
    await wk.goto('about:blank');
    const more = (performance.now() - seen) / 1000; // recorded after the test saw 3 s
    await open('outbox.html');
    await wk.waitFor(async () => (await window.sdk.pending()).length === 0 && window.events('sdkUploaded').length > 0, undefined, 60_000)
      .catch(async (err) => { // say where the recording stopped: the journal, the outbox, an error
        const page = await wk.evaluate(async () => ({ journals: await window.journalIds(), pending: await window.pendingNow(),
          errors: window.events('sdkError').map((e) => e.arg.code), diagnostics: await window.sdk.constructor.diagnostics() }));
        throw new Error(`${err.message}; the page: ${JSON.stringify(page)}; the server: ${JSON.stringify(requestsOf(server).slice(-5))}`);
      });
    assert.equal(putsOf(id).filter((e) => e.status < 300).length, 1, 'stored once');
    const stored = await storedProbe(id);
    assert.equal(stored.codec, 'pcm_s16le');
    assert.ok(stored.duration >= 2 && stored.duration <= 3.3 + more, `kept ${stored.duration} s of 3 (+ ${more.toFixed(2)})`);
  });
});

// WebKit's own facts about Web Audio, which the WAV capture answers (pages/audio-spy.html
// sees what the SDK makes).
describe('webkit: the WAV capture', { skip: !webkitAvailable() && 'WebKitGTK (webkit2gtk-driver) is not installed' }, () => {
  // The recording's bytes (onStop's Blob) and the stored note's, read back with the page's token.
  async function recordedAndStored() {
    const id = await wk.evaluate(() => window.events('stop').at(-1).arg.id);
    const recorded = await wk.blob(() => window.events('stop').at(-1).arg.blob);
    await wk.evaluate(async (noteId) => {
      const a = await (await fetch('/api/token', { method: 'POST', credentials: 'same-origin' })).json();
      const token = a.token ?? a.data?.id_token ?? a.data?.jwt_token;
      window.stored = await (await fetch(`/v1/voicenotes/${noteId}/audio`, { headers: { Authorization: `Bearer ${token}` } })).blob();
    }, id);
    return { recorded, stored: await wk.blob(() => window.stored) };
  }

  // The loudest sample of a 16-bit PCM WAV, full scale 1.
  function peakOf(wav) {
    let at = 12;
    while (wav.toString('latin1', at, at + 4) !== 'data') at += 8 + wav.readUInt32LE(at + 4);
    let peak = 0;
    for (let i = at + 8; i + 1 < wav.length; i += 2) peak = Math.max(peak, Math.abs(wav.readInt16LE(i)));
    return peak / 32768;
  }

  // Records 1.5 s, pauses 1.5 s, records to 3 s and stops, all in the page (no driver round
  // trip recorded), and uploads: the WAV holds 3 s, no paused time.
  async function pausedTake(query) {
    await open(`audio-spy.html${query}`);
    await wk.evaluate(() => {
      let paused = false;
      window.attach({
        onProgress: (p) => {
          window.note('progress')(p);
          if (!paused && p.elapsed >= 1.5) {
            paused = true;
            window.control.pause();
            setTimeout(() => window.control.resume(), 1500); // the pause itself, 1.5 s
          } else if (paused && p.elapsed >= 3 && window.control.state === 'recording') window.control.stop();
        },
      });
    });
    await wk.click('#record-btn');
    await waitEvent('uploaded', 1, 30_000);
    const { recorded, stored } = await recordedAndStored();
    const file = path.join(await freshTmpDir('webkit-wav-'), 'rec.wav');
    await writeFile(file, recorded);
    return {
      spy: await wk.evaluate(() => ({ worklets: window.audioSpy.worklets, scriptProcessors: window.audioSpy.scriptProcessors })),
      rec: await wk.evaluate(() => { const r = window.events('stop').at(-1).arg; return { format: r.format, duration: r.duration }; }),
      probe: await ffprobe(file), recorded, stored,
    };
  }

  for (const [sampler, query, used] of [
    // WebKit has AudioWorklet (Safari 14.1 on): the SDK's sampler runs in the audio thread.
    ['its AudioWorklet', '', { worklets: 1, scriptProcessors: 0 }],
    // Safari before 14.1 has no AudioWorklet, only the deprecated ScriptProcessorNode.
    ['the ScriptProcessor fallback (AudioWorklet hidden)', '?sampler=script-processor', { worklets: 0, scriptProcessors: 1 }],
  ]) {
    wkTest(`WAV through ${sampler}: 1.5 s + a pause + 1.5 s is a 3 s 16 kHz mono WAV, stored byte for byte`, async () => {
      const { spy, rec, probe, recorded, stored } = await pausedTake(query);
      assert.deepEqual(spy, used, 'the sampler the SDK made');
      assert.equal(rec.format, 'wav');
      assert.deepEqual([probe.codec, probe.sampleRate, probe.channels], ['pcm_s16le', 16000, 1]);
      assert.ok(Math.abs(probe.duration - rec.duration) < 0.01, `onStop says ${rec.duration} s, the file ${probe.duration} s`);
      assert.ok(Math.abs(probe.duration - 3) <= 0.3, `${probe.duration} s for 3 s recorded (a pause left in, or samples lost)`);
      assert.ok(peakOf(recorded) > 0.05, `the mock microphone's tone, peak ${peakOf(recorded)}`);
      assert.ok(stored.equals(recorded), `stored ${stored.length} bytes, recorded ${recorded.length}`);
      await noLiveTracks();
    });
  }

  // WebKit runs an AudioContext only if made within a user gesture's activation (about 5 s
  // here) or while the page captures: one made by script stays suspended. The SDK makes the
  // take's within the record button's click, before the microphone is open.
  wkTest('the AudioContext made within the click runs; one made outside a gesture stays suspended', async () => {
    await open('audio-spy.html');
    const outside = await wk.evaluate(async () => {
      const ctx = new AudioContext();
      const answer = await Promise.race([ctx.resume().then(() => 'resumed'), new Promise((resolve) => { setTimeout(() => resolve('no answer in 1 s'), 1000); })]);
      const state = ctx.state;
      await ctx.close();
      return { answer, state };
    });
    assert.equal(outside.state, 'suspended', `a context made by script: ${JSON.stringify(outside)}`);

    await wk.evaluate(() => window.attach({ autoUpload: false }));
    await wk.click('#record-btn');
    await waitEvent('start');
    await wk.waitFor(() => window.events('level').some((e) => e.arg > 0));
    const made = await wk.evaluate(() => ({ contexts: window.audioSpy.contexts.slice(1), canMeasureLevel: window.control.canMeasureLevel }));
    assert.equal(made.contexts.length, 1, JSON.stringify(made.contexts));
    const [sdk] = made.contexts;
    assert.deepEqual([sdk.madeDuring, sdk.trusted], ['click', true], `the SDK's AudioContext was made during ${JSON.stringify(sdk)}`);
    assert.ok(sdk.states.includes('running'), `its states: ${sdk.states}`);
    assert.equal(made.canMeasureLevel, true);
    await wk.click('#record-btn');
    await waitEvent('stop');
    assert.equal(await wk.evaluate(() => window.events('stop')[0].arg.format), 'wav');
    await noLiveTracks();
  });
});

// VocaFuse's upload flow in WebKit (the scenarios of flow-scenarios.mjs, as flow.test.mjs runs
// them in Chromium and Firefox): POST /v1/upload then presigned PUTs, the token endpoint in
// each shape, a file in two parts stored byte for byte, and the object-storage stand-in.
describe('webkit: VocaFuse\'s upload flow', { skip: !webkitAvailable() && 'WebKitGTK (webkit2gtk-driver) is not installed' }, () => {
  let rig;
  before(async () => { rig = await startFlowRig(); });
  after(async () => { await rig?.stop(); });

  for (const shape of ['id_token', 'jwt_token', 'token']) {
    wkTest(`the token endpoint answers in the ${shape} shape: recorded, POST /v1/upload, PUT, stored as its owner`, () =>
      tokenShapeScenario(wk, rig, shape, `customer_${shape}_webkit`));
  }
  wkTest('a 6.7 MB file given to sdk.upload() goes in two parts and is stored byte for byte', () => multipartScenario(wk, rig));
  wkTest('through the object-storage stand-in: a SlowDown, then delivered; no XML for the page', () => standInSlowDownScenario(wk, rig));
  wkTest('through the object-storage stand-in: an expired URL → asked again with the same key, delivered', () => standInExpiredScenario(wk, rig));
  wkTest('through the object-storage stand-in: a file in two parts, one slowed down, stored byte for byte', () => standInMultipartScenario(wk, rig));
});

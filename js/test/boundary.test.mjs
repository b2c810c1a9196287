// What the Go side holds and what a bug in it costs: controls and SDK instances release
// what they hold, and a panic at any JS→Go boundary is that control's INTERNAL_ERROR,
// with the microphone released and the page still recording afterwards. In each engine of
// the driver layer (WebKit's recordings go the Web Audio → WAV way).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { engines } from './driver.mjs';
import { startServer } from './harness.mjs';
import { assertNoLiveTracks, waitForState } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let server;
before(async () => {
  server = await startServer({ testPagesDir: HERE });
});
after(async () => {
  await server?.stop();
});

async function open(drv, query = '') {
  const page = await drv.newTab({ origins: [server.origin] });
  try {
    await page.goto(`${server.origin}/test/pages/recorder.html${query}`);
    await page.waitFor(() => window.pageReady === true, undefined, 15_000);
    await page.evaluate(() => window.sdk.ready);
  } catch (err) {
    await page.close();
    throw err;
  }
  return page;
}

// The diagnostics once the Go side has settled: the same reading twice in a row, a
// control's loop goroutine ending on its own a moment after destroy().
function settled(page) {
  return page.evaluate(async () => {
    let last = null;
    for (let i = 0; i < 200; i++) {
      const d = await window.VocaFuse.diagnostics();
      if (last && JSON.stringify(last) === JSON.stringify(d)) return d;
      last = d;
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    }
    return last;
  });
}

for (const { name, launch, skip } of engines()) {
  describe(name, { skip }, () => {
    let drv;
    before(async () => {
      drv = await launch(name === 'chromium' ? { extraArgs: ['--js-flags=--expose-gc'] } : undefined);
    });
    after(async () => {
      await drv?.close();
    });

    test('200 addVoiceNote + destroy() cycles leave goroutines, controls and wasm memory flat', async () => {
      const page = await open(drv);
      try {
        const cycles = (n) => page.evaluate(async (count) => {
          let attached;
          for (let i = 0; i < count; i++) {
            const control = window.sdk.addVoiceNote('#record-btn', {});
            await new Promise((resolve) => setTimeout(resolve, 0)); // its Go side attaches
            if (i === 0) attached = (await window.VocaFuse.diagnostics()).controls;
            control.destroy();
          }
          return attached;
        }, n);
        const start = await settled(page);
        // The first 20 are the warm-up: the Go heap finds its size; the other 180 must not move it.
        assert.equal(await cycles(20), start.controls + 1, 'the control never reached Go: the test would prove nothing');
        const before = await settled(page);
        await cycles(180);
        const after = await settled(page);
        console.error(`[${name}] 200 cycles: at the start ${JSON.stringify(start)}, after 20 ${JSON.stringify(before)}, after 200 ${JSON.stringify(after)}`);
        assert.equal(after.controls, start.controls, 'controls left behind');
        assert.equal(after.goroutines, start.goroutines, 'goroutines left behind');
        assert.ok(after.wasmMemory <= before.wasmMemory * 1.1, `wasm memory grew from ${before.wasmMemory} to ${after.wasmMemory}`);
        // And the page still records.
        await page.evaluate(() => window.attach());
        await page.click('#record-btn');
        await page.waitForEvent('start');
        await page.click('#record-btn');
        await page.waitForEvent('stop');
      } finally {
        await page.close();
      }
    });

    // Firefox and WebKit give a page no way to force a collection, which this needs.
    test('20 SDK instances made and dropped are released', {
      skip: name !== 'chromium' && `${name} gives a page no way to force a garbage collection (window.gc is V8's, with --expose-gc)`,
    }, async () => {
      const page = await open(drv);
      try {
        // One instance at a time, each with a control, dropped and collected before the
        // next: a leak grows with the count, while a burst of live instances would only
        // measure where Go's collector happened to run.
        const makeAndDrop = async () => {
          const base = (await settled(page)).sdks;
          const made = await page.evaluate(async () => {
            const sdk = new window.VocaFuse({ tokenEndpoint: '/api/token' });
            await sdk.ready;
            const control = sdk.addVoiceNote('#record-btn', {});
            await new Promise((resolve) => setTimeout(resolve, 0)); // its Go side attaches
            control.destroy();
            return (await window.VocaFuse.diagnostics()).sdks;
          });
          assert.equal(made, base + 1, 'the instance never reached Go: the test would prove nothing');
          // Collected, the instance's FinalizationRegistry entry releases its Go side.
          await page.waitFor(async (b) => {
            window.gc();
            return (await window.VocaFuse.diagnostics()).sdks === b;
          }, base, 30_000);
        };
        const start = await settled(page);
        for (let i = 0; i < 5; i++) await makeAndDrop(); // the warm-up: the Go heap finds its size
        const before = await settled(page);
        for (let i = 0; i < 15; i++) await makeAndDrop();
        const after = await settled(page);
        console.error(`[${name}] 20 SDKs: at the start ${JSON.stringify(start)}, after 5 ${JSON.stringify(before)}, after 20 ${JSON.stringify(after)}`);
        assert.equal(after.sdks, start.sdks, 'instances left behind');
        assert.equal(after.goroutines, start.goroutines, 'goroutines left behind');
        assert.ok(after.wasmMemory <= before.wasmMemory * 1.1, `wasm memory grew from ${before.wasmMemory} to ${after.wasmMemory}`);
      } finally {
        await page.close();
      }
    });

    // The panic build (-tags vocafuse_panic) panics once at the next boundary of the kind
    // the page names in window.vocafusePanic.
    // A goroutine panics first while the take waits for its audio to start; armed after
    // onStart, in the one that reads the finished recording.
    for (const [kind, afterStart] of [['settle', false], ['listener', false], ['timer', false], ['goroutine', false], ['goroutine', true]]) {
      const when = afterStart ? ' after stop' : '';
      test(`a panic in a ${kind} callback${when} is INTERNAL_ERROR, the microphone is released, the next recording works`, async () => {
        const page = await open(drv, '?wasm=/test/pages/generated/panic.wasm');
        try {
          await page.evaluate(() => window.attach({ autoUpload: false }));
          // The instance's load-time journal recovery awaits IndexedDB: armed before it
          // ends, its settle (not the control's) would take the panic.
          await page.waitFor(async () => (await window.VocaFuse.diagnostics()).recovering === 0);
          const arm = () => page.evaluate((k) => { window.vocafusePanic = k; }, kind);
          if (!afterStart) await arm();
          await page.click('#record-btn');
          if (afterStart) {
            await page.waitForEvent('start');
            await arm();
            await page.click('#record-btn');
          }
          await page.waitFor(() => window.events('error').some((e) => e.arg.code === 'INTERNAL_ERROR'));
          assert.equal(await page.evaluate(() => window.vocafusePanic), null, 'the panic was not injected');
          await waitForState(page, 'error');
          await assertNoLiveTracks(page, `after a panic in a ${kind} callback`);
          // The Go program lives on: the same control records again (counting from the
          // events the first take made, or the waits would be met by those).
          const [starts, stops] = await page.evaluate(() => [window.events('start').length, window.events('stop').length]);
          await page.click('#record-btn');
          await page.waitForEvent('start', starts + 1);
          await page.click('#record-btn');
          await page.waitForEvent('stop', stops + 1);
          await waitForState(page, 'idle');
          await assertNoLiveTracks(page, 'after the next recording');
        } finally {
          await page.close();
        }
      });
    }
  });
}

// What keeps the click and the stop fast (docs/performance.md), checked on one short note
// per browser: between the click and MediaRecorder's start the SDK does what a hand-written
// page does and no more (the level meter and the token come once it has started), and
// Go's collector runs after onUploaded, not in the tasks that lead to it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { browsers, closePage, startServer } from './harness.mjs';
import { openPage, waitFor } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Run before the page's own scripts: each call that matters is logged in order.
function spyOnTheClick() {
  window.order = [];
  const spy = (proto, name, label) => {
    const original = proto[name];
    proto[name] = function spied(...args) {
      window.order.push(label(args));
      return original.apply(this, args);
    };
  };
  spy(MediaRecorder.prototype, 'start', () => 'MediaRecorder.start');
  spy(AudioContext.prototype, 'createMediaStreamSource', () => 'level meter');
  spy(window, 'fetch', ([url]) => (String(url).includes('/api/token') ? 'token' : 'fetch'));
}

let server;

before(async () => {
  server = await startServer({ testPagesDir: HERE });
});
after(async () => {
  await server?.stop();
});

for (const { name, launch } of browsers()) {
  describe(name, () => {
    let browser;
    before(async () => {
      browser = await launch();
    });
    after(async () => {
      await browser?.close();
    });

    test('MediaRecorder starts before the level meter and the token; Go collects after onUploaded', async () => {
      const page = await openPage(browser, `${server.origin}/test/pages/crossings.html?seconds=1`, {
        before: (p) => p.evaluateOnNewDocument(spyOnTheClick),
      });
      try {
        await page.click('#record-btn');
        await waitFor(page, () => window.events('uploaded').length > 0 || window.events('error').length > 0, undefined, 60_000);
        const { order, errors, canMeasure } = await page.evaluate(() => ({
          order: window.order.filter((o) => o !== 'fetch'),
          errors: window.events('error').map((e) => e.arg.code),
          canMeasure: window.control.canMeasureLevel,
        }));
        assert.deepEqual(errors, []);
        assert.equal(order[0], 'MediaRecorder.start', `in order: ${order.join(', ')}`);
        assert.ok(order.includes('token'), `in order: ${order.join(', ')}`);
        // Headless Firefox runs no AudioContext here: no meter, before the change or after.
        if (name === 'chromium') assert.equal(canMeasure, true, 'the level meter still measures');
        assert.equal(order.includes('level meter'), canMeasure, `in order: ${order.join(', ')}`);

        // Go's collector finalizes the JavaScript values a note left behind (finalizeRef):
        // hundreds at once. None of that between the upload's answer and onUploaded; it
        // comes in a task of its own, after.
        const finalized = (m) => m.imports['syscall/js.finalizeRef'] || 0;
        const marks = await page.evaluate(() => window.crossings.marks);
        const put = marks.findIndex((m) => /^load PUT .* 200$/.test(m.label));
        const uploaded = marks.findIndex((m) => m.label === 'uploaded');
        assert.ok(put >= 0 && uploaded > put, `marks: ${marks.map((m) => m.label).join(', ')}`);
        const during = finalized(marks[uploaded]) - finalized(marks[put]);
        assert.ok(during < 20, `${during} values finalized between the PUT's answer and onUploaded`);
        await waitFor(page, (n) => (window.crossings.snapshot().imports['syscall/js.finalizeRef'] || 0) >= n + 20,
          finalized(marks[uploaded]), 10_000);
      } finally {
        await closePage(page);
      }
    });
  });
}

// Uploads in real browsers (Chromium, Firefox, WebKit: the driver layer) against the real
// local API, with its fault injection: the SDK's token handling and retries as the server's
// request log shows them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { engines } from './driver.mjs';
import { ffprobe, freePort, startServer } from './harness.mjs';
import { playable, sessionPuts, uploadPosts } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let server;
before(async () => {
  server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection'] });
});
after(async () => {
  await server?.stop();
});

// The server's request log lines since `from`, parsed.
function requests(from = 0) {
  return server.logs.slice(from)
    .filter((line) => line.startsWith('stderr: {'))
    .map((line) => JSON.parse(line.slice('stderr: '.length)))
    .filter((entry) => entry.msg === 'request');
}

async function fault(plan) {
  const res = await fetch(`${server.origin}/_faults`, { method: plan ? 'POST' : 'DELETE', body: plan && JSON.stringify(plan) });
  assert.ok(res.ok, `/_faults answered ${res.status}`);
}

// recorder.html in a fresh tab (a new visitor) with the microphone granted, its SDK made
// with sdkOptions and its button attached.
async function open(drv, sdkOptions = {}) {
  const page = await drv.newTab();
  try {
    await page.goto(`${server.origin}/test/pages/recorder.html`);
    await page.waitFor(() => window.pageReady === true, undefined, 15_000);
  } catch (err) {
    await page.close();
    throw err;
  }
  await page.evaluate((o) => {
    window.sdk = new window.VocaFuse({ tokenEndpoint: '/api/token', ...o });
    window.attach({
      onUploadProgress: (p) => window.log.push({ kind: 'uploadprogress', arg: p, t: performance.now() }),
      onUploaded: (v) => window.log.push({ kind: 'uploaded', arg: v, t: performance.now(), now: Date.now() }),
    });
  }, sdkOptions);
  return page;
}

// Records about a second and waits for the upload's outcome: uploaded or an error.
async function recordAndUpload(page, { timeout = 30_000 } = {}) {
  await page.click('#record-btn');
  await page.waitForEvent('start');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await page.click('#record-btn');
  await page.waitForEvent('stop');
  await page.waitFor(() => ['uploaded', 'error'].includes(window.control.state), undefined, timeout);
  return page.evaluate(() => {
    const stop = window.events('stop')[0];
    const errors = window.events('error').map((e) => ({
      code: e.arg.code, apiCode: e.arg.apiCode, status: e.arg.status, details: e.arg.details, t: e.t,
    }));
    const uploaded = window.events('uploaded')[0];
    const progress = window.events('uploadprogress').map((e) => e.arg.percent);
    return {
      state: window.control.state, id: stop.arg.id, stoppedAt: stop.t, errors, progress,
      voicenote: uploaded && uploaded.arg, uploadedAt: uploaded && uploaded.t,
    };
  });
}

// The SDK's two steps (POST /v1/upload, then the PUT of the bytes to the presigned URL),
// since line `from` of the server's log: each test makes one recording at a time.
const posts = (from) => uploadPosts(server, from);
const puts = (from) => sessionPuts(server, from);
const POST_UPLOAD = { path_prefix: '/v1/upload', method: 'POST' };
const PUT_BYTES = { path_prefix: '/v1/upload-sessions/', method: 'PUT' };
const tokenCalls = (entries) => entries.filter((e) => e.method === 'POST' && e.path === '/api/token');

// A 429 whose Retry-After is an HTTP-date 3 s from now.
const rateLimited = () => ({
  headers: { 'Retry-After': new Date(Date.now() + 3000).toUTCString() },
  body: JSON.stringify({ error: { code: 4003, message: 'Rate limit exceeded', details: { limit: 100, window: '1 minute' } } }),
});

// The server's API behind a proxy of another origin (CORS answered here) that notes the time
// of each POST /v1/upload in seen and answers the first rateLimited(); everything else goes
// through to the server. The presigned PUTs go to the server itself.
async function startRateLimitingProxy(seen) {
  const target = new URL(server.origin);
  const proxy = http.createServer((req, res) => {
    const cors = { 'Access-Control-Allow-Origin': req.headers.origin || '*', 'Access-Control-Expose-Headers': 'Retry-After' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...cors, 'Access-Control-Allow-Methods': 'GET, POST', 'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] || '',
      });
      res.end();
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/upload') {
      seen.push(Date.now());
      if (seen.length === 1) {
        const { headers, body } = rateLimited();
        req.resume();
        res.writeHead(429, { ...cors, ...headers, 'Content-Type': 'application/json' });
        res.end(body);
        return;
      }
    }
    const { origin: _origin, ...headers } = req.headers; // to the server, a request of its own origin
    const upstream = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...headers, host: target.host },
    }, (answer) => {
      res.writeHead(answer.statusCode, { ...answer.headers, ...cors });
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy()); // the page sees no answer, as from a dead API
    req.pipe(upstream);
  });
  const port = await freePort();
  await new Promise((resolve) => { proxy.listen(port, '127.0.0.1', resolve); });
  return { url: `http://127.0.0.1:${port}/v1`, close: () => new Promise((resolve) => { proxy.close(resolve); }) };
}

for (const { name, launch, skip } of engines()) {
  describe(name, { skip }, () => {
    let drv;
    before(async () => { drv = await launch(); });
    after(async () => { await drv?.close(); });

    test('record → uploaded: progress reaches 100 % and the stored file is the recording', async () => {
      await fault(null);
      const page = await open(drv);
      try {
        const r = await recordAndUpload(page);
        assert.equal(r.state, 'uploaded', JSON.stringify(r.errors));
        assert.equal(r.voicenote.id, r.id);
        assert.equal(r.voicenote.status, 'processing'); // VocaFuse's: until its transcription ends
        assert.equal(r.progress.at(-1), 100);
        const audio = await fetch(r.voicenote.audio_url);
        assert.equal(audio.status, 200);
        const probe = await ffprobe(Buffer.from(await audio.arrayBuffer()));
        assert.ok(Math.abs(probe.duration - r.voicenote.duration) < 0.2,
          `stored file ${probe.duration} s, resource ${r.voicenote.duration} s`);
      } finally {
        await page.close();
      }
    });

    test('the demo page uploads a recording, plays the stored copy and lists it first', async () => {
      await fault(null);
      const page = await drv.newTab();
      const state = (s, timeout = 15_000) => page.waitFor(
        (want) => document.querySelector('vocafuse-recorder').state === want, s, timeout);
      try {
        await page.goto(`${server.origin}/`);
        await page.waitFor(() => document.documentElement.dataset.recorder === 'ready', undefined, 15_000);
        await page.click('vocafuse-recorder >>> [part=record]');
        await state('recording');
        // Two seconds by the element's own countdown (60 → 58 left).
        await page.waitFor(() => {
          const left = document.querySelector('vocafuse-recorder').shadowRoot.querySelector('[part=remaining]').textContent;
          return left !== '' && Number(left) <= 58;
        });
        await page.click('vocafuse-recorder >>> [part=record]');
        await state('uploaded');
        const shown = await playable(page, { player: true });
        shown.id = await page.evaluate(() => document.querySelector('vocafuse-recorder').voicenote.id);
        assert.match(shown.src, /\/v1\/voicenotes\/[0-9a-f-]{36}\/audio\?/);
        assert.ok(shown.src.includes(shown.id), 'the player plays the note just stored');
        assert.ok(Number.isFinite(shown.duration) && shown.duration > 1, `stored copy plays ${shown.duration} s`);
        await page.waitFor((id) => document.querySelector('#notes-list > li')?.dataset.id === id, shown.id);
      } finally {
        await page.close();
      }
    });

    test('one 1002 → the token is refreshed once and the upload lands', async () => {
      // The token is read by the POST (a presigned PUT carries its own authority).
      await fault({ ...POST_UPLOAD, status: 401, code: 1002, times: 1 });
      const from = server.logs.length;
      const page = await open(drv);
      try {
        const r = await recordAndUpload(page);
        assert.equal(r.state, 'uploaded', JSON.stringify(r.errors));
        const log = requests(from);
        assert.equal(tokenCalls(log).length, 2, 'the token endpoint should be called twice');
        assert.deepEqual(posts(from).map((e) => e.status), [401, 201]);
        assert.deepEqual(puts(from).map((e) => e.status), [200]);
      } finally {
        await page.close();
      }
    });

    test('a 4003 with retry_after 1 → the SDK waits at least a second, then uploads', async () => {
      await fault({ ...POST_UPLOAD, status: 429, code: 4003, retry_after: 1, times: 1 });
      const from = server.logs.length;
      const page = await open(drv);
      try {
        const r = await recordAndUpload(page);
        assert.equal(r.state, 'uploaded', JSON.stringify(r.errors));
        const tries = posts(from);
        assert.deepEqual(tries.map((e) => e.status), [429, 201]);
        assert.deepEqual(puts(from).map((e) => e.status), [200]);
        const gap = Date.parse(tries[1].time) - Date.parse(tries[0].time);
        assert.ok(gap >= 1000, `retried after ${gap} ms`);
      } finally {
        await page.close();
      }
    });

    // The local server sends Retry-After as seconds; an HTTP-date (RFC 9110's other form) is
    // answered to the first POST /v1/upload here: in Chromium by intercepting it (CDP's Fetch,
    // as puppeteer does it); WebKit's WebDriver and Firefox's BiDi here have no verb to answer
    // a request, so there the SDK's API is a proxy in front of the server's that answers it.
    // Without reading the date the SDK would back off a quarter of a second, not wait until it.
    test('a 429 whose Retry-After is an HTTP-date → the SDK waits until that date', async () => {
      await fault(null);
      const seen = [];
      const proxy = name === 'chromium' ? null : await startRateLimitingProxy(seen);
      const tab = await open(drv, proxy ? { apiBaseUrl: proxy.url } : {});
      try {
        if (!proxy) {
          await tab.page.setRequestInterception(true);
          tab.page.on('request', (req) => {
            if (req.method() === 'POST' && new URL(req.url()).pathname === '/v1/upload') {
              seen.push(Date.now());
              if (seen.length === 1) {
                const { headers, body } = rateLimited();
                req.respond({ status: 429, contentType: 'application/json', headers, body });
                return;
              }
            }
            req.continue();
          });
        }
        const r = await recordAndUpload(tab);
        assert.equal(r.state, 'uploaded', JSON.stringify(r.errors));
        assert.equal(seen.length, 2);
        // The date has whole seconds: it lies 2 to 3 s after the first answer.
        assert.ok(seen[1] - seen[0] >= 1500, `retried after ${seen[1] - seen[0]} ms`);
      } finally {
        await tab.close();
        await proxy?.close();
      }
    });

    test('two 503s → backed off and uploaded', async () => {
      // On the PUT of the bytes: retried on its own, to the same session.
      await fault({ ...PUT_BYTES, status: 503, code: 5002, times: 2 });
      const from = server.logs.length;
      const page = await open(drv);
      try {
        const r = await recordAndUpload(page);
        assert.equal(r.state, 'uploaded', JSON.stringify(r.errors));
        const tries = puts(from);
        assert.deepEqual(tries.map((e) => e.status), [503, 503, 200]);
        assert.equal(new Set(tries.map((e) => e.path)).size, 1, 'one session');
        const gaps = tries.slice(1).map((e, i) => Date.parse(e.time) - Date.parse(tries[i].time));
        assert.ok(gaps[0] >= 200 && gaps[1] >= gaps[0] * 0.9, `waits ${gaps} ms should grow`);
      } finally {
        await page.close();
      }
    });

    test('a 2005 answer → UNSUPPORTED_AUDIO_FORMAT with apiCode 2005, not retried', async () => {
      // The bytes refused by the API (the local API checks them at the PUT).
      await fault({ ...PUT_BYTES, status: 400, code: 2005, times: 1 });
      const from = server.logs.length;
      const page = await open(drv);
      try {
        const r = await recordAndUpload(page);
        assert.equal(r.state, 'error');
        assert.equal(r.errors[0].code, 'UNSUPPORTED_AUDIO_FORMAT');
        assert.equal(r.errors[0].apiCode, 2005);
        assert.equal(r.errors[0].status, 400);
        assert.equal(puts(from).length, 1);
      } finally {
        await page.close();
      }
    });

    test('the token endpoint answering 500 → AUTHENTICATION_FAILED, nothing sent', async () => {
      // Two refusals: the click asks for a token (whose recording it is, and a token in
      // hand when the recording stops), and the upload asks again.
      await fault({ path_prefix: '/api/token', method: 'POST', status: 500, code: 5001, times: 2 });
      const from = server.logs.length;
      const page = await open(drv);
      try {
        const r = await recordAndUpload(page);
        assert.equal(r.state, 'error');
        assert.equal(r.errors[0].code, 'AUTHENTICATION_FAILED');
        assert.equal(posts(from).length + puts(from).length, 0);
      } finally {
        await page.close();
      }
    });

    test('the API unreachable → NETWORK_ERROR within 20 s of the stop', async () => {
      await fault(null);
      const closed = await freePort();
      const page = await open(drv, { apiBaseUrl: `http://127.0.0.1:${closed}/v1` });
      try {
        const r = await recordAndUpload(page, { timeout: 40_000 });
        assert.equal(r.errors[0].code, 'NETWORK_ERROR');
        const after = (r.errors[0].t - r.stoppedAt) / 1000;
        assert.ok(after <= 20.5, `NETWORK_ERROR came ${after} s after the stop`);
      } finally {
        await page.close();
      }
    });
  });
}

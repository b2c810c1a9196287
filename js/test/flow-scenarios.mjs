// The SDK on VocaFuse's upload flow, as scenarios any engine runs: Chromium and Firefox
// (flow.test.mjs, through puppeteer) and WebKit (webkit.test.mjs, through WebDriver). A
// driver is { evaluate(fn, ...args), waitFor(fn, arg, timeout), click(selector), goto(url) }:
// WebKit's object is one already; puppeteerDriver(page) makes one of a puppeteer page.
//
// The rig: the local API (--fault-injection, the customer's app allowed as an origin), a
// customer's app with its own token endpoint in each shape in use (customer-backend.mjs),
// and a second local API whose presigned URLs point at a stand-in for object storage
// (s3-standin.mjs).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer } from './harness.mjs';
import { startCustomerBackend } from './customer-backend.mjs';
import { startS3StandIn } from './s3-standin.mjs';
import { postsOf, putsOf, sessionsOf } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// 35 s of stereo 48 kHz 16-bit: 44 + 35 × 48000 × 4 = 6,720,044 bytes, two parts of 5 MiB.
export const LONG_FILE_SECONDS = 35;
export const LONG_FILE_BYTES = 44 + LONG_FILE_SECONDS * 48000 * 4;

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

export function puppeteerDriver(page) {
  return {
    evaluate: (fn, ...args) => page.evaluate(fn, ...args),
    waitFor: (fn, arg, timeout = 30_000) => page.waitForFunction(fn, { timeout, polling: 100 }, arg),
    click: async (selector) => {
      await page.bringToFront(); // a click waits for an animation frame, which background tabs never get
      await page.click(selector);
    },
    goto: (url) => page.goto(url),
  };
}

export async function startFlowRig() {
  const creds = {
    apiKey: `sk_test_${randomBytes(16).toString('hex')}`,
    apiSecret: randomBytes(32).toString('hex'),
    tokenSecret: randomBytes(32).toString('hex'),
  };
  const backend = await startCustomerBackend(creds);
  const standin = await startS3StandIn();
  const env = { VOCAFUSE_API_KEY: creds.apiKey, VOCAFUSE_API_SECRET: creds.apiSecret, VOCAFUSE_TOKEN_SECRET: creds.tokenSecret };
  const saved = {};
  for (const [k, v] of Object.entries(env)) { saved[k] = process.env[k]; process.env[k] = v; }
  let server;
  let s3Server;
  try {
    server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection', '--allow-origin', backend.origin] });
    s3Server = await startServer({ testPagesDir: HERE, extraArgs: ['--fault-injection', '--presign-via', standin.origin] });
  } catch (err) {
    await server?.stop();
    await backend.stop();
    await standin.stop();
    throw err;
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  backend.setApi(server.origin);
  standin.setUpstream(s3Server.origin);
  return {
    server, s3Server, backend, standin, creds,
    stop: async () => {
      await Promise.all([server.stop(), s3Server.stop(), backend.stop(), standin.stop()]);
    },
  };
}

// The voice note as its owner reads it, through a token the test mints for that identity.
async function noteOf(rig, identity, id) {
  const minted = await fetch(`${rig.server.origin}/v1/tokens`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${rig.creds.apiKey}:${rig.creds.apiSecret}`).toString('base64')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ identity, expires_in: 600 }),
  });
  const { token } = await minted.json();
  const res = await fetch(`${rig.server.origin}/v1/voicenotes/${id}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `GET /v1/voicenotes/${id} as ${identity}`);
  return (await res.json()).data;
}

// The stored bytes behind a voice note's audio_url.
async function storedBytes(audioUrl) {
  const res = await fetch(audioUrl);
  assert.equal(res.status, 200, `GET ${audioUrl}`);
  return Buffer.from(await res.arrayBuffer());
}

// The note's audio_url as the page's own visitor reads it (the demo's /api/token, any shape).
const audioUrlInPage = (drv, id) => drv.evaluate(async (noteId) => {
  const a = await (await fetch('/api/token', { method: 'POST', credentials: 'same-origin' })).json();
  const token = a.token || (a.data && (a.data.id_token || a.data.jwt_token));
  const res = await fetch(`/v1/voicenotes/${noteId}`, { headers: { Authorization: `Bearer ${token}` } });
  return res.ok ? (await res.json()).data.audio_url : `HTTP ${res.status}`;
}, id);

async function load(drv, url) {
  await drv.goto(url);
  await drv.waitFor(() => window.pageReady === true, undefined, 20_000);
}

// Records about `seconds` (by the SDK's own clock) and waits until it is uploaded; answers
// the recording ({ id, hash, size }) and what the page saw.
export async function recordAndDeliver(drv, seconds = 1, timeout = 60_000) {
  const before = await drv.evaluate(() => window.made.length);
  await drv.click('#record-btn');
  await drv.waitFor((n) => window.events('start').length > n, before, 20_000);
  await drv.waitFor((s) => {
    const starts = window.events('start');
    const since = starts[starts.length - 1].t;
    return window.events('progress').some((e) => e.t >= since && e.arg.elapsed >= s);
  }, seconds, 20_000);
  await drv.click('#record-btn');
  await drv.waitFor((n) => window.made.length > n, before, 20_000);
  const made = await drv.evaluate((n) => window.made[n], before);
  await drv.waitFor(([id]) => window.events('uploaded').some((e) => e.arg.id === id || e.arg.recordingId === id) ||
    window.control.state === 'error', [made.id], timeout);
  const seen = await drv.evaluate((id) => ({
    state: window.control.state,
    uploaded: (window.events('uploaded').find((e) => e.arg.id === id || e.arg.recordingId === id) || {}).arg || null,
    errors: window.errorText(),
    requests: window.requests,
  }), made.id);
  assert.equal(seen.state, 'uploaded', `not uploaded: ${seen.errors}`);
  return { made, seen };
}

// Gives a file to sdk.upload() and waits for its outcome.
export async function uploadLongFile(drv, timeout = 90_000) {
  await drv.evaluate(() => { window.fileOutcome = null; window.uploadFile(35); return true; });
  await drv.waitFor(() => window.fileOutcome !== null, undefined, timeout);
  return drv.evaluate(() => ({
    outcome: window.fileOutcome, made: window.made[window.made.length - 1], requests: window.requests,
    errors: window.errorText(),
    progress: window.events('fileprogress').map((e) => e.arg),
  }));
}

const pathOf = (url) => new URL(url).pathname;
const noXML = (text) => assert.ok(!/<\?xml|<Error>|<Code>/.test(text), `the page saw raw XML: ${text}`);

// The page's side of one delivery: the POST with the recording's id as its key, then PUTs
// of the bytes to presigned URLs, never the one-request route.
function assertTwoSteps(requests, { apiBase, id, putOrigin }) {
  const posts = requests.filter((r) => r.method === 'POST' && r.url === `${apiBase}/upload`);
  assert.ok(posts.length >= 1, `no POST ${apiBase}/upload in ${JSON.stringify(requests)}`);
  for (const p of posts) assert.equal(p.key, id, 'Idempotency-Key is the recording\'s UUID');
  assert.ok(posts.some((p) => p.status === 201 || p.status === 200), `POST answers ${posts.map((p) => p.status)}`);
  const puts = requests.filter((r) => r.method === 'PUT');
  assert.ok(puts.length >= 1, 'no PUT of the bytes');
  for (const p of puts) {
    assert.equal(new URL(p.url).origin, putOrigin, `PUT to ${p.url}`);
    assert.match(pathOf(p.url), /^\/v1\/upload-sessions\/[0-9a-f]+(\/parts\/\d+)?$/);
  }
  assert.ok(!requests.some((r) => /\/v1\/voicenotes\/[^/]+$/.test(pathOf(r.url)) && r.method === 'PUT'), 'the one-request PUT was used');
  return { posts, puts };
}

/**
 * A recording delivered by a page on the customer's app, whose token endpoint answers in
 * `shape`, to the API on another origin.
 */
export async function tokenShapeScenario(drv, rig, shape, user) {
  const { server, backend } = rig;
  const apiBase = `${server.origin}/v1`;
  const token = `/token/${shape}?user=${encodeURIComponent(user)}`;
  await load(drv, `${backend.origin}/test/pages/flow.html?token=${encodeURIComponent(token)}&api=${encodeURIComponent(apiBase)}`);
  const { made, seen } = await recordAndDeliver(drv);
  // The token endpoint: POST, JSON, the upload scope.
  const asked = backend.tokenRequests.filter((r) => r.user === user);
  assert.ok(asked.length >= 1, 'the token endpoint was not called');
  for (const r of asked) {
    assert.equal(r.shape, shape);
    assert.equal(r.method, 'POST');
    assert.match(r.contentType ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), { scopes: ['voice-api.upload'] });
  }
  // The requests, from the page's side and from the server's.
  assertTwoSteps(seen.requests, { apiBase, id: made.id, putOrigin: server.origin });
  assert.deepEqual(postsOf(server, made.id).map((e) => e.status), [201]);
  assert.deepEqual(putsOf(server, made.id).map((e) => e.status), [200]);
  assert.equal(seen.uploaded.id, made.id);
  // Stored as the token's owner, byte for byte.
  const note = await noteOf(rig, user, made.id);
  assert.equal(note.identity, user, 'the owner is the token\'s sub');
  assert.equal(sha256(await storedBytes(note.audio_url)), made.hash, 'stored byte for byte');
}

/** A 6.7 MB file given to sdk.upload(): multipart, two parts, stored byte for byte. */
export async function multipartScenario(drv, rig) {
  const { server } = rig;
  await load(drv, `${server.origin}/test/pages/flow.html`);
  const r = await uploadLongFile(drv);
  assert.ok(r.outcome.ok, `upload() rejected: ${JSON.stringify(r.outcome.error)}`);
  assert.equal(r.outcome.size, LONG_FILE_BYTES);
  const { puts } = assertTwoSteps(r.requests, { apiBase: `${server.origin}/v1`, id: r.made.id, putOrigin: server.origin });
  assert.deepEqual([...new Set(puts.filter((p) => p.status === 200).map((p) => pathOf(p.url).replace(/^.*\/parts\//, 'part ')))].sort(),
    ['part 1', 'part 2'], 'multipart: both parts PUT');
  const stored = putsOf(server, r.made.id).filter((e) => e.status === 200).map((e) => e.path.replace(/^.*\/parts\//, 'part '));
  assert.deepEqual(stored.sort(), ['part 1', 'part 2'], 'each part stored once');
  assert.equal(new Set(sessionsOf(server, r.made.id).map((e) => e.upload_id)).size, 1, 'one session');
  const last = r.progress.at(-1);
  assert.ok(last && last.loaded === last.total && last.total >= LONG_FILE_BYTES, `progress ends ${JSON.stringify(last)}`);
  const url = r.outcome.voicenote?.audio_url ?? await audioUrlInPage(drv, r.made.id);
  const bytes = await storedBytes(url);
  assert.equal(bytes.length, LONG_FILE_BYTES);
  assert.equal(sha256(bytes), r.made.hash, 'stored byte for byte');
}

// The stand-in's PUTs of one voice note's sessions.
const standInPutsOf = (rig, id) => {
  const uploads = sessionsOf(rig.s3Server, id).map((e) => e.upload_id);
  return rig.standin.requests.filter((r) => uploads.some((u) => r.path === `/v1/upload-sessions/${u}` || r.path.startsWith(`/v1/upload-sessions/${u}/`)));
};

/** Through the stand-in for object storage: a SlowDown, then delivered; the page hears no XML. */
export async function standInSlowDownScenario(drv, rig) {
  await load(drv, `${rig.s3Server.origin}/test/pages/flow.html`);
  rig.standin.plan(null);
  rig.standin.plan({ slowdown: 1 });
  const { made, seen } = await recordAndDeliver(drv);
  assertTwoSteps(seen.requests, { apiBase: `${rig.s3Server.origin}/v1`, id: made.id, putOrigin: rig.standin.origin });
  assert.deepEqual(standInPutsOf(rig, made.id).map((r) => [r.status, r.code]), [[503, 'SlowDown'], [200, '']]);
  assert.deepEqual(postsOf(rig.s3Server, made.id).map((e) => e.status), [201], 'the same session: no new POST');
  noXML(seen.errors);
  assert.equal(seen.uploaded.id, made.id);
  assert.equal(sha256(await storedBytes(await audioUrlInPage(drv, made.id))), made.hash);
}

/** Through the stand-in: an expired URL (AccessDenied, Request has expired) → asked again, delivered. */
export async function standInExpiredScenario(drv, rig) {
  await load(drv, `${rig.s3Server.origin}/test/pages/flow.html`);
  rig.standin.plan(null);
  rig.standin.plan({ expire: 1 });
  const { made, seen } = await recordAndDeliver(drv);
  assert.deepEqual(standInPutsOf(rig, made.id).map((r) => [r.status, r.code]), [[403, 'AccessDenied'], [200, '']]);
  // Asked again with the same key: the local API answers the same voice note (200).
  assert.deepEqual(postsOf(rig.s3Server, made.id).map((e) => e.status), [201, 200]);
  const posts = seen.requests.filter((r) => r.method === 'POST' && pathOf(r.url) === '/v1/upload');
  assert.ok(posts.length === 2 && posts.every((p) => p.key === made.id), JSON.stringify(posts));
  noXML(seen.errors);
  assert.equal(sha256(await storedBytes(await audioUrlInPage(drv, made.id))), made.hash);
}

/** Through the stand-in: a file in two parts, one of them slowed down once. */
export async function standInMultipartScenario(drv, rig) {
  await load(drv, `${rig.s3Server.origin}/test/pages/flow.html`);
  rig.standin.plan(null);
  rig.standin.plan({ slowdown: 1 });
  const r = await uploadLongFile(drv);
  assert.ok(r.outcome.ok, `upload() rejected: ${JSON.stringify(r.outcome.error)}`);
  const seen = standInPutsOf(rig, r.made.id);
  assert.equal(seen.filter((p) => p.code === 'SlowDown').length, 1);
  assert.deepEqual(seen.filter((p) => p.status === 200).map((p) => p.path.replace(/^.*\/parts\//, 'part ')).sort(), ['part 1', 'part 2']);
  assert.ok(seen.filter((p) => p.status === 200).every((p) => /^"[0-9a-f]{64}"$/.test(p.etag)), 'each part answered with its ETag');
  noXML(r.errors);
  const bytes = await storedBytes(await audioUrlInPage(drv, r.made.id));
  assert.equal(sha256(bytes), r.made.hash, 'stored byte for byte');
}

// The stand-in for object storage (s3-standin.mjs), without a browser: in front of a fake
// API on loopback, it answers presigned PUTs as S3 does.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';

import { freePort } from './harness.mjs';
import { s3ErrorFor, startS3StandIn } from './s3-standin.mjs';

// The API's presigned routes, as the local server answers them: by the upload id.
const API_ANSWERS = {
  single: { status: 200, body: { data: { id: 'note-1', status: 'processing' } } },
  multi: { status: 200, headers: { ETag: '"abc123"' }, body: { data: { part_number: 1, etag: '"abc123"' } } },
  expired: { status: 403, body: { error: { code: 1002, message: 'Token expired' } } },
  forged: { status: 403, body: { error: { code: 1001, message: 'Invalid token' } } },
  gone: { status: 404, body: { error: { code: 6001, message: 'Recording not found' } } },
  boom: { status: 500, body: { error: { code: 5001, message: 'Internal server error' } } },
  busy: { status: 503, headers: { 'Retry-After': '2' }, body: { error: { code: 5002, message: 'Service unavailable' } } },
  wrong: { status: 400, body: { error: { code: 2003, message: 'Invalid field value' } } },
};

let api;
let apiSeen;
let s3;

before(async () => {
  apiSeen = [];
  api = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://api.invalid');
      apiSeen.push({ method: req.method, path: url.pathname, query: url.search, body: Buffer.concat(chunks), headers: req.headers });
      const id = url.pathname.split('/')[3];
      const a = API_ANSWERS[id] ?? { status: 404, body: { error: { code: 2001 } } };
      res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise((resolve) => api.listen(0, '127.0.0.1', resolve));
  s3 = await startS3StandIn({ upstream: `http://127.0.0.1:${api.address().port}` });
});
after(async () => {
  await s3?.stop();
  await new Promise((resolve) => api?.close(resolve));
});
beforeEach(() => {
  s3.plan(null);
  apiSeen.length = 0;
});

const put = (path, body = Buffer.from('RIFF some audio bytes'), headers = {}) =>
  fetch(`${s3.origin}${path}`, { method: 'PUT', body, headers: { 'Content-Type': 'audio/wav', ...headers } });

// The parts of an S3 error document.
function parseError(xml) {
  const field = (name) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error>/);
  return { code: field('Code'), message: field('Message'), requestId: field('RequestId') };
}

describe('forwarded to the API', () => {
  test('a whole object: 200, an empty body, the MD5 ETag; the API got the same bytes, path and query', async () => {
    const bytes = Buffer.from('RIFF....WAVE the whole recording');
    const res = await put('/v1/upload-sessions/single?owner=o&length=33&expires=9&signature=s%2B', bytes);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal(res.headers.get('etag'), `"${createHash('md5').update(bytes).digest('hex')}"`);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-expose-headers'), /ETag/);
    assert.equal(apiSeen.length, 1);
    assert.equal(apiSeen[0].query, '?owner=o&length=33&expires=9&signature=s%2B');
    assert.deepEqual(apiSeen[0].body, bytes);
    assert.equal(apiSeen[0].headers['content-length'], String(bytes.length));
    assert.equal(apiSeen[0].headers.authorization, undefined);
    assert.deepEqual(s3.requests.at(-1), { ...s3.requests.at(-1), status: 200, forwarded: true, apiStatus: 200, bytes: bytes.length });
  });

  test("a part: the API's ETag, still an empty body", async () => {
    const res = await put('/v1/upload-sessions/multi/parts/1?x=1', Buffer.alloc(1 << 20, 7));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), '"abc123"');
    assert.equal(await res.text(), '');
    assert.equal(apiSeen[0].body.length, 1 << 20);
  });

  for (const [id, status, code, message] of [
    ['expired', 403, 'AccessDenied', 'Request has expired'],
    ['forged', 403, 'AccessDenied', 'Access Denied'],
    ['gone', 404, 'NoSuchUpload', undefined],
    ['boom', 500, 'InternalError', undefined],
    ['busy', 503, 'SlowDown', 'Please reduce your request rate.'],
    ['wrong', 400, 'InvalidRequest', 'Invalid field value'],
  ]) {
    test(`the API's ${API_ANSWERS[id].status} / ${API_ANSWERS[id].body.error.code} → ${status} ${code} in XML, no JSON`, async () => {
      const res = await put(`/v1/upload-sessions/${id}?q=1`);
      assert.equal(res.status, status);
      assert.equal(res.headers.get('content-type'), 'application/xml');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const text = await res.text();
      assert.ok(!text.includes('"error"'), text);
      const e = parseError(text);
      assert.equal(e.code, code);
      if (message) assert.equal(e.message, message);
      assert.match(e.requestId, /^[0-9A-F]{16}$/);
      assert.equal(apiSeen.length, 1, 'forwarded once');
    });
  }

  test('the API unreachable → 500 InternalError', async () => {
    const closed = await startS3StandIn({ upstream: `http://127.0.0.1:${await freePort()}` });
    try {
      const res = await fetch(`${closed.origin}/v1/upload-sessions/single?q=1`, { method: 'PUT', body: 'abc' });
      assert.equal(res.status, 500);
      assert.equal(parseError(await res.text()).code, 'InternalError');
    } finally {
      await closed.stop();
    }
  });
});

describe('planned failures, not forwarded', () => {
  test('SlowDown twice (planned over HTTP), then the PUT goes through', async () => {
    const planned = await fetch(`${s3.origin}/_plan`, { method: 'POST', body: JSON.stringify({ slowdown: 2 }) });
    assert.equal(planned.status, 201);
    for (let i = 0; i < 2; i++) {
      const res = await put('/v1/upload-sessions/single?q=1');
      assert.equal(res.status, 503);
      assert.deepEqual(parseError(await res.text()).message, 'Please reduce your request rate.');
    }
    assert.equal(apiSeen.length, 0, 'a refused PUT never reached the API');
    assert.equal((await put('/v1/upload-sessions/single?q=1')).status, 200);
    assert.equal(apiSeen.length, 1);
  });

  test('in the order given: an expired URL, AccessDenied, InternalError', async () => {
    s3.plan({ expire: 1, accessDenied: 1, internalError: 1 });
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await put('/v1/upload-sessions/single?q=1');
      seen.push([res.status, parseError(await res.text()).message]);
    }
    assert.deepEqual(seen, [
      [403, 'Request has expired'], [403, 'Access Denied'], [500, 'We encountered an internal error. Please try again.']]);
    assert.equal(apiSeen.length, 0);
  });

  test('DELETE /_plan clears; a plan that makes no sense is refused', async () => {
    s3.plan({ slowdown: 5 });
    assert.equal((await fetch(`${s3.origin}/_plan`, { method: 'DELETE' })).status, 204);
    assert.equal((await put('/v1/upload-sessions/single?q=1')).status, 200);
    assert.equal((await fetch(`${s3.origin}/_plan`, { method: 'POST', body: '{"slowdwn":1}' })).status, 400);
    assert.deepEqual(s3.planned(), []);
  });
});

test("CORS as a bucket's for browser uploads: the preflight of any origin", async () => {
  const res = await fetch(`${s3.origin}/v1/upload-sessions/single?q=1`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://127.0.0.1:1234', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('access-control-allow-methods'), /PUT/);
  assert.equal(res.headers.get('access-control-allow-headers'), 'content-type');
  assert.equal(apiSeen.length, 0);
});

test('s3ErrorFor: successes are null, every failure an S3 code', () => {
  assert.equal(s3ErrorFor(200), null);
  assert.equal(s3ErrorFor(201), null);
  assert.equal(s3ErrorFor(403, 1002).message, 'Request has expired');
  assert.equal(s3ErrorFor(403, 1001).code, 'AccessDenied');
  assert.equal(s3ErrorFor(502).code, 'InternalError');
  assert.equal(s3ErrorFor(409, 2003).code, 'OperationAborted');
  assert.equal(s3ErrorFor(413, 2004).status, 400);
});

// A stand-in for object storage, for tests only: a small HTTP server on loopback that answers
// presigned PUTs the way S3 does, in front of the local API's own presigned URLs.
//
// The local server started with `--fault-injection --presign-via <this server's URL>` hands
// out presigned URLs on this server (same path and query); each PUT is forwarded to the real
// URL on the API (`upstream`) and its answer turned into S3's:
//   200 → 200, an empty body and an ETag (the API's for a part; for a whole object, S3's:
//         the MD5 of the bytes, quoted); the API's JSON is dropped, as storage has none;
//   403 / 1002 → 403 <Error><Code>AccessDenied</Code><Message>Request has expired</Message>…
//   403 / 1001 → 403 AccessDenied "Access Denied" (a forged or altered URL)
//   404 → NoSuchUpload; another 4xx → its status with InvalidRequest;
//   500 → InternalError; 503 → SlowDown; the API unreachable → 500 InternalError.
// The plan (POST /_plan, or plan() in process) makes the next PUTs fail as S3 does without
// reaching the API: { "slowdown": 1, "expire": 1, "accessDenied": 1, "internalError": 1 },
// applied in the order given; DELETE /_plan clears it. CORS is that of a bucket set up for
// browser uploads: any origin, PUT, the request's headers, ETag exposed.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

const AMZ_EXPOSED = 'ETag, x-amz-request-id, x-amz-id-2';

const ERRORS = {
  expire: { status: 403, code: 'AccessDenied', message: 'Request has expired' },
  accessDenied: { status: 403, code: 'AccessDenied', message: 'Access Denied' },
  slowdown: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  internalError: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  noSuchUpload: {
    status: 404, code: 'NoSuchUpload',
    message: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  },
};

const xmlEscape = (s) => String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));

/** S3's error document. */
export function s3ErrorXML(code, message, extra = {}) {
  const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}` +
    `<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId><HostId>${randomBytes(24).toString('base64')}</HostId></Error>`;
}

/**
 * What S3 would have answered for the API's answer to a forwarded PUT (a pure function of
 * the API's status and envelope code). null for a success.
 * @param {number} status @param {number | undefined} apiCode @param {string} [apiMessage]
 */
export function s3ErrorFor(status, apiCode, apiMessage) {
  if (status < 300) return null;
  if (status === 403) return apiCode === 1002 ? ERRORS.expire : ERRORS.accessDenied;
  if (status === 404) return ERRORS.noSuchUpload;
  if (status === 503) return ERRORS.slowdown;
  if (status >= 500) return ERRORS.internalError;
  return { status: status === 409 ? 409 : 400, code: status === 409 ? 'OperationAborted' : 'InvalidRequest', message: apiMessage || 'Invalid request' };
}

function cors(req, res) {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', AMZ_EXPOSED);
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, PUT, HEAD');
    const asked = req.headers['access-control-request-headers'];
    if (asked) res.setHeader('Access-Control-Allow-Headers', asked);
    res.setHeader('Access-Control-Max-Age', '600');
    res.setHeader('Vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
  }
}

function sendError(res, e, extra) {
  const body = s3ErrorXML(e.code, e.message, extra);
  res.writeHead(e.status, {
    'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body),
    'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(),
  });
  res.end(body);
}

function drain(req) {
  return new Promise((resolve) => {
    req.on('data', () => {});
    req.on('end', resolve);
    req.on('error', resolve);
    req.on('close', resolve);
  });
}

function readJSON(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try { resolve(chunks.length ? JSON.parse(Buffer.concat(chunks)) : {}); } catch (err) { reject(err); }
    });
    req.on('error', reject);
  });
}

/**
 * Starts the stand-in on 127.0.0.1 (a free port unless given).
 * @param {{ upstream?: string, port?: number }} [opts] upstream: the API's origin (setUpstream() later, too)
 * @returns {Promise<{ url: string, origin: string, port: number, requests: object[],
 *   setUpstream: (origin: string) => void, plan: (p: object | null) => void, planned: () => string[],
 *   stop: () => Promise<void> }>}
 *   requests: one entry per PUT, { path, query, status, code, forwarded, apiStatus, etag, bytes, at }.
 */
export async function startS3StandIn({ upstream, port = 0 } = {}) {
  let upstreamOrigin = upstream;
  const pending = []; // planned failures, first first
  const requests = [];

  const plan = (p) => {
    if (!p) { pending.length = 0; return; }
    for (const [kind, times] of Object.entries(p)) {
      if (!ERRORS[kind] || kind === 'noSuchUpload') throw new TypeError(`unknown planned failure ${kind}`);
      if (!Number.isInteger(times) || times < 0) throw new TypeError(`${kind}: times must be a whole number`);
      for (let i = 0; i < times; i++) pending.push(kind);
    }
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://standin.invalid');
    cors(req, res);
    if (url.pathname === '/_plan') {
      if (req.method === 'DELETE') { plan(null); res.writeHead(204).end(); return; }
      if (req.method === 'GET') { res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ pending })); return; }
      try {
        plan(await readJSON(req));
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ pending }));
      } catch (err) {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: String(err.message) }));
      }
      return;
    }
    if (req.method === 'OPTIONS') { res.writeHead(200, { 'Content-Length': 0 }).end(); return; }
    if (req.method !== 'PUT') {
      await drain(req);
      sendError(res, { status: 405, code: 'MethodNotAllowed', message: 'The specified method is not allowed against this resource.' });
      return;
    }
    const entry = { path: url.pathname, query: url.search, status: 0, code: '', forwarded: false, at: Date.now() };
    requests.push(entry);
    const planned = pending.shift();
    if (planned) {
      // S3 reads the body before it answers a request it refuses: the browser's upload
      // ends, and it sees an answer, not a reset connection.
      await drain(req);
      const e = ERRORS[planned];
      Object.assign(entry, { status: e.status, code: e.code, planned });
      sendError(res, e, planned === 'expire' ? { Expires: new Date(Date.now() - 1000).toUTCString(), ServerTime: new Date().toUTCString() } : {});
      return;
    }
    await forward(req, res, url, entry);
  });

  async function forward(req, res, url, entry) {
    entry.forwarded = true;
    const md5 = createHash('md5');
    let bytes = 0;
    const ended = new Promise((resolve) => { req.once('end', resolve); req.once('close', resolve); });
    const answer = await new Promise((resolve) => {
      if (!upstreamOrigin) { resolve({ error: new Error('no upstream') }); return; }
      const headers = {};
      for (const h of ['content-length', 'content-type']) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
      const out = http.request(new URL(url.pathname + url.search, upstreamOrigin), { method: 'PUT', headers }, (up) => {
        const chunks = [];
        up.on('data', (c) => chunks.push(c));
        up.on('end', () => resolve({ status: up.statusCode, headers: up.headers, body: Buffer.concat(chunks) }));
        up.on('error', (error) => resolve({ error }));
      });
      out.on('error', (error) => resolve({ error }));
      req.on('data', (c) => { md5.update(c); bytes += c.length; });
      req.pipe(out);
    });
    // The whole body in before the answer, as S3 does (the API may have answered early).
    req.resume();
    await ended;
    entry.bytes = bytes;
    if (answer.error) {
      Object.assign(entry, { status: 500, code: 'InternalError', apiStatus: 0 });
      sendError(res, ERRORS.internalError);
      return;
    }
    entry.apiStatus = answer.status;
    let envelope;
    try { envelope = JSON.parse(answer.body.toString('utf8')); } catch { envelope = undefined; }
    const failure = s3ErrorFor(answer.status, envelope?.error?.code, envelope?.error?.message);
    if (failure) {
      Object.assign(entry, { status: failure.status, code: failure.code, apiCode: envelope?.error?.code });
      const retryAfter = answer.headers['retry-after'];
      if (retryAfter && failure.status === 503) res.setHeader('Retry-After', retryAfter);
      sendError(res, failure);
      return;
    }
    // A part's ETag is the API's; a whole object's is S3's: the MD5 of its bytes.
    const etag = answer.headers.etag || `"${md5.digest('hex')}"`;
    Object.assign(entry, { status: 200, etag });
    res.writeHead(200, { ETag: etag, 'Content-Length': 0, 'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase() });
    res.end();
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address();
  const origin = `http://127.0.0.1:${bound}`;
  return {
    url: `${origin}/`, origin, port: bound, requests,
    setUpstream: (o) => { upstreamOrigin = o; },
    plan,
    planned: () => [...pending],
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    }),
  };
}

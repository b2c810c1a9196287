// VocaFuse's own clients against the local API, call by call, without their code and
// without a network: vocafuse-node (the backend SDK, 0.1.0) and the browser SDKs
// (Speech-SDK-Web and vocafuse-voice.js). Two tiny clients below speak exactly as those
// clients do on the wire (headers, bodies, query strings, the order of their calls, the
// fields they read) as build-notes/vocafuse-clients-facts.md describes them, against the
// real server started as a process. No browser is needed: the browser SDKs' calls are
// fetch/XHR requests that Node's fetch makes the same way.
//
// Each test's name is a row of docs/api.md's table of those clients' calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { freshTmpDir, removeDir, startServer } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);

// Known credentials, given to the server through its environment.
const API_KEY = `sk_test_${crypto.randomBytes(16).toString('hex')}`;
const API_SECRET = crypto.randomBytes(32).toString('hex');
const TOKEN_SECRET = crypto.randomBytes(32).toString('hex');

const MiB = 1024 * 1024;
// Every test waits on answers only; this bounds one that would wait for ever (a webhook never delivered).
const T = { timeout: 30_000 };
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------
// vocafuse-node, as it speaks (facts §1)

// axios's query serialisation (buildURL's encode): encodeURIComponent with : $ , [ ]
// left as they are and a space as +.
function axiosEncode(value) {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%24/g, '$').replace(/%2C/gi, ',')
    .replace(/%20/g, '+').replace(/%5B/gi, '[').replace(/%5D/gi, ']');
}

// axios's combineURLs: the base without its trailing /, one /, the path without its leading /.
const combineURLs = (base, rel) => `${base.replace(/\/?\/$/, '')}/${rel.replace(/^\/+/, '')}`;

// The error class vocafuse-node's error handler picks (facts §1.6), from the status and the URL.
function nodeErrorClass(status, url) {
  switch (true) {
    case status === 400: return 'ValidationError';
    case status === 401: return 'AuthenticationError';
    case status === 403: return 'AuthorizationError';
    case status === 404:
      if (url.includes('/transcription')) return 'TranscriptionNotFoundError';
      if (url.includes('voicenotes/') || url.includes('/voicenotes')) return 'VoicenoteNotFoundError';
      if (url.includes('webhooks')) return 'WebhookNotFoundError';
      if (url.includes('api-keys')) return 'APIKeyNotFoundError';
      return 'NotFoundError';
    case status === 409: return 'ConflictError';
    case status === 429: return 'RateLimitError';
    case status >= 500: return 'ServerError';
    default: return 'VocaFuseError';
  }
}

// What vocafuse-node throws: message, errorCode and details read from body.error only.
class NodeSdkError extends Error {
  constructor({ status, url, body, retryAfter }) {
    super(body?.error?.message || `Request failed with status code ${status}`);
    this.name = nodeErrorClass(status, url);
    this.statusCode = status;
    this.errorCode = body?.error?.code;
    this.details = body?.error?.details;
    this.body = body;
    if (this.name === 'RateLimitError') this.retryAfter = parseInt(retryAfter, 10);
  }
}

// A client that calls as vocafuse-node's Client (and AccessToken) do: the key and secret
// headers, a JSON Content-Type and its User-Agent on every call, GET/POST/PUT/DELETE only,
// paths joined to the base URL, the whole JSON body returned (callers read .data),
// DELETE returning nothing. Every exchange is kept in calls[] for the tests to look at.
// Retries (408/429/5xx, 1 s, 2 s, 4 s) are left out: a test that meets one of those
// statuses fails on it rather than wait.
function nodeClient({ baseUrl, apiKey, apiSecret }) {
  const calls = [];
  const headers = {
    'Accept': 'application/json, text/plain, */*', // axios's default
    'Content-Type': 'application/json',
    'User-Agent': 'VocaFuse-Node-SDK/0.1.0',
    'X-VocaFuse-API-Key': apiKey,
    'X-VocaFuse-API-Secret': apiSecret,
  };
  async function request(method, rel, { params, data } = {}) {
    let url = combineURLs(baseUrl, rel);
    if (params) {
      const query = Object.entries(params).filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${axiosEncode(k)}=${axiosEncode(v)}`).join('&');
      if (query) url += `?${query}`;
    }
    const body = data === undefined ? undefined : JSON.stringify(data);
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = text; } // axios: silent JSON parse
    const call = { method, url, query: url.split('?')[1] ?? '', requestBody: body, status: res.status,
      headers: res.headers, body: json };
    calls.push(call);
    if (res.status < 200 || res.status >= 300) {
      throw new NodeSdkError({ status: res.status, url, body: json, retryAfter: res.headers.get('retry-after') });
    }
    return call;
  }
  const get = async (rel, params) => (await request('GET', rel, { params })).body;
  const post = async (rel, data) => (await request('POST', rel, { data })).body;
  const put = async (rel, data) => (await request('PUT', rel, { data })).body;
  const del = async (rel) => { await request('DELETE', rel); }; // void, any 2xx

  const voicenotes = (id) => ({
    get: () => get(`voicenotes/${id}`),
    delete: () => del(`voicenotes/${id}`),
    transcription: { get: () => get(`voicenotes/${id}/transcription`) },
  });
  voicenotes.list = (options = {}) => get('voicenotes', {
    page: options.page || 0,
    limit: Math.min(options.limit || 50, 100),
    status: options.status || undefined,
    date_from: options.dateFrom || undefined,
    date_to: options.dateTo || undefined,
  });
  voicenotes.iterate = async function* iterate(options = {}) {
    let page = options.page || 0;
    let hasMore = true;
    while (hasMore) {
      const response = await voicenotes.list({ ...options, page });
      for (const item of response.data) yield item;
      hasMore = response.pagination?.has_more ?? false;
      page += 1;
    }
  };

  const apiKeys = (id) => ({ get: () => get(`account/api-keys/${id}`), delete: () => del(`account/api-keys/${id}`) });
  apiKeys.list = () => get('account/api-keys');
  apiKeys.create = ({ name }) => post('account/api-keys', { name });

  const webhooks = (id) => ({
    get: () => get(`webhooks/${id}`),
    update: (o) => put(`webhooks/${id}`, { url: o.url, events: o.events, ...(o.secret ? { secret: o.secret } : {}) }),
    delete: () => del(`webhooks/${id}`),
  });
  webhooks.list = () => get('webhooks');
  webhooks.create = (o) => post('webhooks', { url: o.url, events: o.events, ...(o.secret ? { secret: o.secret } : {}) });

  return {
    calls,
    last: () => calls.at(-1),
    voicenotes,
    account: { get: () => get('account'), update: (options) => put('account', options) },
    apiKeys,
    webhooks,
    // new AccessToken({ apiKey, apiSecret, identity, baseUrl }).generate({ expiresIn, scopes })
    accessToken: (identity) => ({
      generate: (o = {}) => post('/token', {
        user_id: identity, expires_in: o.expiresIn, scopes: o.scopes || ['voice-api.upload_voicenote'],
      }),
    }),
  };
}

// vocafuse-node's RequestValidator (facts §1.9).
const RequestValidator = {
  computeSignature(secret, payload, timestamp, deliveryId) {
    let toSign = payload;
    if (timestamp && deliveryId) toSign = `${timestamp}.${deliveryId}.${payload}`;
    else if (timestamp) toSign = `${timestamp}.${payload}`;
    return crypto.createHmac('sha256', secret).update(toSign).digest('hex');
  },
  validate(secret, payload, signature, { timestamp, deliveryId } = {}) {
    const expected = Buffer.from(this.computeSignature(secret, payload, timestamp, deliveryId), 'hex');
    const given = String(signature ?? '').replace(/^sha256=/, '');
    if (!/^[0-9a-f]*$/i.test(given) || given.length % 2) return false;
    const actual = Buffer.from(given, 'hex');
    return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
  },
};

// ---------------------------------------------------------------------------
// The browser SDKs, as they speak (facts §2)

// The browser SDK's error from HttpClient: the body is never read, only kept.
class BrowserSdkError extends Error {
  constructor(status, statusText, responseBody) {
    super(`HTTP ${status}: ${statusText}`);
    this.status = status;
    this.code = status === 401 || status === 403 ? 'AUTHENTICATION_FAILED'
      : status === 413 ? 'FILE_TOO_LARGE' : 'REQUEST_FAILED';
    this.retryable = status === 429 || status >= 500;
    this.context = { responseBody };
  }
}

const audioFormatOf = (mime) => (mime.includes('webm') ? 'webm' : mime.includes('ogg') ? 'ogg'
  : mime.includes('mp4') ? 'mp4' : 'unknown');

// A client that calls as Speech-SDK-Web does (variant 'sw'), or vocafuse-voice.js
// (variant 'vj': recording- file names, custom_tags, recording_id): the token endpoint,
// POST {apiBaseUrl}/upload with the token, then PUTs to the presigned URLs.
function browserClient({ tokenEndpoint, apiBaseUrl, variant = 'sw' }) {
  const exchanges = [];
  let token;

  // TokenManager.fetchToken: POST, JSON, {"scopes":["voice-api.upload"]}, no credentials
  // option (same-origin: no cookie to another origin), success and data.id_token required.
  async function getToken() {
    const res = await fetch(tokenEndpoint, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"scopes":["voice-api.upload"]}',
    });
    const text = await res.text();
    exchanges.push({ kind: 'token', status: res.status, text });
    if (!res.ok) throw new BrowserSdkError(res.status, res.statusText, text);
    const body = JSON.parse(text);
    if (!body.success || !body.data?.id_token) throw new Error('No authentication token received from server');
    token = {
      idToken: body.data.id_token,
      tokenType: body.data.token_type || 'Bearer',
      expiresIn: body.data.expires_in || 3600,
      tenantId: body.data.tenant_id || '',
      scopes: body.data.scopes || (variant === 'vj' ? ['voice-api.upload_recording', 'voice-api.read_recording'] : ['voice-api.upload']),
    };
    return token;
  }

  // HttpClient.request: JSON in and out, an envelope with data taken as it is.
  async function apiRequest(method, rel, { body, headers = {} } = {}) {
    const url = /^https?:\/\//.test(rel) ? rel
      : `${apiBaseUrl.replace(/\/$/, '')}${rel.startsWith('/') ? rel : `/${rel}`}`;
    const res = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const isJSON = (res.headers.get('content-type') || '').includes('application/json');
    const parsed = isJSON ? await res.json() : await res.text();
    exchanges.push({ kind: 'api', method, url, status: res.status, contentType: res.headers.get('content-type'), body: parsed });
    if (!res.ok) throw new BrowserSdkError(res.status, res.statusText, parsed);
    if (parsed && typeof parsed === 'object' && 'data' in parsed) return parsed;
    return { object: 'response', data: parsed, request_id: res.headers.get('X-Request-Id') || 'unknown' };
  }

  // The XHR PUT of a Blob: Content-Type is the Blob's type (a slice's is ''), no other header.
  async function putBytes(url, bytes, type) {
    const res = await fetch(url, { method: 'PUT', headers: { 'Content-Type': type }, body: bytes });
    const text = await res.text();
    let body;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: res.status, headers: res.headers, body };
  }

  // UploadManager.upload. `bytes` plays the Blob, `mime` its type. partOrder 'reverse'
  // starts the parts' PUTs last first (the SDK starts them in order, all at once).
  async function upload(bytes, { mime, durationSeconds, audioFormat = audioFormatOf(mime), customTags, partOrder }) {
    if (!token) await getToken();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const prefix = variant === 'vj' ? 'recording' : 'voicenote';
    const duration = Math.round(durationSeconds * 100) / 100;
    const request = {
      file_name: `${prefix}-${stamp}.${audioFormat}`,
      file_size: bytes.length,
      audio_format: audioFormat,
      duration_seconds: duration,
      use_multipart: bytes.length > 5 * MiB,
      custom_tags: variant === 'vj' ? customTags : undefined,
      sdk_metadata: { duration_seconds: duration, codec: audioFormat, file_size_bytes: bytes.length,
        sample_rate: 44100, channels: 1, bit_rate: 128000 },
    };
    const envelope = await apiRequest('POST', '/upload', {
      body: request, headers: { Authorization: `Bearer ${token.idToken}` },
    });
    const presigned = envelope.data;
    const puts = [];
    if (presigned.upload_type === 'single') {
      puts.push({ part: 0, ...(await putBytes(presigned.presigned_url, bytes, mime)) });
    } else {
      if (!presigned.upload_info) throw new Error('Multipart upload info missing');
      let parts = presigned.upload_info.parts.map((p, i) => ({ ...p, index: i }));
      if (partOrder === 'reverse') parts = parts.reverse();
      const started = parts.map((p) => putBytes(p.presigned_url, bytes.subarray(p.start_byte, p.end_byte + 1), '')
        .then((r) => ({ part: p.part_number, index: p.index, ...r })));
      puts.push(...(await Promise.all(started)));
    }
    for (const p of puts) {
      if (p.status < 200 || p.status >= 300) throw new Error(`Upload failed with status ${p.status}`);
    }
    const idField = variant === 'vj' ? 'recording_id' : 'voicenote_id';
    return {
      request,
      envelope,
      puts,
      result: {
        [idField]: presigned[idField],
        upload_type: presigned.upload_type,
        processing_strategy: presigned.processing_strategy,
        client_processed: presigned.client_processed,
        s3_key: presigned.s3_key,
        file_size: bytes.length,
        duration_seconds: durationSeconds,
        audio_format: audioFormat,
      },
    };
  }

  return { exchanges, getToken, apiRequest, upload };
}

// ---------------------------------------------------------------------------
// Audio to upload

// A stereo 16-bit PCM WAV: 44-byte header and a sine that glides, so no two parts match.
function makeWav({ seconds, sampleRate = 48_000, channels = 2, frequency = 440 }) {
  const frames = Math.round(seconds * sampleRate);
  const dataBytes = frames * channels * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  const samples = new Int16Array(buf.buffer, buf.byteOffset + 44, frames * channels);
  for (let i = 0; i < frames; i++) {
    const t = i / sampleRate;
    for (let ch = 0; ch < channels; ch++) {
      const f = frequency * (1 + ch / 2) * (1 + t / seconds);
      samples[i * channels + ch] = Math.round(Math.sin(2 * Math.PI * f * t) * 9000);
    }
  }
  return buf;
}

// What a browser's MediaRecorder makes: WebM/Opus (ffmpeg, as the harness uses ffprobe).
async function makeWebm(dir, seconds, frequency) {
  const file = path.join(dir, `tone-${seconds}-${frequency}.webm`);
  await execFileP('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi',
    '-i', `sine=frequency=${frequency}:duration=${seconds}`, '-c:a', 'libopus', '-f', 'webm', '-y', file]);
  return fsp.readFile(file);
}

// ---------------------------------------------------------------------------
// Small helpers

function listen(handler) {
  return new Promise((resolve) => {
    const srv = http.createServer(handler);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}
const closeServer = (srv) => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(() => resolve()); });
const readBody = (req) => new Promise((resolve, reject) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  req.on('error', reject);
});

function jwtPayload(jwt) {
  const parts = jwt.split('.');
  assert.equal(parts.length, 3, 'a JWT has three parts');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

// What vocafuse-node throws for a call that fails, checked as the SDK reads it.
async function refused(promise, { status, code, errorClass, details }) {
  const err = await promise.then(
    (v) => assert.fail(`expected ${status} / ${code}, got a success: ${JSON.stringify(v)?.slice(0, 300)}`),
    (e) => e);
  if (!(err instanceof NodeSdkError)) throw err;
  assert.equal(err.statusCode, status, `status; body ${JSON.stringify(err.body)}`);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, 'error.message');
  if (typeof code === 'function') assert.ok(code(err.errorCode), `error.code ${err.errorCode}; body ${JSON.stringify(err.body)}`);
  else assert.equal(err.errorCode, code, `error.code; body ${JSON.stringify(err.body)}`);
  if (errorClass) assert.equal(err.name, errorClass);
  if (details) {
    assert.ok(err.details && typeof err.details === 'object', `error.details; body ${JSON.stringify(err.body)}`);
    for (const [k, v] of Object.entries(details)) {
      if (typeof v === 'function') assert.ok(v(err.details[k]), `details.${k} = ${JSON.stringify(err.details[k])}`);
      else assert.deepEqual(err.details[k], v, `details.${k}`);
    }
  }
  return err;
}

// A voice note as vocafuse-node's Voicenote type reads it.
function assertVoicenote(v, { id, fileSize, duration, durationTolerance = 0.1 } = {}) {
  assert.ok(v && typeof v === 'object', 'a voice note object');
  assert.equal(typeof v.id, 'string');
  if (id) assert.equal(v.id, id);
  assert.ok(['processing', 'transcribed', 'failed'].includes(v.status), `status ${v.status}`);
  assert.match(v.created_at, RFC3339);
  assert.match(v.updated_at, RFC3339);
  assert.ok(Date.parse(v.updated_at) >= Date.parse(v.created_at), 'updated_at is not before created_at');
  assert.equal(typeof v.duration, 'number');
  if (duration !== undefined) {
    assert.ok(Math.abs(v.duration - duration) <= durationTolerance, `duration ${v.duration}, want ${duration}`);
  }
  assert.equal(typeof v.file_size, 'number');
  if (fileSize !== undefined) assert.equal(v.file_size, fileSize);
  assert.ok(v.metadata && typeof v.metadata === 'object' && !Array.isArray(v.metadata), 'metadata is an object');
}

const dayOf = (rfc3339) => rfc3339.slice(0, 10);
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

// ---------------------------------------------------------------------------
// The server, the customer's backend (token endpoint) and its webhook receiver

let server;
let backend; // vocafuse-node with the environment's key
let baseUrl; // http://127.0.0.1:<port>/v1
let customer; // the customer's token endpoint
let receiver; // the customer's webhook receiver
let tmp;
const tokenRequests = []; // what the customer's token endpoint received
const deliveries = []; // what the webhook receiver received
const deliveryWaiters = [];

before(async () => {
  const saved = {};
  const env = { VOCAFUSE_API_KEY: API_KEY, VOCAFUSE_API_SECRET: API_SECRET, VOCAFUSE_TOKEN_SECRET: TOKEN_SECRET };
  for (const [k, v] of Object.entries(env)) { saved[k] = process.env[k]; process.env[k] = v; }
  try {
    server = await startServer({ testPagesDir: HERE });
  } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  baseUrl = `${server.origin}/v1`;
  backend = nodeClient({ baseUrl, apiKey: API_KEY, apiSecret: API_SECRET });
  tmp = await freshTmpDir('vocafuse-clients-');

  // The customer's token endpoint, written as vocafuse-node's quickstart writes it
  // (AccessToken.generate with the browser's scopes, or upload_voicenote), answering the
  // shape VocaFuse's browser SDKs read: success and data.id_token. Who the user is comes
  // from the customer's own session: here the URL's ?user=.
  customer = await listen(async (req, res) => {
    const raw = await readBody(req);
    tokenRequests.push({ method: req.method, url: req.url, headers: req.headers, body: raw });
    const user = new URL(req.url, 'http://x').searchParams.get('user');
    const { expiresIn, scopes } = raw ? JSON.parse(raw) : {};
    const sdk = nodeClient({ baseUrl, apiKey: API_KEY, apiSecret: API_SECRET });
    try {
      const tokenResponse = await sdk.accessToken(user).generate({
        expiresIn: expiresIn || 3600, scopes: scopes || ['voice-api.upload_voicenote'],
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ success: true, data: { ...tokenResponse.data, id_token: tokenResponse.data.jwt_token } }));
    } catch (err) {
      res.writeHead(err.statusCode || 500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ success: false, message: err.message, code: err.errorCode }));
    }
  });

  receiver = await listen(async (req, res) => {
    const raw = await readBody(req);
    const d = { headers: req.headers, raw, body: (() => { try { return JSON.parse(raw); } catch { return undefined; } })() };
    deliveries.push(d);
    res.writeHead(200).end();
    for (const w of deliveryWaiters.splice(0)) {
      if (w.match(d)) w.resolve(d); else deliveryWaiters.push(w);
    }
  });
});

after(async () => {
  if (customer) await closeServer(customer);
  if (receiver) await closeServer(receiver);
  await server?.stop();
  if (tmp) await removeDir(tmp);
});

const customerEndpoint = (user) => `http://127.0.0.1:${customer.address().port}/api/token?user=${encodeURIComponent(user)}`;
const receiverURL = () => `http://127.0.0.1:${receiver.address().port}/vocafuse-hook`;

function waitForDelivery(match) {
  const found = deliveries.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => deliveryWaiters.push({ match, resolve }));
}

// ---------------------------------------------------------------------------
// The uploads, made once through the browser SDKs' flow, for the tests that read them:
// several identities (a webhook for voicenote.created is registered first, as a
// customer's backend would, so its deliveries can be checked).

const WEBHOOK_SECRET = `whsec_clients_${crypto.randomBytes(12).toString('hex')}`;
let uploadsPromise;
function uploads() {
  uploadsPromise ??= (async () => {
    const hook = await backend.webhooks.create({ url: receiverURL(), events: ['voicenote.created'], secret: WEBHOOK_SECRET });
    const short = await makeWebm(tmp, 1.5, 440);
    const longer = await makeWebm(tmp, 2.5, 660);
    const wav = makeWav({ seconds: 35 });
    const made = [];
    const up = async (identity, variant, bytes, opts) => {
      const sdk = browserClient({ tokenEndpoint: customerEndpoint(identity), apiBaseUrl: baseUrl, variant });
      const out = await sdk.upload(bytes, opts);
      const id = out.envelope.data.voicenote_id;
      const record = { identity, variant, bytes, opts, id, ...out, sdk };
      made.push(record);
      return record;
    };
    const webm = { mime: 'audio/webm;codecs=opus' };
    await up('alice', 'sw', short, { ...webm, durationSeconds: 1.508 });
    await up('alice', 'sw', longer, { ...webm, durationSeconds: 2.508 });
    await up('alice', 'sw', short, { ...webm, durationSeconds: 1.508 });
    await up('bob', 'sw', longer, { ...webm, durationSeconds: 2.508 });
    await up('bob', 'vj', short, { ...webm, durationSeconds: 1.508, customTags: { ticket: 'T-42', source: 'clients-test' } });
    await up('carol', 'sw', short, { ...webm, durationSeconds: 1.508 });
    // VocaFuse's recorders make webm/ogg/mp4 only; a WAV is the simplest file over 5 MB
    // whose length is known exactly, and wav is an audio_format the local API takes.
    await up('carol', 'sw', wav, { mime: 'audio/wav', audioFormat: 'wav', durationSeconds: 35, partOrder: 'reverse' });
    return { hook, made, single: made[0], vj: made[4], multipart: made[6], durations: { short: 1.508, longer: 2.508, wav: 35 } };
  })();
  return uploadsPromise;
}

// ===========================================================================

describe('vocafuse-node tokens', () => {
  test('vocafuse-node AccessToken.generate(): POST /v1/token {user_id, expires_in, scopes} → 201 {data:{jwt_token, token_type: Bearer, expires_in}}, sub = user_id', T, async () => {
    const res = await backend.accessToken('user_42').generate({ expiresIn: 3600, scopes: ['voice-api.upload_voicenote'] });
    const call = backend.last();
    assert.equal(call.url, `${baseUrl}/token`);
    assert.equal(call.requestBody, '{"user_id":"user_42","expires_in":3600,"scopes":["voice-api.upload_voicenote"]}');
    assert.equal(call.status, 201);
    assert.match(call.headers.get('content-type'), /application\/json/);
    assert.equal(typeof res.data.jwt_token, 'string');
    assert.equal(res.data.token_type, 'Bearer');
    assert.equal(res.data.expires_in, 3600);
    const claims = jwtPayload(res.data.jwt_token);
    assert.equal(claims.sub, 'user_42');
    assert.equal(claims.exp - claims.iat, 3600);

    // generate() without expiresIn: expires_in is left out of the JSON; the fixture scopes.
    const plain = await backend.accessToken('user_43').generate({ scopes: ['voicenotes:read', 'voicenotes:write'] });
    assert.equal(backend.last().requestBody, '{"user_id":"user_43","scopes":["voicenotes:read","voicenotes:write"]}');
    assert.equal(backend.last().status, 201);
    assert.equal(typeof plain.data.jwt_token, 'string');
    assert.equal(plain.data.token_type, 'Bearer');
    assert.equal(typeof plain.data.expires_in, 'number');
    assert.equal(jwtPayload(plain.data.jwt_token).sub, 'user_43');
  });

  test('vocafuse-node AccessToken.generate(): refusals read as error.code, error.message, error.details (1001, 2002 user_id, 2003 expires_in, 2003 scopes)', T, async () => {
    const wrong = nodeClient({ baseUrl, apiKey: API_KEY, apiSecret: 'not-the-secret-0123456789' });
    await refused(wrong.accessToken('user_42').generate(), { status: 401, code: 1001, errorClass: 'AuthenticationError' });
    await refused(backend.accessToken(undefined).generate(),
      { status: 400, code: 2002, errorClass: 'ValidationError', details: { field: 'user_id' } });
    await refused(backend.accessToken('user_42').generate({ expiresIn: 10 }), {
      status: 400, code: 2003, errorClass: 'ValidationError',
      details: { field: 'expires_in', value: 10, reason: (r) => typeof r === 'string' && r.length > 0 },
    });
    await refused(backend.accessToken('user_42').generate({ scopes: ['voice-api.everything'] }), {
      status: 400, code: 2003, errorClass: 'ValidationError',
      details: { field: 'scopes', value: ['voice-api.everything'], reason: (r) => typeof r === 'string' && r.length > 0 },
    });
  });
});

describe('the browser SDKs', () => {
  test('browser SDKs token endpoint: POST {"scopes":["voice-api.upload"]} → success and data.id_token, a JWT of POST /v1/token that the local API takes as the Bearer of POST /v1/upload', T, async () => {
    const sdk = browserClient({ tokenEndpoint: customerEndpoint('dora'), apiBaseUrl: baseUrl });
    const from = tokenRequests.length;
    const token = await sdk.getToken();
    const got = tokenRequests.slice(from);
    assert.equal(got.length, 1);
    assert.equal(got[0].method, 'POST');
    assert.equal(got[0].headers['content-type'], 'application/json');
    assert.equal(got[0].body, '{"scopes":["voice-api.upload"]}');
    assert.equal(got[0].headers.authorization, undefined);
    assert.equal(got[0].headers.cookie, undefined);
    // The browser's scope passed on to POST /v1/token is one the local API takes.
    assert.equal(typeof token.idToken, 'string');
    assert.equal(token.tokenType, 'Bearer');
    assert.equal(token.expiresIn, 3600);
    const claims = jwtPayload(token.idToken);
    assert.equal(claims.sub, 'dora');
    // The Bearer works: an upload request with a wrong field is refused for the field
    // (2005), not for the token (1001).
    const err = await sdk.apiRequest('POST', '/upload', {
      headers: { Authorization: `Bearer ${token.idToken}` },
      body: { file_name: 'voicenote-x.mp3', file_size: 1000, audio_format: 'mp3', duration_seconds: 1, use_multipart: false,
        sdk_metadata: { duration_seconds: 1, codec: 'mp3', file_size_bytes: 1000, sample_rate: 44100, channels: 1, bit_rate: 128000 } },
    }).then(() => assert.fail('an mp3 was accepted'), (e) => e);
    assert.ok(err instanceof BrowserSdkError, String(err));
    assert.equal(err.status, 400, JSON.stringify(err.context.responseBody));
    assert.equal(err.context.responseBody?.error?.code, 2005);
  });

  test("browser SDKs token endpoint: the demo's own POST /api/token answers success and data.id_token, as VocaFuse's browser SDKs read it", T, async () => {
    const sdk = browserClient({ tokenEndpoint: `${server.origin}/api/token`, apiBaseUrl: baseUrl });
    const token = await sdk.getToken(); // throws "No authentication token received from server" otherwise
    assert.equal(typeof token.idToken, 'string');
    assert.ok(jwtPayload(token.idToken).sub, 'the token names an identity');
    assert.equal(typeof token.expiresIn, 'number');
  });

  test('browser SDKs POST /v1/upload (single): Bearer token, {file_name, file_size, audio_format, duration_seconds, use_multipart, sdk_metadata} → 201 {data:{voicenote_id, upload_type: single, presigned_url, s3_key, expires_in, processing_strategy, client_processed, message}}', T, async () => {
    const { made } = await uploads();
    for (const u of made.filter((m) => m.envelope.data.upload_type === 'single' || !m.request.use_multipart)) {
      const post = u.sdk.exchanges.find((e) => e.kind === 'api' && e.method === 'POST');
      assert.equal(post.url, `${baseUrl}/upload`);
      assert.equal(post.status, 201, JSON.stringify(post.body));
      assert.match(post.contentType, /application\/json/, 'the SDK parses JSON only under a JSON Content-Type');
      assert.equal(u.request.use_multipart, false);
      const d = u.envelope.data;
      assert.equal(typeof d.voicenote_id, 'string');
      assert.match(d.voicenote_id, UUID);
      assert.equal(d.upload_type, 'single');
      assert.equal(typeof d.presigned_url, 'string');
      assert.ok(new URL(d.presigned_url).protocol === 'http:', `presigned_url ${d.presigned_url} is absolute`);
      assert.equal(typeof d.s3_key, 'string');
      assert.equal(typeof d.expires_in, 'number');
      assert.ok(d.expires_in > 0);
      assert.equal(typeof d.processing_strategy, 'string');
      assert.equal(typeof d.client_processed, 'boolean');
      assert.equal(typeof d.message, 'string');
      const idToken = JSON.parse(u.sdk.exchanges.find((e) => e.kind === 'token').text).data.id_token;
      assert.ok(!d.presigned_url.includes(idToken), 'the URL does not carry the token');
      assert.equal(u.result.voicenote_id ?? u.result.recording_id, u.variant === 'sw' ? d.voicenote_id : d.recording_id);
    }
    // The ids are distinct: each POST is a new voice note.
    assert.equal(new Set(made.map((m) => m.id)).size, made.length);
  });

  test('vocafuse-voice.js POST /v1/upload with custom_tags and recording- file name → 201, and data.recording_id, the field it reads the id from', T, async () => {
    const { vj } = await uploads();
    assert.deepEqual(vj.request.custom_tags, { ticket: 'T-42', source: 'clients-test' });
    assert.match(vj.request.file_name, /^recording-.*\.webm$/);
    assert.equal(vj.sdk.exchanges.find((e) => e.kind === 'api').status, 201);
    assert.equal(typeof vj.envelope.data.recording_id, 'string', 'vocafuse-voice.js reads data.recording_id');
    assert.equal(vj.result.recording_id, vj.envelope.data.voicenote_id);
  });

  test('browser SDKs PUT presigned_url (single): the bytes with the recording\'s Content-Type, no Authorization → 200 {data: <voice note>}; CORS for any origin', T, async () => {
    const { made } = await uploads();
    for (const u of made.filter((m) => m.envelope.data.upload_type === 'single')) {
      assert.equal(u.puts.length, 1);
      const put = u.puts[0];
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assertVoicenote(put.body?.data, { id: u.id, fileSize: u.bytes.length,
        duration: u.opts.durationSeconds, durationTolerance: 0.1 });
      assert.equal(put.body.data.status, 'processing');
    }
    // A page on another origin: the preflight the PUT needs, and the PUT's own answer.
    const { single } = await uploads();
    const origin = 'https://customer.example';
    const pre = await fetch(single.envelope.data.presigned_url, { method: 'OPTIONS', headers: {
      Origin: origin, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' } });
    assert.ok(pre.status >= 200 && pre.status < 300, `preflight ${pre.status}`);
    const allowOrigin = pre.headers.get('access-control-allow-origin');
    assert.ok(allowOrigin === '*' || allowOrigin === origin, `Access-Control-Allow-Origin ${allowOrigin}`);
    assert.match(pre.headers.get('access-control-allow-methods') || '', /PUT/i);
    assert.match(pre.headers.get('access-control-allow-headers') || '', /content-type|\*/i);
    // The same bytes again (idempotent), from that origin, as the browser sends it.
    const again = await fetch(single.envelope.data.presigned_url, { method: 'PUT',
      headers: { Origin: origin, 'Content-Type': single.opts.mime }, body: single.bytes });
    assert.equal(again.status, 200, await again.clone().text());
    const allow = again.headers.get('access-control-allow-origin');
    assert.ok(allow === '*' || allow === origin, `Access-Control-Allow-Origin ${allow}`);
    assert.equal(allow === '*' ? again.headers.get('access-control-allow-credentials') : null, null, 'no credentials with *');
  });

  test('browser SDKs POST /v1/upload (multipart, a 35 s stereo WAV over 5 MB): upload_type multipart, upload_info.parts of 5 MiB cover every byte once, end_byte inclusive', T, async () => {
    const { multipart: m } = await uploads();
    assert.equal(m.bytes.length, 44 + 35 * 48_000 * 4);
    assert.equal(m.request.use_multipart, true);
    const post = m.sdk.exchanges.find((e) => e.kind === 'api' && e.method === 'POST');
    assert.equal(post.status, 201, JSON.stringify(post.body));
    const d = m.envelope.data;
    assert.match(d.voicenote_id, UUID);
    assert.equal(d.upload_type, 'multipart');
    assert.equal(typeof d.s3_key, 'string');
    assert.equal(typeof d.expires_in, 'number');
    assert.equal(typeof d.processing_strategy, 'string');
    assert.equal(typeof d.client_processed, 'boolean');
    assert.equal(typeof d.message, 'string');
    assert.equal(typeof d.upload_info?.upload_id, 'string');
    const parts = d.upload_info.parts;
    assert.ok(Array.isArray(parts) && parts.length === Math.ceil(m.bytes.length / (5 * MiB)), `${parts?.length} parts`);
    let next = 0;
    parts.forEach((p, i) => {
      assert.equal(p.part_number, i + 1);
      assert.equal(typeof p.presigned_url, 'string');
      assert.equal(p.start_byte, next);
      const size = i < parts.length - 1 ? 5 * MiB : m.bytes.length - 5 * MiB * i;
      assert.equal(p.end_byte, p.start_byte + size - 1, `part ${i + 1} end_byte (inclusive)`);
      assert.equal(p.content_length, size);
      next = p.end_byte + 1;
    });
    assert.equal(next, m.bytes.length, 'the parts cover every byte');
    assert.equal(new Set(parts.map((p) => p.presigned_url)).size, parts.length, 'one URL per part');
  });

  test('browser SDKs PUT presigned part URLs (Content-Type of a Blob slice: empty), all at once and last part first → 200 each; the note is then whole and its audio_url gives back the bytes sent', T, async () => {
    const { multipart: m, durations } = await uploads();
    assert.deepEqual(m.puts.map((p) => p.index), m.envelope.data.upload_info.parts.map((_, i) => i).reverse(),
      'the PUTs were started last part first');
    for (const p of m.puts) assert.equal(p.status, 200, `part ${p.part}: ${JSON.stringify(p.body)}`);
    const withNote = m.puts.filter((p) => p.body?.data?.id === m.id);
    assert.ok(withNote.length >= 1, 'the last missing part answers {data: <voice note>}');
    assertVoicenote(withNote[0].body.data, { id: m.id, fileSize: m.bytes.length, duration: durations.wav, durationTolerance: 0.01 });

    const got = await backend.voicenotes(m.id).get();
    assertVoicenote(got.data, { id: m.id, fileSize: m.bytes.length, duration: durations.wav, durationTolerance: 0.01 });
    assert.equal(got.data.format, 'wav');
    const audio = await fetch(got.data.audio_url);
    assert.equal(audio.status, 200);
    const back = Buffer.from(await audio.arrayBuffer());
    assert.equal(back.length, m.bytes.length);
    assert.ok(back.equals(m.bytes), 'the stored bytes are the bytes sent, in order');
  });

  test('browser SDKs POST /v1/upload refusals before any byte: mp4 (Safari) → 2005, over 25 MB → 2004, over 60 s → 2006, a missing field → 2002, a wrong type → 2003, no token → 1001 (the SDK sees HTTP status, the body kept in context)', T, async () => {
    const sdk = browserClient({ tokenEndpoint: customerEndpoint('erin'), apiBaseUrl: baseUrl });
    const { idToken } = await sdk.getToken();
    const meta = (fmt, size, dur) => ({ duration_seconds: dur, codec: fmt, file_size_bytes: size, sample_rate: 44100, channels: 1, bit_rate: 128000 });
    const body = (fmt, size, dur) => ({ file_name: `voicenote-x.${fmt}`, file_size: size, audio_format: fmt,
      duration_seconds: dur, use_multipart: size > 5 * MiB, sdk_metadata: meta(fmt, size, dur) });
    const post = (b, auth = true) => sdk.apiRequest('POST', '/upload', {
      body: b, headers: auth ? { Authorization: `Bearer ${idToken}` } : {} }).then(
      (v) => assert.fail(`accepted: ${JSON.stringify(v)}`), (e) => e);
    const expect = async (b, status, code, details, sdkCode = 'REQUEST_FAILED', auth = true) => {
      const err = await post(b, auth);
      assert.ok(err instanceof BrowserSdkError, String(err));
      const env = err.context.responseBody;
      assert.equal(err.status, status, JSON.stringify(env));
      assert.equal(err.code, sdkCode);
      assert.equal(env?.error?.code, code, JSON.stringify(env));
      assert.equal(typeof env.error.message, 'string');
      for (const [k, v] of Object.entries(details ?? {})) assert.deepEqual(env.error.details?.[k], v, `details.${k}: ${JSON.stringify(env)}`);
    };
    await expect(body('mp4', 200_000, 5), 400, 2005, { format: 'mp4', supported_formats: ['webm', 'wav', 'ogg'] });
    await expect(body('webm', 30 * MiB, 30), 400, 2004, { max_size: '25MB' });
    await expect(body('webm', 500_000, 75), 400, 2006, { max_duration: 60, actual_duration: 75 });
    const { file_size: _drop, ...noSize } = body('webm', 1000, 1);
    await expect(noSize, 400, 2002, { field: 'file_size' });
    await expect({ ...body('webm', 1000, 1), file_size: '1000' }, 400, 2003, { field: 'file_size' });
    await expect(body('webm', 1000, 1), 401, 1001, undefined, 'AUTHENTICATION_FAILED', false);
  });
});

describe('vocafuse-node webhooks and RequestValidator', () => {
  test('vocafuse-node RequestValidator: a voicenote.created delivery is signed X-VocaFuse-Signature: sha256=<hex HMAC of timestamp.delivery-id.body> and validates', T, async () => {
    const { single, hook } = await uploads();
    assert.equal(hook.data.secret, WEBHOOK_SECRET);
    const d = await waitForDelivery((x) => x.body?.event === 'voicenote.created' && x.body?.data?.id === single.id);
    assert.equal(d.headers['content-type'], 'application/json');
    const signature = d.headers['x-vocafuse-signature'];
    const timestamp = d.headers['x-vocafuse-timestamp'];
    const deliveryId = d.headers['x-vocafuse-delivery-id'];
    assert.match(signature, /^sha256=[0-9a-f]{64}$/);
    assert.match(timestamp, /^\d+$/);
    assert.equal(typeof deliveryId, 'string');
    assert.ok(RequestValidator.validate(WEBHOOK_SECRET, d.raw, signature, { timestamp, deliveryId }), 'the signature validates');
    assert.ok(!RequestValidator.validate(WEBHOOK_SECRET, `${d.raw} `, signature, { timestamp, deliveryId }), 'an altered body does not');
    assert.ok(!RequestValidator.validate('another-secret', d.raw, signature, { timestamp, deliveryId }), 'another secret does not');
    assert.match(d.body.id, /^evt_/);
    assert.match(d.body.created_at, RFC3339);
    assertVoicenote(d.body.data, { id: single.id, fileSize: single.bytes.length });
  });

  test('vocafuse-node webhooks.create()/list()/webhooks(id).get()/update()/delete(): 201/200/200/200/204, the secret only on create, 5005 on a duplicate URL, 6003 on a missing id', T, async () => {
    const url = `https://customer.example/hooks/${crypto.randomBytes(4).toString('hex')}`;
    const created = await backend.webhooks.create({ url, events: ['voicenote.transcribed'], secret: 'whsec_given_0123456789' });
    assert.equal(backend.last().status, 201);
    assert.deepEqual(JSON.parse(backend.last().requestBody), { url, events: ['voicenote.transcribed'], secret: 'whsec_given_0123456789' });
    const w = created.data;
    assert.match(w.id, /^wh_/);
    assert.equal(w.url, url);
    assert.deepEqual(w.events, ['voicenote.transcribed']);
    assert.equal(w.secret, 'whsec_given_0123456789');
    assert.equal(w.active, true);
    assert.match(w.created_at, RFC3339);
    assert.match(w.updated_at, RFC3339);

    // No secret: not sent, and the server makes one, shown once.
    const url2 = `${url}/second`;
    const made = await backend.webhooks.create({ url: url2, events: ['voicenote.created', 'voicenote.deleted'] });
    assert.equal(JSON.parse(backend.last().requestBody).secret, undefined);
    assert.equal(backend.last().status, 201);
    assert.equal(typeof made.data.secret, 'string');
    assert.ok(made.data.secret.length >= 16);

    const list = await backend.webhooks.list();
    assert.equal(backend.last().status, 200);
    assert.ok(Array.isArray(list.data));
    const listed = list.data.find((x) => x.id === w.id);
    assert.ok(listed, 'the new webhook is listed');
    assert.equal(listed.url, url);
    for (const x of list.data) assert.equal(x.secret, undefined, 'no secret in a list');

    const got = await backend.webhooks(w.id).get();
    assert.equal(backend.last().status, 200);
    assert.equal(got.data.id, w.id);
    assert.equal(got.data.url, url);
    assert.deepEqual(got.data.events, ['voicenote.transcribed']);
    assert.equal(got.data.active, true);
    assert.equal(got.data.secret, undefined);

    const updated = await backend.webhooks(w.id).update({ url, events: ['voicenote.transcribed', 'voicenote.failed'] });
    assert.equal(backend.last().method, 'PUT');
    assert.equal(backend.last().status, 200);
    assert.deepEqual(updated.data.events, ['voicenote.transcribed', 'voicenote.failed']);
    assert.ok(Date.parse(updated.data.updated_at) >= Date.parse(updated.data.created_at));

    await refused(backend.webhooks.create({ url, events: ['voicenote.created'] }),
      { status: 409, code: 5005, errorClass: 'ConflictError', details: { url } });
    await refused(backend.webhooks.create({ url: 'not a url', events: ['voicenote.created'] }),
      { status: 400, code: 2003, errorClass: 'ValidationError', details: { field: 'url' } });

    await backend.webhooks(w.id).delete();
    assert.equal(backend.last().status, 204);
    await refused(backend.webhooks(w.id).get(),
      { status: 404, code: 6003, errorClass: 'WebhookNotFoundError', details: { webhook_id: w.id } });
    await refused(backend.webhooks(w.id).delete(),
      { status: 404, code: 6003, errorClass: 'WebhookNotFoundError', details: { webhook_id: w.id } });
    await backend.webhooks(made.data.id).delete();
  });
});

describe('vocafuse-node voice notes', () => {
  test('vocafuse-node voicenotes.list(): GET /v1/voicenotes?page=0&limit=50 with the key → every identity\'s notes, newest first, pagination {page, limit, total, has_more}', T, async () => {
    const { made } = await uploads();
    const res = await backend.voicenotes.list();
    const call = backend.last();
    assert.equal(call.url, `${baseUrl}/voicenotes?page=0&limit=50`);
    assert.equal(call.status, 200);
    assert.ok(Array.isArray(res.data));
    assert.deepEqual(Object.keys(res.pagination).sort(), ['has_more', 'limit', 'page', 'total']);
    assert.deepEqual(res.pagination, { page: 0, limit: 50, total: made.length, has_more: false });
    assert.equal(res.data.length, made.length);
    assert.deepEqual(res.data.map((v) => v.id), made.map((m) => m.id).reverse(), 'newest first, every identity');
    for (const v of res.data) {
      const m = made.find((x) => x.id === v.id);
      assertVoicenote(v, { id: m.id, fileSize: m.bytes.length, duration: m.opts.durationSeconds });
    }
  });

  test('vocafuse-node voicenotes.iterate(): pages 0,1,2 … until has_more is false; total counts what was listed', T, async () => {
    const { made } = await uploads();
    const from = backend.calls.length;
    const seen = [];
    for await (const v of backend.voicenotes.iterate({ limit: 3 })) {
      seen.push(v);
      assert.ok(seen.length <= made.length + 3, 'iterate() stops');
    }
    const pages = backend.calls.slice(from);
    const expectedPages = Math.ceil(made.length / 3);
    assert.deepEqual(pages.map((c) => c.query), Array.from({ length: expectedPages }, (_, i) => `page=${i}&limit=3`));
    pages.forEach((c, i) => {
      assert.equal(c.status, 200);
      assert.deepEqual(c.body.pagination, { page: i, limit: 3, total: made.length, has_more: i < expectedPages - 1 });
      assert.equal(c.body.data.length, Math.min(3, made.length - 3 * i));
    });
    assert.equal(seen.length, pages[0].body.pagination.total, 'total counts what was listed');
    assert.equal(new Set(seen.map((v) => v.id)).size, seen.length, 'no note twice');
    assert.deepEqual(new Set(seen.map((v) => v.id)), new Set(made.map((m) => m.id)));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].created_at >= seen[i].created_at, 'newest first');
    assert.deepEqual(new Set(seen.map((v) => v.identity)), new Set(['alice', 'bob', 'carol']));
  });

  test('vocafuse-node voicenotes.list({status, dateFrom, dateTo, limit}): status=…&date_from=…&date_to=… applied; a limit over 100 sent as 100', T, async () => {
    const { made } = await uploads();
    const all = (await backend.voicenotes.list({ limit: 100 })).data;
    assert.equal(all.length, made.length);
    // A note's status moves on when its transcription ends: each filtered list is checked
    // against unfiltered ones read just before and after it, read again (a few times at
    // most) when a transcription ended in between.
    const idsWith = async (status) => (await backend.voicenotes.list({ limit: 100 })).data
      .filter((v) => v.status === status).map((v) => v.id).sort();
    for (const status of ['processing', 'transcribed', 'failed']) {
      let checked = false;
      for (let attempt = 0; attempt < 5 && !checked; attempt++) {
        const before = await idsWith(status);
        const res = await backend.voicenotes.list({ status });
        assert.equal(backend.last().query, `page=0&limit=50&status=${status}`);
        assert.equal(backend.last().status, 200);
        for (const v of res.data) assert.equal(v.status, status);
        const after = await idsWith(status);
        if (before.join() !== after.join()) continue;
        assert.deepEqual(res.data.map((v) => v.id).sort(), before, `status=${status}`);
        assert.equal(res.pagination.total, before.length, `status=${status}: total`);
        checked = true;
      }
      assert.ok(checked, `status=${status}: the notes' statuses kept changing`);
    }
    const first = dayOf(all.at(-1).created_at);
    const last = dayOf(all[0].created_at);
    const inRange = await backend.voicenotes.list({ dateFrom: first, dateTo: last });
    assert.equal(backend.last().query, `page=0&limit=50&date_from=${first}&date_to=${last}`);
    assert.equal(inRange.pagination.total, made.length, 'date_to as a date includes that whole day');
    assert.equal((await backend.voicenotes.list({ dateTo: addDays(first, -1) })).pagination.total, 0);
    assert.equal((await backend.voicenotes.list({ dateFrom: addDays(last, 1) })).pagination.total, 0);
    // Date-times, inclusive; the created_at shown is whole seconds.
    const t = all[0].created_at; // the newest
    const fromT = await backend.voicenotes.list({ dateFrom: t });
    assert.ok(backend.last().query.includes(`date_from=${t}`), 'axios leaves : unescaped');
    assert.equal(fromT.pagination.total, all.filter((v) => v.created_at >= t).length);
    const before = new Date(Date.parse(t) - 1).toISOString(); // …:59.999Z of the second before
    const toBefore = await backend.voicenotes.list({ dateTo: before });
    assert.equal(toBefore.pagination.total, all.filter((v) => v.created_at < t).length);

    const capped = await backend.voicenotes.list({ limit: 200 });
    assert.equal(backend.last().query, 'page=0&limit=100');
    assert.equal(capped.pagination.limit, 100);
  });

  test('vocafuse-node voicenotes.list(): a bad filter → 400 {error:{code: 2003, message, details:{field, value, reason}}} (ValidationError), never ignored', T, async () => {
    const reason = (r) => typeof r === 'string' && r.length > 0;
    // 'completed' is the status the SDK's JSDoc names; its type and the local API say transcribed.
    await refused(backend.voicenotes.list({ status: 'completed' }),
      { status: 400, code: 2003, errorClass: 'ValidationError', details: { field: 'status', value: 'completed', reason } });
    await refused(backend.voicenotes.list({ dateFrom: 'last tuesday' }),
      { status: 400, code: 2003, errorClass: 'ValidationError', details: { field: 'date_from', value: 'last tuesday', reason } });
    await refused(backend.voicenotes.list({ dateTo: '2024-13-45' }),
      { status: 400, code: 2003, errorClass: 'ValidationError', details: { field: 'date_to', value: '2024-13-45', reason } });
    await refused(backend.voicenotes.list({ page: -1 }),
      { status: 400, code: 2003, errorClass: 'ValidationError', details: { field: 'page', value: '-1', reason } });
  });

  test('vocafuse-node voicenotes(id).get(): GET /v1/voicenotes/{id} → 200 {data:{id, status, created_at, updated_at, duration, file_size, metadata}}, any identity\'s with the key', T, async () => {
    const { made } = await uploads();
    for (const m of made) {
      const res = await backend.voicenotes(m.id).get();
      assert.equal(backend.last().url, `${baseUrl}/voicenotes/${m.id}`);
      assert.equal(backend.last().status, 200);
      assertVoicenote(res.data, { id: m.id, fileSize: m.bytes.length, duration: m.opts.durationSeconds });
      assert.equal(res.data.identity, m.identity);
    }
    const missing = '0190a0c0-0000-7000-8000-000000000000';
    await refused(backend.voicenotes(missing).get(),
      { status: 404, code: 6001, errorClass: 'VoicenoteNotFoundError', details: { voicenote_id: missing } });
  });

  test('vocafuse-node voicenotes(id).transcription.get(): GET /v1/voicenotes/{id}/transcription → 404 code 6002 {voicenote_id} while processing (TranscriptionNotFoundError)', T, async (t) => {
    const { made } = await uploads();
    // A note uploaded just now is the likeliest to be processing still; the others may
    // have ended (transcribed or failed) once the server transcribes. Each answer is
    // checked against the note's status read just before and just after it.
    const fresh = browserClient({ tokenEndpoint: customerEndpoint('frank'), apiBaseUrl: baseUrl });
    const { envelope } = await fresh.upload(made[0].bytes, made[0].opts);
    const ids = [envelope.data.voicenote_id, ...made.map((m) => m.id)];
    const seen = [];
    for (const id of ids) {
      const before = (await backend.voicenotes(id).get()).data.status;
      const outcome = await backend.voicenotes(id).transcription.get().then((v) => ({ ok: v }), (e) => ({ err: e }));
      assert.equal(backend.last().url, `${baseUrl}/voicenotes/${id}/transcription`);
      const after = (await backend.voicenotes(id).get()).data.status;
      if (before !== after) continue; // it ended in between: no telling which answer is right
      seen.push(after);
      if (after === 'processing') {
        assert.ok(outcome.err, `a transcription while processing: ${JSON.stringify(outcome.ok)}`);
        assert.equal(outcome.err.statusCode, 404);
        assert.equal(outcome.err.errorCode, 6002);
        assert.equal(outcome.err.name, 'TranscriptionNotFoundError');
        assert.equal(typeof outcome.err.message, 'string');
        assert.deepEqual(outcome.err.details, { voicenote_id: id });
      } else if (after === 'transcribed') {
        assert.ok(outcome.ok, `no transcription once transcribed: ${JSON.stringify(outcome.err?.body)}`);
        const tr = outcome.ok.data;
        assert.equal(tr.voicenote_id, id);
        for (const k of ['id', 'text', 'language', 'created_at']) assert.equal(typeof tr[k], 'string', k);
        assert.equal(typeof tr.confidence, 'number');
        if (tr.words !== undefined) assert.ok(Array.isArray(tr.words));
      } else {
        assert.ok(outcome.err, `a transcription of a failed note: ${JSON.stringify(outcome.ok)}`);
        assert.equal(outcome.err.statusCode, 422);
        assert.equal(outcome.err.errorCode, 3003);
        assert.equal(outcome.err.details?.voicenote_id, id);
      }
    }
    assert.ok(seen.length > 0, 'a status that held still long enough to check');
    t.diagnostic(`statuses checked: ${seen.join(', ')}`);
  });

  test('vocafuse-node voicenotes(id).delete(): DELETE /v1/voicenotes/{id} → 204; then get() → 404 code 6001 (VoicenoteNotFoundError) and list() counts one fewer', T, async () => {
    const { made } = await uploads();
    const victim = made[2];
    const before = (await backend.voicenotes.list()).pagination.total;
    await backend.voicenotes(victim.id).delete();
    assert.equal(backend.last().method, 'DELETE');
    assert.equal(backend.last().status, 204);
    await refused(backend.voicenotes(victim.id).get(),
      { status: 404, code: 6001, errorClass: 'VoicenoteNotFoundError', details: { voicenote_id: victim.id } });
    await refused(backend.voicenotes(victim.id).delete(), { status: 404, code: 6001, errorClass: 'VoicenoteNotFoundError' });
    const res = await backend.voicenotes.list();
    assert.equal(res.pagination.total, before - 1);
    assert.ok(!res.data.some((v) => v.id === victim.id));
  });
});

describe('vocafuse-node account and API keys', () => {
  test('vocafuse-node account.get(): GET /v1/account → 200 {data:{id, tenant_id, name, email, plan, created_at, settings:{default_language, webhook_url, notifications_enabled}, usage:{voicenotes_count, total_duration, api_calls_count}}}', T, async () => {
    await uploads();
    const res = await backend.account.get();
    assert.equal(backend.last().url, `${baseUrl}/account`);
    assert.equal(backend.last().status, 200);
    const a = res.data;
    for (const k of ['id', 'tenant_id', 'name', 'email', 'plan', 'created_at']) assert.equal(typeof a[k], 'string', k);
    assert.ok(a.id && a.tenant_id && a.name && a.plan);
    assert.match(a.created_at, RFC3339);
    assert.equal(typeof a.settings.default_language, 'string');
    assert.ok(a.settings.webhook_url === null || typeof a.settings.webhook_url === 'string', 'webhook_url');
    assert.equal(typeof a.settings.notifications_enabled, 'boolean');
    for (const k of ['voicenotes_count', 'total_duration', 'api_calls_count']) assert.equal(typeof a.usage[k], 'number', k);
    // usage counts what the account holds: every identity's notes and their seconds.
    const notes = (await backend.voicenotes.list({ limit: 100 })).data;
    assert.equal(a.usage.voicenotes_count, notes.length);
    const seconds = notes.reduce((s, v) => s + v.duration, 0);
    assert.ok(Math.abs(a.usage.total_duration - seconds) < 0.01 * notes.length + 0.01, `total_duration ${a.usage.total_duration}, notes ${seconds}`);
    assert.ok(Number.isInteger(a.usage.api_calls_count) && a.usage.api_calls_count > 0);
    const again = await backend.account.get();
    assert.ok(again.data.usage.api_calls_count > a.usage.api_calls_count, 'api_calls_count counts calls');
  });

  test('vocafuse-node account.update({name, settings}): PUT /v1/account merges what it is given and answers the account; a bad value → 400 / 2003', T, async () => {
    const before = (await backend.account.get()).data;
    const named = await backend.account.update({ name: 'Updated Account' });
    assert.equal(backend.last().method, 'PUT');
    assert.equal(backend.last().requestBody, '{"name":"Updated Account"}');
    assert.equal(backend.last().status, 200);
    assert.equal(named.data.name, 'Updated Account');
    assert.deepEqual(named.data.settings, before.settings);
    assert.equal(named.data.id, before.id);
    assert.equal(named.data.tenant_id, before.tenant_id);
    assert.equal(named.data.created_at, before.created_at);

    const set = await backend.account.update({ settings: { default_language: 'es-ES', notifications_enabled: false } });
    assert.equal(set.data.name, 'Updated Account');
    assert.equal(set.data.settings.default_language, 'es-ES');
    assert.equal(set.data.settings.notifications_enabled, false);
    assert.equal(set.data.settings.webhook_url, before.settings.webhook_url);

    const both = await backend.account.update({ name: 'Both At Once', settings: { webhook_url: 'https://customer.example/account-hook' } });
    assert.equal(both.data.name, 'Both At Once');
    assert.equal(both.data.settings.webhook_url, 'https://customer.example/account-hook');
    assert.equal(both.data.settings.default_language, 'es-ES');
    assert.equal(both.data.settings.notifications_enabled, false);
    const read = (await backend.account.get()).data;
    assert.deepEqual({ name: read.name, settings: read.settings }, { name: both.data.name, settings: both.data.settings });

    await refused(backend.account.update({ settings: { default_language: 42 } }), {
      status: 400, code: 2003, errorClass: 'ValidationError',
      details: { field: 'settings.default_language', value: 42, reason: (r) => typeof r === 'string' && r.length > 0 },
    });
    assert.equal((await backend.account.get()).data.settings.default_language, 'es-ES', 'a refused update changes nothing');
  });

  test('vocafuse-node apiKeys.list()/create({name})/apiKeys(id).get(): {id, name, api_key, created_at, last_used_at}; api_secret only in the answer to create', T, async () => {
    const list = await backend.apiKeys.list();
    assert.equal(backend.last().url, `${baseUrl}/account/api-keys`);
    assert.equal(backend.last().status, 200);
    assert.ok(Array.isArray(list.data));
    const env = list.data.find((k) => k.api_key === API_KEY);
    assert.ok(env, 'the key in use is listed');
    for (const k of list.data) {
      assert.match(k.id, /^ak_/);
      assert.equal(typeof k.name, 'string');
      assert.equal(typeof k.api_key, 'string');
      assert.match(k.created_at, RFC3339);
      assert.ok(k.last_used_at === null || RFC3339.test(k.last_used_at), `last_used_at ${k.last_used_at}`);
      assert.equal(k.api_secret, undefined, 'no secret in a list');
      assert.ok(!JSON.stringify(k).includes(API_SECRET));
    }
    assert.match(env.last_used_at, RFC3339, 'the key in use has been used');

    const created = await backend.apiKeys.create({ name: 'CI key' });
    assert.equal(backend.last().requestBody, '{"name":"CI key"}');
    assert.equal(backend.last().status, 201);
    const k = created.data;
    assert.match(k.id, /^ak_/);
    assert.equal(k.name, 'CI key');
    assert.equal(typeof k.api_key, 'string');
    assert.equal(typeof k.api_secret, 'string');
    assert.ok(k.api_secret.length >= 16);
    assert.match(k.created_at, RFC3339);

    const got = await backend.apiKeys(k.id).get();
    assert.equal(backend.last().status, 200);
    assert.deepEqual({ id: got.data.id, name: got.data.name, api_key: got.data.api_key, created_at: got.data.created_at },
      { id: k.id, name: k.name, api_key: k.api_key, created_at: k.created_at });
    assert.equal(got.data.api_secret, undefined, 'the secret is shown once');
    assert.ok(!JSON.stringify((await backend.apiKeys.list()).data).includes(k.api_secret));
    await backend.apiKeys(k.id).delete();
  });

  test('vocafuse-node apiKeys(id).delete(): DELETE /v1/account/api-keys/{id} → 204; a new key works at once and is refused (401, code 1001) at once after', T, async () => {
    const { data: k } = await backend.apiKeys.create({ name: 'short-lived key' });
    const other = nodeClient({ baseUrl, apiKey: k.api_key, apiSecret: k.api_secret });
    const listed = await other.voicenotes.list();
    assert.equal(other.last().status, 200);
    assert.ok(Array.isArray(listed.data));
    const acct = await other.account.get();
    assert.equal(other.last().status, 200);
    assert.equal(typeof acct.data.id, 'string');
    assert.match((await backend.apiKeys(k.id).get()).data.last_used_at, RFC3339, 'last_used_at once used');

    await backend.apiKeys(k.id).delete();
    assert.equal(backend.last().method, 'DELETE');
    assert.equal(backend.last().status, 204);
    await refused(other.voicenotes.list(), { status: 401, code: 1001, errorClass: 'AuthenticationError' });
    await refused(other.account.get(), { status: 401, code: 1001, errorClass: 'AuthenticationError' });
    await refused(other.accessToken('user_42').generate(), { status: 401, code: 1001, errorClass: 'AuthenticationError' });
    // The reference has no "API key not found" code: the SDK keys on the 404 and the URL.
    await refused(backend.apiKeys(k.id).get(), { status: 404, errorClass: 'APIKeyNotFoundError', code: (c) => Number.isInteger(c) });
    assert.ok(!(await backend.apiKeys.list()).data.some((x) => x.id === k.id));
  });
});

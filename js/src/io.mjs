// @ts-check
// ---- The I/O primitives Go's delivery is built on: the locks, the token and one upload
// attempt (the outbox's storage is outbox.mjs). ----
//
// Imported by vocafuse.mjs (build.mjs bundles them). Go (wasm/delivery) owns a recording from stop
// until the server has it: when to try, what each answer means, when the page hears.
// These functions only carry out one step each and answer what happened; the bytes and
// the upload progress stay in JavaScript.

const MAX_ENVELOPE = 64 << 10; // an error body larger than this is a proxy's page or an attack
const BODY_ECHO = 200; // what Go keeps of a body that is not an envelope, for the details

// lock(id, wait) answers a function that releases the recording's lock, or null when
// wait is false and another holder (a tab, or this page) has it. Web Locks span tabs and
// are released by the browser when a tab goes away; without them an in-page chain stands
// in, and the server's idempotency by id still stores a recording once.
const inPageLocks = new Map(); // id → the promise the last holder's release resolves

export function lockRecording(id, wait) {
  const locks = globalThis.navigator && navigator.locks;
  if (locks && typeof locks.request === 'function') {
    return new Promise((answer) => {
      locks.request(`vocafuse-outbox:${id}`, wait ? {} : { ifAvailable: true }, (lock) => {
        if (!lock) {
          answer(null);
          return undefined;
        }
        return new Promise(/** @param {(value?: unknown) => void} release */ (release) => answer(() => release()));
      }).catch(() => answer(null));
    });
  }
  const previous = inPageLocks.get(id);
  if (previous && !wait) return Promise.resolve(null);
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  const mine = (previous || Promise.resolve()).then(() => released);
  inPageLocks.set(id, mine);
  mine.then(() => { if (inPageLocks.get(id) === mine) inPageLocks.delete(id); });
  return (previous || Promise.resolve()).then(() => release);
}

// token() answers what the page's token source gave, for Go (wasm/delivery ReadToken) to
// read in any of the shapes in use: { endpoint, status, text } | { endpoint, unreachable }
// from tokenEndpoint, { text } (its value as JSON) | { thrown } from getToken. It never rejects.
export function tokenFetcher({ tokenEndpoint, getToken }) {
  const reason = (err) => (err && err.message ? `${err.name || 'Error'}: ${err.message}` : String(err));
  return async () => {
    if (typeof getToken === 'function') {
      let value;
      try {
        value = await getToken();
      } catch (err) {
        return { thrown: reason(err) };
      }
      try {
        return { text: JSON.stringify(value) }; // one string for Go to parse
      } catch {
        return {}; // not JSON: Go says what was missing
      }
    }
    let response;
    try {
      // VocaFuse's browser SDKs ask the same way, so one backend serves both.
      response = await fetch(tokenEndpoint, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ scopes: ['voice-api.upload'] }),
      });
    } catch (err) {
      return { endpoint: tokenEndpoint, unreachable: reason(err) };
    }
    let text = '';
    try {
      text = await response.text();
    } catch { /* no body: Go says what was missing */ }
    return { endpoint: tokenEndpoint, status: response.status, text };
  };
}

// tokenTrouble(message) tells the developer, once per instance, why no token could be
// had: the page hears the error; the console says what to fix.
export function tokenTroubleReporter() {
  let told = false;
  return (message) => {
    if (told) return;
    told = true;
    console.error(`VocaFuse: ${message}`);
  };
}

// Retry-After as seconds: delay-seconds or an HTTP-date (RFC 9110); undefined otherwise.
function retryAfterSeconds(header) {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

function parseJSON(text) {
  if (!text || text.length > MAX_ENVELOPE) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// One request with XMLHttpRequest (fetch has no upload progress). It resolves to the
// answer ({ status, text, data, etag, retryAfter }) or rejects when there was none.
function request(method, url, headers, body, timeout, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.timeout = timeout > 0 ? timeout : 120_000;
    if (onProgress) xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
    xhr.addEventListener('load', () => {
      // Firefox fires load with status 0 for a connection cut after the body was sent:
      // that is no answer at all, the same as an error event.
      if (xhr.status === 0) {
        reject(new DOMException('the connection closed without an answer', 'NetworkError'));
        return;
      }
      // The body crosses into Go as one string, which Go parses (wasm/delivery ParseJSON);
      // a 2xx answer's data is also handed over as it came, for the page's onUploaded.
      const text = xhr.responseText;
      const json = xhr.status >= 200 && xhr.status < 300 ? parseJSON(text) : null;
      resolve({
        status: xhr.status, text: text.length > MAX_ENVELOPE ? text.slice(0, BODY_ECHO) : text,
        data: json && typeof json.data === 'object' ? json.data : null,
        // Only a PUT's ETag means anything; reading a header another origin did not
        // expose makes the browser log a refusal.
        etag: method === 'PUT' ? xhr.getResponseHeader('ETag') || '' : '',
        retryAfter: retryAfterSeconds(xhr.getResponseHeader('Retry-After')),
      });
    });
    for (const kind of ['error', 'timeout', 'abort']) {
      xhr.addEventListener(kind, () => reject(new DOMException(`the request got no answer (${kind})`, 'NetworkError')));
    }
    xhr.send(body);
  });
}

// announce(...): POST {apiBaseUrl}/upload, VocaFuse's description of a recording, keyed
// by the recording's UUID so that asking again names the same voice note.
export function announceRecording(url, token, key, fileName, size, format, contentType, duration, multipart, metadata, timeout) {
  const codec = /codecs="?([^";,]+)/i.exec(contentType || '');
  const seconds = Math.round(duration * 100) / 100;
  const body = {
    file_name: fileName, file_size: size, audio_format: format, duration_seconds: seconds, use_multipart: multipart,
    sdk_metadata: { duration_seconds: seconds, codec: codec ? codec[1] : format, file_size_bytes: size },
  };
  if (metadata) body.metadata = JSON.parse(metadata);
  return request('POST', url, {
    Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key,
  }, JSON.stringify(body), timeout);
}

// send(...): PUT one part's bytes (or all of them) to its presigned URL. No
// Authorization: the URL is its own authority, and object storage refuses anything it
// did not sign.
export function sendPart(url, start, length, contentType, timeout, blob, counter) {
  const count = (loaded) => { if (typeof counter === 'function') counter(start, loaded); };
  const bytes = start === 0 && length === blob.size ? blob : blob.slice(start, start + length);
  const headers = contentType ? { 'Content-Type': contentType } : {};
  return request('PUT', url, headers, bytes, timeout, count).then((answer) => {
    count(answer.status >= 200 && answer.status < 300 ? length : 0);
    return answer;
  }, (err) => {
    count(0);
    throw err;
  });
}

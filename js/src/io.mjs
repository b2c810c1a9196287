// ---- The I/O primitives Go's delivery is built on: the outbox's storage, the locks,
// the token and one upload attempt. ----
//
// Inlined into vocafuse.mjs by build.mjs. Go (wasm/delivery) owns a recording from stop
// until the server has it: when to try, what each answer means, when the page hears.
// These functions only carry out one step each and answer what happened; the bytes and
// the upload progress stay in JavaScript.

const OUTBOX_DB = 'vocafuse-outbox';
const OUTBOX_STORE = 'recordings';
// The journal: a recording's audio while it is being made, one record per chunk under
// [id, seq] (seq 0 is the head: the recording's type, owner, metadata).
const JOURNAL_STORE = 'journal';
const MAX_ENVELOPE = 64 << 10; // an error body larger than this is a proxy's page or an attack
const BODY_ECHO = 200; // what Go keeps of a body that is not an envelope, for the details

function reasonOf(err) {
  return err && err.name ? `${err.name}: ${err.message}` : String(err);
}

function openOutboxDB() {
  return new Promise((resolve, reject) => {
    const request = globalThis.indexedDB.open(OUTBOX_DB, 2); // throws where there is no IndexedDB
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(OUTBOX_STORE)) db.createObjectStore(OUTBOX_STORE, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(JOURNAL_STORE)) db.createObjectStore(JOURNAL_STORE, { keyPath: ['id', 'seq'] });
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close(); // a newer SDK in another tab upgrades the schema
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new DOMException('the outbox database is held by another tab', 'InvalidStateError'));
  });
}

// Runs use(store) in one transaction and answers its request's result once the
// transaction has committed: a recording counts as saved only when it is on disk.
function inTransaction(db, mode, use, storeName = OUTBOX_STORE) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
    const request = use(tx.objectStore(storeName));
    // WebKit fires error while tx.error is still null, and the real error reaches only
    // abort (which always follows an error): so the outcome is read at abort.
    let seen = null;
    tx.onerror = (event) => { seen = seen || (event.target && event.target.error); };
    tx.oncomplete = () => resolve(request.result);
    tx.onabort = () => reject(tx.error || seen || request.error || new DOMException('the transaction was aborted', 'AbortError'));
  });
}

// Some engines cannot store a Blob in IndexedDB (WebKit's throwaway profiles, Safari's
// private windows: "Error preparing Blob/File data") while an ArrayBuffer stores fine.
// The first refusal is learnt (a capability, not a browser name) and from then on the
// bytes are stored instead, and made a Blob again when read.
let blobsRefused = false;

async function asBytes(value, field) {
  const blob = value[field];
  if (typeof Blob !== 'function' || !(blob instanceof Blob)) return value;
  return { ...value, [field]: { vocafuseBytes: await blob.arrayBuffer(), type: blob.type } };
}

function revive(value, field) {
  const stored = value && value[field];
  if (!stored || !(stored.vocafuseBytes instanceof ArrayBuffer)) return value;
  return { ...value, [field]: new Blob([stored.vocafuseBytes], { type: stored.type }) };
}

// put(value) in storeName, as a Blob where the engine can store one, else as bytes.
async function putStorable(db, storeName, value, field) {
  if (!blobsRefused) {
    try {
      return await inTransaction(db, 'readwrite', (store) => store.put(value), storeName);
    } catch (err) {
      if (!(value[field] instanceof Blob)) throw err;
      const stored = await inTransaction(db, 'readwrite', (store) => store.put({ ...value, [field]: null }), storeName)
        .then(() => true, () => false);
      if (!stored) throw err; // not the Blob's fault
      blobsRefused = true;
    }
  }
  const bytes = await asBytes(value, field);
  return inTransaction(db, 'readwrite', (store) => store.put(bytes), storeName);
}

// Asks the browser to keep this origin's storage when it runs short (the journal and the
// outbox hold recordings not yet sent). Chromium grants or refuses silently; Firefox would
// ask the user with a prompt in the middle of a recording, so it is asked only where the
// browser answers without one (navigator.userAgentData marks Chromium).
let persistAsked = false;
function askToPersist() {
  const storage = globalThis.navigator && navigator.storage;
  if (persistAsked || !storage || typeof storage.persist !== 'function' || !navigator.userAgentData) return;
  persistAsked = true;
  storage.persist().catch(() => {});
}

// The outbox: IndexedDB, or memory where IndexedDB cannot be used (or persist is false).
// put answers null once the record is on disk, else the reason it is kept in memory
// only, for Go to report once as STORAGE_UNAVAILABLE.
function openStore(persist) {
  const memory = new Map();
  let failure = null;
  const opened = persist ? openOutboxDB().catch((err) => {
    failure = reasonOf(err);
    return null;
  }) : Promise.resolve(null);
  // A recording's journal writes run one after another, and its removal after them.
  const chains = new Map(); // id → the promise of its last journal operation
  const journalOp = (id, op) => {
    const next = (chains.get(id) || opened).then(() => opened).then((db) => db && op(db))
      .catch((err) => console.error('VocaFuse: the recording journal could not be written', err));
    chains.set(id, next);
    next.then(() => { if (chains.get(id) === next) chains.delete(id); });
    return next;
  };
  const journalRange = (id) => IDBKeyRange.bound([id, 0], [id, Infinity]);
  const dropJournal = (id) => journalOp(id, (db) => inTransaction(db, 'readwrite', (store) => store.delete(journalRange(id)), JOURNAL_STORE));
  return {
    // journal(id, head) starts a recording's journal and answers append(value): each
    // chunk is one small write, in order; nothing grows and nothing is rewritten.
    journal(id, head) {
      askToPersist();
      let seq = 0;
      const write = (value) => {
        const n = seq++;
        journalOp(id, (db) => putStorable(db, JOURNAL_STORE, { id, seq: n, value }, 'value'));
      };
      write(head);
      return write;
    },
    // journalHead(id, head) writes the head again (whose recording it is, once known).
    journalHead(id, head) {
      return journalOp(id, (db) => putStorable(db, JOURNAL_STORE, { id, seq: 0, value: head }, 'value'));
    },
    dropJournal,
    // The journals left by pages that died while recording: [{ id, head, chunks }].
    async journals() {
      const db = await opened;
      if (!db) return [];
      const rows = await inTransaction(db, 'readonly', (store) => store.getAll(), JOURNAL_STORE).catch(() => []);
      const byId = new Map();
      for (const { id, seq, value } of rows.map((row) => revive(row, 'value'))) { // in key order: by id, then seq
        if (chains.has(id)) continue; // this page is still writing it
        if (!byId.has(id)) byId.set(id, { id, head: null, chunks: [] });
        if (seq === 0) byId.get(id).head = value;
        else byId.get(id).chunks.push(value);
      }
      return [...byId.values()];
    },
    async put(record) {
      const db = await opened;
      if (db && !memory.has(record.id)) {
        try {
          await putStorable(db, OUTBOX_STORE, record, 'blob');
          return null;
        } catch (err) { // QuotaExceededError, a closed database, a Blob the store refuses
          failure = failure || reasonOf(err);
        }
      }
      memory.set(record.id, record);
      return persist ? failure : null;
    },
    async get(id) {
      if (memory.has(id)) return memory.get(id);
      const db = await opened;
      return db ? inTransaction(db, 'readonly', (store) => store.get(id)).then((r) => revive(r, 'blob'), () => undefined) : undefined;
    },
    async delete(id) {
      memory.delete(id);
      const db = await opened;
      if (!db) return;
      try {
        await inTransaction(db, 'readwrite', (store) => store.delete(id));
      } catch (err) {
        // Left behind, it is sent again later and the server answers 200: stored once.
        console.error('VocaFuse: could not remove an uploaded recording from the outbox', err);
      }
      // A journal left with it (its page died between the outbox and the journal's
      // removal) would be rebuilt and sent again. It goes before the lock does.
      await dropJournal(id);
    },
    async list() {
      const db = await opened;
      const stored = db ? (await inTransaction(db, 'readonly', (store) => store.getAll()).catch(() => [])).map((r) => revive(r, 'blob')) : [];
      const byId = new Map(stored.map((record) => [record.id, record]));
      for (const [id, record] of memory) byId.set(id, record);
      return [...byId.values()].sort((a, b) => a.created - b.created);
    },
    close() {
      opened.then((db) => db && db.close());
    },
  };
}

// lock(id, wait) answers a function that releases the recording's lock, or null when
// wait is false and another holder (a tab, or this page) has it. Web Locks span tabs and
// are released by the browser when a tab goes away; without them an in-page chain stands
// in, and the server's idempotency by id still stores a recording once.
const inPageLocks = new Map(); // id → the promise the last holder's release resolves

function lockRecording(id, wait) {
  const locks = globalThis.navigator && navigator.locks;
  if (locks && typeof locks.request === 'function') {
    return new Promise((answer) => {
      locks.request(`vocafuse-outbox:${id}`, wait ? {} : { ifAvailable: true }, (lock) => {
        if (!lock) {
          answer(null);
          return undefined;
        }
        return new Promise((release) => answer(() => release()));
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
// read in any of the shapes in use: { endpoint, status, json } | { endpoint, unreachable }
// from tokenEndpoint, { value } | { thrown } from getToken. It never rejects.
function tokenFetcher({ tokenEndpoint, getToken }) {
  const reason = (err) => (err && err.message ? `${err.name || 'Error'}: ${err.message}` : String(err));
  return async () => {
    if (typeof getToken === 'function') {
      try {
        return { value: await getToken() };
      } catch (err) {
        return { thrown: reason(err) };
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
    let json = null;
    try {
      json = await response.json();
    } catch { /* not JSON: Go says what was missing */ }
    return { endpoint: tokenEndpoint, status: response.status, json };
  };
}

// tokenTrouble(message) tells the developer, once per instance, why no token could be
// had: the page hears the error; the console says what to fix.
function tokenTroubleReporter() {
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
// answer ({ status, json, text, etag, retryAfter }: the body already parsed, so Go reads
// values, not bytes) or rejects when there was none.
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
      const text = xhr.responseText;
      resolve({
        status: xhr.status, json: parseJSON(text), text: text.slice(0, BODY_ECHO),
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
function announceRecording(url, token, key, fileName, size, format, contentType, duration, multipart, metadata, timeout) {
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
function sendPart(url, start, length, contentType, timeout, blob, counter) {
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

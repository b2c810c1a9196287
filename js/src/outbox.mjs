// ---- The outbox: no recording is lost to a failed upload, a reload or a closed tab. ----
//
// Inlined into vocafuse.mjs by build.mjs (it uses sdkError, VocaFuseError and callBridge).
// A recording is written to IndexedDB, with its UUID and metadata, before its upload
// starts, and deleted only once the server has confirmed it. What is left is retried
// when the SDK starts, when the browser comes back online, and with backoff while the
// page stays open. A Web Lock per recording lets one tab at a time upload it; the
// server is idempotent by id, so even a retry of a body that did arrive stores it once.

const OUTBOX_DB = 'vocafuse-outbox';
const OUTBOX_STORE = 'recordings';
const RETRY_FIRST_MS = 5_000; // the first background retry, 2.5–5 s after a failure
const RETRY_MAX_MS = 5 * 60_000;
const SKIPPED = Symbol('skipped'); // another tab (or this one) is uploading it
const SENT = Symbol('sent');
const FAILED = Symbol('failed');

function openOutboxDB() {
  return new Promise((resolve, reject) => {
    const request = globalThis.indexedDB.open(OUTBOX_DB, 1); // throws where there is no IndexedDB
    request.onupgradeneeded = () => request.result.createObjectStore(OUTBOX_STORE, { keyPath: 'id' });
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
function inTransaction(db, mode, use) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(OUTBOX_STORE, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
    const request = use(tx.objectStore(OUTBOX_STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException('the transaction was aborted', 'AbortError'));
  });
}

// The plain fields of an error, as stored with a recording (structured clone keeps no class).
function errorFields(err) {
  const e = err instanceof VocaFuseError ? err : new VocaFuseError(err || {});
  const fields = { code: e.code, message: e.message, userMessage: e.userMessage, timestamp: e.timestamp, retryable: e.retryable };
  for (const key of ['details', 'apiCode', 'status']) if (e[key] !== undefined) fields[key] = e[key];
  try {
    return structuredClone(fields);
  } catch {
    delete fields.details; // details that cannot be stored are not worth losing the recording over
    return fields;
  }
}

// Whether trying the same bytes again later may succeed. A 409 is a real conflict (the
// id was used for other bytes) and a 4xx a refusal of the recording: retrying those
// blindly would only repeat the answer, so they wait for retryPending().
function laterMayHelp(fields) {
  if (fields.status === 409) return false;
  return fields.retryable || fields.code === 'AUTHENTICATION_FAILED' || fields.code === 'INTERNAL_ERROR';
}

class Outbox {
  constructor(sdk, persist) {
    this._sdk = sdk;
    this._memory = new Map(); // id → recording, where IndexedDB is off or failed
    this._owners = new Map(); // id → the control that recorded it in this page
    this._releases = new Map(); // id → what releases the lock hold() took
    this._busy = new Set(); // ids being uploaded here, where Web Locks are missing
    this._storageError = null; // STORAGE_UNAVAILABLE, once IndexedDB failed
    this._storageReported = false;
    this._failedRounds = 0;
    this._timer = null;
    this._round = null;
    // openOutboxDB rejects (never throws) where IndexedDB is missing or refuses.
    this._db = persist ? openOutboxDB().catch((err) => {
      this._storageFailed(err);
      return null;
    }) : Promise.resolve(null);
    this._onOnline = () => { this.retry().catch(() => {}); };
    globalThis.addEventListener('online', this._onOnline);
  }

  _storageFailed(err) {
    if (this._storageError) return;
    const reason = err && err.name ? `${err.name}: ${err.message}` : String(err);
    this._storageError = sdkError('STORAGE_UNAVAILABLE', { reason },
      `recordings are kept in memory only, IndexedDB failed: ${reason}`, this._sdk._messages);
  }

  // Says so once, through the onError of the control whose recording met the failure.
  _reportStorage(control) {
    if (!this._storageError || this._storageReported || !control) return;
    this._storageReported = true;
    control._report(this._storageError);
  }

  async _save(record) {
    const db = await this._db;
    if (db && !this._memory.has(record.id)) {
      try {
        await inTransaction(db, 'readwrite', (store) => store.put(record));
        return;
      } catch (err) { // QuotaExceededError, a closed database, a Blob the store refuses
        this._storageFailed(err);
      }
    }
    this._memory.set(record.id, record);
  }

  async _load(id) {
    if (this._memory.has(id)) return this._memory.get(id);
    const db = await this._db;
    if (!db) return undefined;
    return inTransaction(db, 'readonly', (store) => store.get(id)).catch(() => undefined);
  }

  async _all() {
    const db = await this._db;
    const stored = db ? await inTransaction(db, 'readonly', (store) => store.getAll()).catch(() => []) : [];
    const byId = new Map(stored.map((record) => [record.id, record]));
    for (const [id, record] of this._memory) byId.set(id, record);
    return [...byId.values()].sort((a, b) => a.created - b.created);
  }

  async _delete(id) {
    this._memory.delete(id);
    const db = await this._db;
    if (!db) return;
    try {
      await inTransaction(db, 'readwrite', (store) => store.delete(id));
    } catch (err) {
      // Left behind, it is sent again later and the server answers 200: stored once.
      console.error('VocaFuse: could not remove an uploaded recording from the outbox', err);
    }
  }

  // Runs use() holding the recording's lock. Without wait, answers SKIPPED at once when
  // the lock is taken: another tab, or this one, is uploading that recording.
  _withLock(id, wait, use) {
    const locks = globalThis.navigator && navigator.locks;
    if (locks && typeof locks.request === 'function') {
      return locks.request(`vocafuse-outbox:${id}`, wait ? {} : { ifAvailable: true }, (lock) => (lock ? use() : SKIPPED));
    }
    if (this._busy.has(id)) return Promise.resolve(SKIPPED);
    this._busy.add(id);
    return Promise.resolve().then(use).finally(() => this._busy.delete(id));
  }

  // hold(control, recording): called by Go before a recording's first upload. Answers
  // once the recording is saved (or kept in memory) and its lock is held; the lock is
  // held until settle().
  hold(control, recording) {
    const record = {
      id: recording.id, blob: recording.blob, mimeType: recording.mimeType, format: recording.format,
      duration: recording.duration, size: recording.size, metadata: recording.metadata || '',
      created: Date.now(), attempts: 0, lastError: null, held: false,
    };
    this._owners.set(record.id, control);
    return new Promise((saved) => {
      const released = new Promise((release) => this._releases.set(record.id, release));
      this._withLock(record.id, true, async () => {
        try {
          await this._save(record);
        } finally {
          this._reportStorage(control);
          saved();
        }
        await released;
      }).catch((err) => {
        console.error('VocaFuse: the outbox could not hold a recording', err);
        saved();
      });
    });
  }

  // settle(id, error): Go's upload of a held recording ended; error is null once stored.
  settle(id, error) {
    const release = this._releases.get(id);
    this._releases.delete(id);
    const write = error ? this._failed(id, error) : this._stored(id);
    write.catch((err) => console.error('VocaFuse: outbox', err)).finally(() => {
      if (release) release();
      if (error) this._schedule();
    });
  }

  async _stored(id) {
    this._owners.delete(id);
    await this._delete(id);
  }

  async _failed(id, error) {
    const record = await this._load(id);
    if (record) await this._noteFailure(record, error);
  }

  // Counts a failed attempt and keeps its error; a refusal holds the recording back.
  _noteFailure(record, error) {
    record.attempts += 1;
    record.lastError = errorFields(error);
    record.held = !laterMayHelp(record.lastError);
    return this._save(record);
  }

  _schedule() {
    if (this._timer) return;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(this._failedRounds, 8));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this._timer = setTimeout(() => {
      this._timer = null;
      this.retry().catch(() => {});
    }, delay);
  }

  // One round over the outbox; all includes recordings held back after a refusal.
  retry({ all = false } = {}) {
    if (this._round) return all ? this._round.then(() => this.retry({ all })) : this._round;
    this._round = this._runRound(all).finally(() => { this._round = null; });
    return this._round;
  }

  async _runRound(all) {
    clearTimeout(this._timer);
    this._timer = null;
    const bridge = await this._sdk._runtime.bridge;
    let failed = false;
    for (const record of await this._all()) {
      if (record.held && !all) continue;
      const outcome = await this._withLock(record.id, false, () => this._send(bridge, record.id));
      if (outcome === FAILED) failed = true;
    }
    this._failedRounds = failed ? this._failedRounds + 1 : 0;
    if (failed) this._schedule();
  }

  async _send(bridge, id) {
    const record = await this._load(id); // read again under the lock: another tab may have sent it
    if (!record) return SENT;
    const request = { sdk: this._sdk._id, api: this._sdk._api, id: record.id, metadata: record.metadata || undefined };
    let voicenote;
    try {
      voicenote = await callBridge(bridge, 'upload', request, record.blob);
    } catch (err) {
      await this._noteFailure(record, err);
      return FAILED;
    }
    await this._delete(id);
    const owner = this._owners.get(id);
    this._owners.delete(id);
    if (owner) owner._landed(voicenote);
    return SENT;
  }

  async pending() {
    const messages = this._sdk._messages;
    return (await this._all()).map((r) => ({
      id: r.id, format: r.format, size: r.size, duration: r.duration, attempts: r.attempts,
      lastError: r.lastError ? new VocaFuseError(r.lastError, messages) : null,
    }));
  }

  async discard(id) {
    const outcome = await this._withLock(id, false, async () => {
      const had = (await this._load(id)) !== undefined;
      this._owners.delete(id);
      await this._delete(id);
      return had;
    });
    return outcome === true;
  }
}

// @ts-check
// ---- The outbox: IndexedDB database `vocafuse-outbox`, where a recording waits from
// stop until the server has it (the audio and the delivery state apart), and the journal
// of each recording being made. ----
//
// Go (wasm/delivery) decides what to keep and when; openStore's functions only carry out
// one step each and answer what happened.

const OUTBOX_DB = 'vocafuse-outbox';
// Schema 3 keeps a recording's audio apart from its delivery state, so that an attempt
// rewrites a few bytes of state and never the audio, which does not change once recorded.
const OUTBOX_VERSION = 3;
// The audio of each recording: { id, blob }, written once (golden-retriever's blob store).
const AUDIO_STORE = 'recordings';
// Each recording's delivery: the record Go hands put() without its blob (attempts, the
// upload session, the last error), rewritten after every attempt.
const DELIVERY_STORE = 'deliveries';
// The journal: a recording's audio while it is being made, one record per chunk under
// [id, seq] (seq 0 is the head: the recording's type, owner, metadata).
const JOURNAL_STORE = 'journal';

function reasonOf(err) {
  return err && err.name ? `${err.name}: ${err.message}` : String(err);
}

function openOutboxDB() {
  return new Promise((resolve, reject) => {
    const request = globalThis.indexedDB.open(OUTBOX_DB, OUTBOX_VERSION); // throws where there is no IndexedDB
    request.onupgradeneeded = (event) => {
      const db = request.result;
      const from = event.oldVersion; // 0: a new database
      if (from < 1) db.createObjectStore(AUDIO_STORE, { keyPath: 'id' });
      if (from < 2) db.createObjectStore(JOURNAL_STORE, { keyPath: ['id', 'seq'] });
      if (from < 3) {
        const deliveries = db.createObjectStore(DELIVERY_STORE, { keyPath: 'id' });
        const upgrade = /** @type {IDBTransaction} */ (request.transaction); // set while upgrading
        if (from >= 1) splitRecordings(upgrade.objectStore(AUDIO_STORE), deliveries);
      }
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

// Schemas 1 and 2 kept a recording's blob (or bytes) and its delivery state in one
// record of `recordings`: in the upgrade's transaction (all of it or none), the state
// moves to `deliveries` and the blob stays, alone.
function splitRecordings(audio, deliveries) {
  audio.openCursor().onsuccess = (event) => {
    const cursor = event.target.result;
    if (!cursor) return;
    const { blob, ...delivery } = cursor.value;
    deliveries.put(delivery);
    cursor.update({ id: delivery.id, blob });
    cursor.continue();
  };
}

// Runs use(tx) in one transaction over storeNames and answers what the function use
// returned answers once the transaction has committed: a recording counts as saved only
// when it is on disk. Anything thrown aborts the transaction: no half of a write lands.
function inStores(db, mode, storeNames, use) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeNames, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
    // WebKit fires error while tx.error is still null, and the real error reaches only
    // abort (which always follows an error): so the outcome is read at abort.
    /** @type {unknown} */
    let seen = null;
    tx.onerror = (event) => { seen = seen || (event.target && /** @type {IDBRequest} */ (event.target).error); };
    tx.onabort = () => reject(tx.error || seen || new DOMException('the transaction was aborted', 'AbortError'));
    let result;
    try {
      result = use(tx);
    } catch (err) {
      seen = err;
      tx.abort();
      return;
    }
    tx.oncomplete = () => resolve(result());
  });
}

// Runs use(store) on one store and answers its request's result once committed.
function inTransaction(db, mode, use, storeName) {
  return inStores(db, mode, storeName, (tx) => {
    const request = use(tx.objectStore(storeName));
    return () => request.result;
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

// write(value) with value[field] as a Blob where the engine can store one, else as bytes:
// the first refusal is learnt, and a write the bytes do not save either was not the
// Blob's fault (its own error is answered). A value without audio is written as it is.
async function writeBlobOrBytes(write, value, field) {
  if (!value || !(value[field] instanceof Blob)) return write(value);
  if (!blobsRefused) {
    try {
      return await write(value);
    } catch (err) {
      const written = await write(await asBytes(value, field)).catch(() => { throw err; });
      blobsRefused = true;
      return written;
    }
  }
  return write(await asBytes(value, field));
}

// put(value) in storeName, its field as a Blob or as bytes.
function putStorable(db, storeName, value, field) {
  return writeBlobOrBytes((v) => inTransaction(db, 'readwrite', (store) => store.put(v), storeName), value, field);
}

// writeRecording puts a recording's delivery state and, given audio ({ id, blob }), its
// audio unless the outbox holds it already: in one transaction, so that no state is on
// disk without its audio.
function writeRecording(db, delivery, audio) {
  return inStores(db, 'readwrite', [DELIVERY_STORE, AUDIO_STORE], (tx) => {
    tx.objectStore(DELIVERY_STORE).put(delivery);
    if (audio) {
      const store = tx.objectStore(AUDIO_STORE);
      const held = store.count(audio.id);
      held.onsuccess = () => { if (held.result === 0) store.put(audio); };
    }
    return () => undefined;
  });
}

// putRecording writes a recording's delivery state, and its audio when given, as a Blob
// or as bytes.
function putRecording(db, delivery, audio) {
  return writeBlobOrBytes((a) => writeRecording(db, delivery, a), audio, 'blob');
}

// A recording as Go reads it: its delivery state with its audio, or undefined when either
// is missing (nothing could be sent).
function joinRecording(delivery, audio) {
  if (!delivery || !audio || !audio.blob) return undefined;
  return { ...delivery, blob: revive(audio, 'blob').blob };
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
// put answers null once the record's audio is on disk (a write of its state alone: once
// queued), else the reason it is kept in memory only, for Go to report once as
// STORAGE_UNAVAILABLE. A database that fails a read is one that cannot be used: what it
// holds cannot be known, so it is not taken for "nothing pending"; the recordings go to
// memory and the next put answers the reason.
export function openStore(persist) {
  const memory = new Map();
  /** @type {string | null} */
  let failure = null; // why the outbox is in memory: the first reason met
  /** @type {unknown} */
  let readError = null; // the first failed read: the database is not used after it
  const opened = persist ? openOutboxDB().catch((err) => {
    failure = reasonOf(err);
    return null;
  }) : Promise.resolve(null);
  // The outbox's database, or null where it cannot be used.
  const usable = () => opened.then((db) => (readError ? null : db));
  const unreadable = (err) => {
    console.error('VocaFuse: the outbox could not be read; recordings are kept in memory', err);
    failure = failure || reasonOf(err);
    readError = readError || err;
  };
  // The recordings whose audio is on disk: a later put of one writes its state alone.
  const audioKept = new Set();
  const audioWrites = new Map(); // id → the first write of its audio, while under way
  // The recordings being removed: gone for get and list from the delete call on, while
  // the removal reaches the disk.
  const removing = new Set();
  // A recording's journal writes run one after another, and its removal after them.
  const chains = new Map(); // id → the promise of its last journal operation
  const journalsMade = new Set(); // the recordings whose journal this page has written
  const journalFailed = new Set(); // the recordings one of whose journal writes failed
  const journalOp = (id, op) => {
    const next = (chains.get(id) || opened).then(() => opened).then((db) => db && op(db))
      .catch((err) => {
        journalFailed.add(id);
        console.error('VocaFuse: the recording journal could not be written', err);
      });
    chains.set(id, next);
    next.then(() => { if (chains.get(id) === next) chains.delete(id); });
    return next;
  };
  const journalRange = (id) => IDBKeyRange.bound([id, 0], [id, Infinity]);
  const dropJournal = (id) => journalOp(id, (db) => inTransaction(db, 'readwrite', (store) => store.delete(journalRange(id)), JOURNAL_STORE))
    .then(() => { journalsMade.delete(id); journalFailed.delete(id); });
  return {
    // journal(id, head) starts a recording's journal and answers append(value): each
    // chunk is one small write, in order; nothing grows and nothing is rewritten.
    journal(id, head) {
      askToPersist();
      journalsMade.add(id);
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
    // announceable(id) answers once recording id may be announced to the server (its
    // first POST), where a crash from then on loses nothing and is not refused: once the
    // journal this page wrote of it has landed, every write of it, since its rebuild gives
    // the very bytes announced, or once the outbox has it on disk, whichever comes first.
    announceable(id) {
      const kept = audioWrites.get(id);
      if (!journalsMade.has(id)) return Promise.resolve(kept);
      const journalled = (chains.get(id) || opened).then(() => opened).then((db) => (db && !journalFailed.has(id) ? undefined : kept));
      return kept ? Promise.race([journalled, kept.then((reason) => (reason ? journalled : undefined))]) : journalled;
    },
    // The journals left by pages that died while recording: [{ id, head, chunks }].
    // Rejects where the database cannot be read: what it holds is unknown, not nothing.
    async journals() {
      const db = await usable();
      if (readError) throw readError;
      if (!db) return [];
      let rows;
      try {
        rows = await inTransaction(db, 'readonly', (store) => store.getAll(), JOURNAL_STORE);
      } catch (err) {
        unreadable(err);
        throw err;
      }
      const byId = new Map();
      for (const { id, seq, value } of rows.map((row) => revive(row, 'value'))) { // in key order: by id, then seq
        if (chains.has(id)) continue; // this page is still writing it
        if (!byId.has(id)) byId.set(id, { id, head: null, chunks: [] });
        if (seq === 0) byId.get(id).head = value;
        else byId.get(id).chunks.push(value);
      }
      return [...byId.values()];
    },
    // put(record): see save. While the first write of a recording's audio is under way,
    // a later state of it is written after that write, in order, and answered at once,
    // as once the audio is on disk.
    put(record) {
      const first = audioWrites.get(record.id);
      if (first) {
        first.then(() => save(record));
        return Promise.resolve(null);
      }
      const saved = save(record);
      if (!audioKept.has(record.id) && !memory.has(record.id)) {
        audioWrites.set(record.id, saved);
        saved.then(() => { if (audioWrites.get(record.id) === saved) audioWrites.delete(record.id); });
      }
      return saved;
    },
    async get(id) {
      if (memory.has(id)) return memory.get(id);
      if (removing.has(id)) return undefined;
      const db = await usable();
      if (!db) return undefined;
      try {
        const [delivery, audio] = await inStores(db, 'readonly', [DELIVERY_STORE, AUDIO_STORE], (tx) => {
          const d = tx.objectStore(DELIVERY_STORE).get(id);
          const a = tx.objectStore(AUDIO_STORE).get(id);
          return () => [d.result, a.result];
        });
        const record = joinRecording(delivery, audio);
        if (record) audioKept.add(id);
        return record;
      } catch (err) {
        unreadable(err);
        return undefined; // not in memory either (asked first)
      }
    },
    // Answers once the removal is on disk; the recording is gone for get and list at once.
    async delete(id) {
      memory.delete(id);
      audioKept.delete(id);
      removing.add(id);
      try {
        await removeRecording(id);
      } finally {
        removing.delete(id);
      }
    },
    async list() {
      const db = await usable();
      const byId = new Map();
      if (db) {
        try {
          const [deliveries, audio] = await inStores(db, 'readonly', [DELIVERY_STORE, AUDIO_STORE], (tx) => {
            const d = tx.objectStore(DELIVERY_STORE).getAll();
            const a = tx.objectStore(AUDIO_STORE).getAll();
            return () => [d.result, a.result];
          });
          const audioById = new Map(audio.map((a) => [a.id, a]));
          for (const delivery of deliveries) {
            const record = joinRecording(delivery, audioById.get(delivery.id));
            if (!record || removing.has(record.id)) continue;
            audioKept.add(record.id);
            byId.set(record.id, record);
          }
        } catch (err) {
          unreadable(err);
        }
      }
      for (const [id, record] of memory) byId.set(id, record);
      return [...byId.values()].sort((a, b) => a.created - b.created);
    },
    close() {
      opened.then((db) => db && db.close());
    },
  };

  // save(record) answers null once the record's audio is on disk (a write of its state
  // alone: once queued), else the reason it is kept in memory only.
  async function save(record) {
    const db = await usable();
    if (removing.has(record.id)) return null; // a state that comes as it is removed is not written again
    if (db && !memory.has(record.id)) {
      const { blob, ...delivery } = record;
      if (audioKept.has(record.id)) {
        // The audio is on disk: the state is written in the order asked (IndexedDB runs
        // a store's writes in order), and the delivery goes on without waiting for it.
        // One lost (an unload, an error) leaves an older state: the session is asked for
        // again under the same key and a part sent again is stored once: nothing is lost.
        putRecording(db, delivery, null).catch((err) => console.error('VocaFuse: a recording\'s delivery state could not be saved', err));
        return null;
      }
      try {
        await putRecording(db, delivery, { id: record.id, blob });
        audioKept.add(record.id);
        return null;
      } catch (err) { // QuotaExceededError, a closed database, a Blob the store refuses
        failure = failure || reasonOf(err);
      }
    }
    memory.set(record.id, record);
    return persist ? failure : null;
  }

  async function removeRecording(id) {
    const db = await usable();
    if (db) {
      try {
        await inStores(db, 'readwrite', [DELIVERY_STORE, AUDIO_STORE], (tx) => {
          tx.objectStore(DELIVERY_STORE).delete(id);
          tx.objectStore(AUDIO_STORE).delete(id);
          return () => undefined;
        });
      } catch (err) {
        // Left behind, it is sent again later and the server answers 200: stored once.
        console.error('VocaFuse: could not remove an uploaded recording from the outbox', err);
      }
    }
    // A journal left with it (its page died between the outbox and the journal's
    // removal) would be rebuilt and sent again. It goes before the lock does.
    await dropJournal(id);
  }
}

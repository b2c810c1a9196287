// Runs before the outbox page's own scripts, as ?hook= names: what a test needs in place
// before the SDK opens its database, in every engine (WebKit's WebDriver has no verb to
// run a script before a page's own).
(function () {
  const hooks = {
    // Counts what the page puts in each IndexedDB store, once its transaction has committed:
    // the bytes of audio (a Blob, an ArrayBuffer, or the bytes form of engines that refuse
    // Blobs) and the rest, as JSON. (A put WebKit refuses, a Blob in its ephemeral session,
    // aborts its transaction and is written again as bytes: only the write that landed counts.)
    countStorePuts() {
      const put = IDBObjectStore.prototype.put;
      const audioOf = (v) => (v instanceof Blob ? v.size : v instanceof ArrayBuffer ? v.byteLength
        : v && v.vocafuseBytes instanceof ArrayBuffer ? v.vocafuseBytes.byteLength : 0);
      window.storePuts = [];
      IDBObjectStore.prototype.put = function countedPut(value, ...rest) {
        const fields = value && typeof value === 'object' ? Object.entries(value) : [];
        const audio = fields.reduce((n, [, v]) => n + audioOf(v), 0);
        const state = JSON.stringify(Object.fromEntries(fields.filter(([, v]) => audioOf(v) === 0))).length;
        const entry = { store: this.name, audio, state };
        const request = put.call(this, value, ...rest);
        this.transaction.addEventListener('complete', () => window.storePuts.push(entry));
        return request;
      };
    },
    // A disk whose reads fail: every getAll throws, as IndexedDB does over a damaged profile.
    breakGetAll() {
      IDBObjectStore.prototype.getAll = function brokenGetAll() {
        throw new DOMException('the outbox could not be read', 'UnknownError');
      };
    },
  };
  const name = new URLSearchParams(location.search).get('hook');
  if (name) hooks[name]();
})();

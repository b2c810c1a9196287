// VocaFuse recorder: the JavaScript side of the SDK.
//
// The recording itself (capability checks, getUserMedia, MediaRecorder, the state
// machine, the limit, errors) runs in Go compiled to WebAssembly. This shim loads it,
// validates options synchronously (so a programming error throws at the call), queues
// calls until the wasm runs, turns what Go reports into VocaFuseError objects and page
// callbacks, and treats the Go program ending as a crash that it reports, never a hang.

// Replaced at build time with what wasm/cmd/shimdata prints from the Go packages: the
// error catalogue (code → { message, userMessage, retryable }) and the limits the option
// checks enforce, so each has one source.
const SHIMDATA = /*@SHIMDATA@*/ null;
const CATALOG = SHIMDATA.catalog;
const { maxDuration: MAX_DURATION, formats: FORMATS } = SHIMDATA.limits;
// The files the SDK loads, beside this one, each as a `new URL` of a literal relative path
// and import.meta.url, the form Vite, webpack, Rollup and Parcel recognise: a bundler
// copies the file into its output and rewrites the URL to where it put it.
const SDK_FILES = {
  'vocafuse.wasm': new URL('./vocafuse.wasm', import.meta.url),
  'wasm_exec.js': new URL('./wasm_exec.js', import.meta.url),
  // A small file Vite would inline as a data: URL, which a CSP without data: refuses as a
  // worklet; ?no-inline keeps it a file (other bundlers and servers ignore the query).
  'vocafuse-worklet.js': new URL('./vocafuse-worklet.js?no-inline', import.meta.url),
};
// The build's content hashes of those files (name → hash), in the copy the demo server
// sends (build/sdk): their URLs carry it, so browsers may keep them for good (a new build
// is a new URL). Empty in the npm package, whose bundler names files by content itself.
const VERSIONS = /*@VERSIONS@*/ {};

function sdkFile(name) {
  const url = new URL(SDK_FILES[name]);
  if (VERSIONS[name] && /^https?:$/.test(url.protocol)) url.searchParams.set('v', VERSIONS[name]);
  return url.href;
}

const SECRET = /^sk_(live|test)_/;
// The instance's own callbacks: recordings recovered from a page that died while
// recording, every recording the outbox delivers, and the errors of neither.
const SDK_CALLBACKS = ['onRecovered', 'onUploaded', 'onError'];
const CALLBACKS = ['onStart', 'onProgress', 'onStop', 'onUploadProgress', 'onUploaded', 'onError', 'onStateChange',
  'onLevel', 'onWarning'];

export class VocaFuseError extends Error {
  constructor(fields = {}, messages = undefined) {
    const code = typeof fields.code === 'string' && fields.code ? fields.code : 'INTERNAL_ERROR';
    const entry = CATALOG[code] || CATALOG.INTERNAL_ERROR || {};
    super(fields.message || entry.message || code);
    this.name = 'VocaFuseError';
    this.code = code;
    this.userMessage = (messages && typeof messages[code] === 'string' && messages[code]) ||
      fields.userMessage || entry.userMessage || '';
    if (fields.details !== undefined && fields.details !== null) this.details = fields.details;
    this.timestamp = typeof fields.timestamp === 'number' ? Math.round(fields.timestamp) : Date.now();
    this.retryable = typeof fields.retryable === 'boolean' ? fields.retryable : !!entry.retryable;
    if (fields.apiCode) this.apiCode = fields.apiCode;
    if (fields.status) this.status = fields.status;
  }
}

// Any rejection as a VocaFuseError: Go rejects with plain error fields.
function asVocaFuseError(err, messages) {
  return err instanceof VocaFuseError ? err : new VocaFuseError(err, messages);
}

function sdkError(code, details, message, messages) {
  return new VocaFuseError({ code, details, message }, messages);
}

function invalidOption(option, reason, messages) {
  return sdkError('INVALID_OPTION', { option, reason }, `invalid option ${option}: ${reason}`, messages);
}

// A page callback that throws must not break the SDK: report it and go on.
function callPage(fn, ...args) {
  if (typeof fn !== 'function') return;
  try {
    const result = fn(...args);
    if (result && typeof result.catch === 'function') {
      result.catch((err) => console.error('VocaFuse: a page callback rejected', err));
    }
  } catch (err) {
    console.error('VocaFuse: a page callback threw', err);
  }
}

// ---- The Go runtime: one per wasm URL, shared by every VocaFuse on the page. ----

// Objects Go hands over are made here from positional values: far cheaper in the wasm
// than Go maps converted field by field.
const MAKERS = {
  error(code, message, userMessage, details, timestamp, retryable, apiCode, status) {
    const fields = { code, message, userMessage, timestamp, retryable };
    if (details !== null && details !== undefined) fields.details = details;
    if (apiCode) fields.apiCode = apiCode;
    if (status) fields.status = status;
    return fields;
  },
  answer(value, error) {
    return error === undefined ? { value } : { error };
  },
  record(id, blob, mimeType, format, duration, size, metadata, created, attempts, lastError, held, owner, recovered, session) {
    return { id, blob, mimeType, format, duration, size, metadata, created, attempts, lastError, held, owner, recovered, session };
  },
  // The voice note for onUploaded: the server's, with the recording's id beside its own;
  // or, where the last answer carried none (object storage), what the SDK knows.
  note(voicenote, recordingId, id, format, duration, size) {
    if (voicenote && typeof voicenote === 'object') {
      if (voicenote.recordingId === undefined) voicenote.recordingId = recordingId;
      return voicenote;
    }
    return { id, recordingId, status: 'processing', format, duration, file_size: size, created_at: new Date().toISOString() };
  },
  // One attempt's progress over every part: counter(start, loaded) for each part's bytes
  // on the wire, reported to the page as the sum with those already in.
  progress(onProgress, total, before) {
    const parts = new Map();
    return (start, loaded) => {
      parts.set(start, loaded);
      let sum = before;
      for (const n of parts.values()) sum += n;
      if (typeof onProgress === 'function') onProgress(Math.min(sum, total), total);
    };
  },
};

const runtimes = new Map();

class Runtime {
  constructor(wasmUrl) {
    this.controls = new Set();
    this.dead = null; // the VocaFuseError of a Go program that ended
    this.bridge = this.boot(wasmUrl);
    this.bridge.catch(() => {}); // reported through sdk.ready and the controls
  }

  async boot(wasmUrl) {
    if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') {
      throw sdkError('NOT_SUPPORTED', { reason: 'this browser has no WebAssembly' }, 'WebAssembly is not available');
    }
    // The wasm is fetched and compiled while wasm_exec.js loads: neither waits for the other.
    const compiled = compile(wasmUrl);
    compiled.catch(() => {}); // answered below, after wasm_exec.js
    if (typeof globalThis.Go !== 'function') {
      const execUrl = sdkFile('wasm_exec.js');
      try {
        await import(/* @vite-ignore */ /* webpackIgnore: true */ execUrl);
      } catch (err) {
        throw sdkError('NETWORK_ERROR', { url: execUrl }, `could not load wasm_exec.js: ${err}`);
      }
    }
    const module = await compiled;
    const go = new globalThis.Go();
    const name = `__vocafuseReady_${Math.random().toString(36).slice(2)}`;
    const ready = new Promise((resolve, reject) => {
      globalThis[name] = (bridge, failure) => {
        delete globalThis[name];
        if (bridge) resolve(bridge);
        else reject(sdkError('INTERNAL_ERROR', undefined, `the recorder failed to start: ${failure}`));
      };
    });
    globalThis[name].shim = MAKERS;
    go.argv = ['vocafuse', name];
    let instance;
    try {
      instance = await WebAssembly.instantiate(module, go.importObject);
    } catch (err) {
      throw sdkError('NETWORK_ERROR', { url: wasmUrl }, `could not start the recorder (${wasmUrl}): ${err}`);
    }
    this.memory = instance.exports.mem; // for diagnostics(): wasm memory never shrinks
    // go.run settles only when the Go program ends, which must never happen while the
    // page lives: treat it as a crash and fail everything still waiting on Go.
    const ended = go.run(instance).then(
      () => 'the recorder stopped unexpectedly (the Go program exited)',
      (err) => `the recorder crashed: ${err}`,
    ).then((reason) => {
      delete globalThis[name];
      this.crash(sdkError('INTERNAL_ERROR', undefined, reason));
      throw this.dead;
    });
    return Promise.race([ready, ended]);
  }

  crash(error) {
    if (this.dead) return;
    this.dead = error;
    for (const control of this.controls) control._crash(error);
  }
}

// compile fetches and compiles the wasm, streaming where the server sends it as
// application/wasm (the browser compiles while the bytes arrive).
async function compile(url) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch (err) {
    throw sdkError('NETWORK_ERROR', { url }, `could not fetch the recorder (${url}): ${err}`);
  }
  if (!response.ok) {
    throw sdkError('NETWORK_ERROR', { url, status: response.status }, `could not fetch the recorder (${url}): HTTP ${response.status}`);
  }
  try {
    const type = response.headers.get('Content-Type') || '';
    if (typeof WebAssembly.compileStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm') {
      return await WebAssembly.compileStreaming(response);
    }
    // A server that sends the wrong MIME type still works, through a buffer.
    return await WebAssembly.compile(await response.arrayBuffer());
  } catch (err) {
    throw sdkError('NETWORK_ERROR', { url }, `could not start the recorder (${url}): ${err}`);
  }
}

// ---- Option checks: synchronous, so a bad option throws where the page made it. ----

function checkSDKOptions(options) {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'must be an object');
  // An API secret in a browser is a leak: refuse it and never send it anywhere.
  for (const [key, value] of Object.entries(options)) {
    if (typeof value === 'string' && SECRET.test(value)) {
      throw invalidOption(key, 'looks like an API secret; secrets belong on your server, mint tokens there');
    }
  }
  const { tokenEndpoint, getToken, apiBaseUrl, messages, persist, wasmUrl } = options;
  if (tokenEndpoint === undefined && getToken === undefined) {
    throw invalidOption('tokenEndpoint', 'one of tokenEndpoint or getToken is required');
  }
  if (tokenEndpoint !== undefined && (typeof tokenEndpoint !== 'string' || !tokenEndpoint)) {
    throw invalidOption('tokenEndpoint', 'must be a URL string');
  }
  if (getToken !== undefined && typeof getToken !== 'function') throw invalidOption('getToken', 'must be a function');
  for (const [key, value] of [['apiBaseUrl', apiBaseUrl], ['wasmUrl', wasmUrl]]) {
    if (value !== undefined && (typeof value !== 'string' || !value)) throw invalidOption(key, 'must be a URL string');
  }
  if (persist !== undefined && typeof persist !== 'boolean') throw invalidOption('persist', 'must be true or false');
  for (const name of SDK_CALLBACKS) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalidOption(name, 'must be a function');
  }
  if (messages !== undefined) {
    if (messages === null || typeof messages !== 'object') throw invalidOption('messages', 'must be an object of code → text');
    for (const [code, text] of Object.entries(messages)) {
      if (typeof text !== 'string') throw invalidOption('messages', `the message for ${code} must be a string`);
    }
  }
}

function resolveTarget(target, messages) {
  if (typeof target === 'string') {
    let element;
    try {
      element = document.querySelector(target);
    } catch (err) {
      throw invalidOption('target', `"${target}" is not a valid CSS selector`, messages);
    }
    if (!element) throw invalidOption('target', `no element matches the selector "${target}"`, messages);
    return element;
  }
  if (typeof Element === 'function' && target instanceof Element) return target;
  throw invalidOption('target', 'must be a CSS selector or an Element', messages);
}

function metadataJSON(metadata, messages) {
  if (metadata === undefined) return undefined;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw invalidOption('metadata', 'must be a JSON object', messages);
  }
  try {
    return JSON.stringify(metadata);
  } catch (err) {
    throw invalidOption('metadata', `must be serialisable as JSON: ${err}`, messages);
  }
}

function checkVoiceNoteOptions(options, messages) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'must be an object', messages);
  const { maxDuration, formats, autoUpload, metadata, deviceId } = options;
  if (maxDuration !== undefined &&
      !(typeof maxDuration === 'number' && Number.isFinite(maxDuration) && maxDuration > 0 && maxDuration <= MAX_DURATION)) {
    throw invalidOption('maxDuration', `must be a number of seconds, more than 0 and at most ${MAX_DURATION}; got ${String(maxDuration)}`, messages);
  }
  if (formats !== undefined) {
    if (!Array.isArray(formats) || formats.length === 0 || formats.some((f) => !FORMATS.includes(f)) ||
        new Set(formats).size !== formats.length) {
      throw invalidOption('formats', `must be a non-empty list of distinct values among ${FORMATS.join(', ')}`, messages);
    }
  }
  if (autoUpload !== undefined && typeof autoUpload !== 'boolean') throw invalidOption('autoUpload', 'must be true or false', messages);
  // '' is the default microphone: it is what browsers list before the page has had one.
  if (deviceId !== undefined && typeof deviceId !== 'string') {
    throw invalidOption('deviceId', 'must be a deviceId string from VocaFuse.devices()', messages);
  }
  metadataJSON(metadata, messages);
  for (const name of CALLBACKS) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw invalidOption(name, 'must be a function', messages);
    }
  }
  return options;
}

// ---- The SDK ----

// An instance the page drops is collected; its Go side and its listeners go with it.
const dropped = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((cleanup) => cleanup()) : null;

// connect makes an instance's Go side and retries what an earlier page load left in the
// outbox, now and whenever the browser is back online. It and release live outside the
// constructor on purpose: closures made there would share its scope, and with it the
// instance, keeping a dropped instance alive through the online listener.
function connect(runtime, io) {
  const handle = runtime.bridge.then((bridge) => callBridge(bridge, 'createSDK', io));
  handle.catch(() => {}); // reported through ready and the controls
  io.retry = () => { handle.then((h) => callBridge(h, 'retry', false)).catch(() => {}); };
  io.retry();
  globalThis.addEventListener('online', io.retry);
  return handle;
}

function release(handle, store, io) {
  return () => {
    globalThis.removeEventListener('online', io.retry);
    handle.then((h) => callBridge(h, 'release'), () => {}).catch(() => {});
    store.close();
  };
}

// What Go reports of the instance itself. Made from the options, not the instance, so
// that a dropped instance can still be collected.
function sdkEvents(options, messages) {
  return (kind, payload, ...more) => {
    switch (kind) {
      case 'recovered': {
        const [blob, mimeType, format, duration, size] = more;
        callPage(options.onRecovered, { id: payload, blob, mimeType, format, duration, size, peakLevel: null, recovered: true });
        break;
      }
      case 'uploaded':
        callPage(options.onUploaded, payload);
        break;
      case 'error':
        callPage(options.onError, new VocaFuseError(payload, messages));
        break;
    }
  };
}

export class VocaFuse {
  constructor(options) {
    checkSDKOptions(options);
    this._options = { ...options };
    this._messages = options.messages ? { ...options.messages } : undefined;
    const wasmUrl = options.wasmUrl ? new URL(options.wasmUrl, location.href).href : sdkFile('vocafuse.wasm');
    // One Go program per wasm URL; a new one replaces a program that has ended.
    if (!runtimes.has(wasmUrl) || runtimes.get(wasmUrl).dead) runtimes.set(wasmUrl, new Runtime(wasmUrl));
    this._runtime = runtimes.get(wasmUrl);
    // What Go's delivery is built on. Nothing here refers to this instance, so that
    // dropping it lets it be collected.
    const store = openStore(options.persist !== false);
    this._store = store; // pending() reads the outbox itself: it is I/O, not delivery
    const io = {
      apiBaseUrl: options.apiBaseUrl && options.apiBaseUrl.replace(/\/+$/, ''), token: tokenFetcher(options),
      tokenTrouble: tokenTroubleReporter(), announce: announceRecording, send: sendPart, lock: lockRecording, store,
      events: sdkEvents(options, this._messages),
    };
    this._handle = connect(this._runtime, io);
    this.ready = this._handle.then(() => undefined, (err) => {
      throw err instanceof VocaFuseError ? new VocaFuseError(err, this._messages) : sdkError('INTERNAL_ERROR', undefined, String(err), this._messages);
    });
    this.ready.catch(() => {}); // a page that never awaits ready hears of failures through onError
    if (dropped) dropped.register(this, release(this._handle, store, io));
  }

  // The recordings not yet confirmed by the server, this page's and earlier loads'
  // (recovered ones too), each with whose it is: 'self' for the page's current identity,
  // 'other' for a recording another identity made, which waits for theirs.
  async pending() {
    const [records, identity] = await Promise.all([
      this._store.list(),
      this._handle.then((h) => callBridge(h, 'identity')).catch(() => ''),
    ]);
    return this._pendingView(records, identity);
  }

  // Uploads every pending recording now (those refused before included) and answers
  // what is still pending afterwards.
  retryPending() {
    return this._handle.then((h) => callBridge(h, 'retry', true)).then(() => this.pending(), (err) => {
      throw asVocaFuseError(err, this._messages);
    });
  }

  // Removes a pending recording without uploading it (one the API keeps refusing);
  // answers whether there was one to remove.
  discardPending(id) {
    return this._handle.then((h) => callBridge(h, 'discard', String(id)));
  }

  _pendingView(records, identity) {
    return records.map((r) => ({
      id: r.id, format: r.format, size: r.size, duration: r.duration, attempts: r.attempts, held: r.held,
      recovered: r.recovered === true,
      owner: !r.owner || !identity || r.owner === identity ? 'self' : 'other',
      lastError: r.lastError ? new VocaFuseError(r.lastError, this._messages) : null,
    }));
  }

  // What the Go side holds, summed over the page's recorders: goroutines, instances,
  // controls, and the wasm memory's size in bytes. For leak hunting; it never grows
  // with use.
  static async diagnostics() {
    const total = { goroutines: 0, sdks: 0, controls: 0, wasmMemory: 0 };
    for (const runtime of runtimes.values()) {
      if (runtime.dead) continue;
      const bridge = await runtime.bridge.catch(() => null);
      if (!bridge) continue;
      const d = await callBridge(bridge, 'diagnostics');
      for (const key of ['goroutines', 'sdks', 'controls']) total[key] += d[key];
      if (runtime.memory) total.wasmMemory += runtime.memory.buffer.byteLength;
    }
    return total;
  }

  // The microphones (audio inputs): [{ deviceId, label }]. Labels stay empty until the
  // page has had the microphone once, as browsers keep them private until then.
  static async devices() {
    const media = globalThis.navigator && navigator.mediaDevices;
    if (!media || typeof media.enumerateDevices !== 'function') {
      throw sdkError('NOT_SUPPORTED', { reason: 'navigator.mediaDevices.enumerateDevices is missing' },
        'this browser cannot list microphones');
    }
    return (await media.enumerateDevices()).filter((d) => d.kind === 'audioinput')
      .map(({ deviceId, label }) => ({ deviceId, label }));
  }

  // Whether this browser can record, without asking for the microphone.
  static isSupported() {
    try {
      if (typeof WebAssembly !== 'object' || globalThis.isSecureContext === false) return false;
      const devices = globalThis.navigator && navigator.mediaDevices;
      if (!devices || typeof devices.getUserMedia !== 'function') return false;
      const Recorder = globalThis.MediaRecorder;
      if (typeof Recorder === 'function' &&
          ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/ogg'].some((t) => Recorder.isTypeSupported(t))) {
        return true;
      }
      // The WAV fallback: Web Audio with a way to read samples.
      const Audio = globalThis.AudioContext;
      return typeof Audio === 'function' &&
        (typeof globalThis.AudioWorkletNode === 'function' || typeof Audio.prototype.createScriptProcessor === 'function');
    } catch {
      return false;
    }
  }

  addVoiceNote(target, options) {
    const element = resolveTarget(target, this._messages);
    const opts = checkVoiceNoteOptions(options, this._messages);
    return new VoiceNoteControl(this, element, { ...opts });
  }

  // Uploads an existing file. Its bytes are checked first (container, size, duration)
  // and a file the API would refuse is refused here, before any request.
  upload(file, options = {}) {
    if (typeof Blob !== 'function' || !(file instanceof Blob)) {
      throw invalidOption('file', 'must be a Blob or File', this._messages);
    }
    if (options === null || typeof options !== 'object') throw invalidOption('options', 'must be an object', this._messages);
    if (options.id !== undefined && (typeof options.id !== 'string' || !UUID.test(options.id))) {
      throw invalidOption('id', 'must be a UUID', this._messages);
    }
    if (options.onUploadProgress !== undefined && typeof options.onUploadProgress !== 'function') {
      throw invalidOption('onUploadProgress', 'must be a function', this._messages);
    }
    const metadata = metadataJSON(options.metadata, this._messages);
    const request = {
      id: options.id, metadata,
      onProgress: (loaded, total) => callPage(options.onUploadProgress, progressOf(loaded, total)),
    };
    return this._handle.then((h) => callBridge(h, 'upload', request, file))
      .catch((err) => {
        throw asVocaFuseError(err, this._messages);
      });
  }
}

function progressOf(loaded, total) {
  return { loaded, total, percent: total > 0 ? (loaded * 100) / total : 0 };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/*@IO@*/

// Calls a Go handle (the bridge, an SDK's), call(name, ...args), which answers
// { value } or { error } synchronously; the value may be a promise, whose rejection
// carries error fields.
function callBridge(handle, name, ...args) {
  let answer;
  try {
    answer = handle(name, ...args);
  } catch (err) {
    return Promise.reject(sdkError('INTERNAL_ERROR', undefined, `the recorder stopped working: ${err}`));
  }
  if (answer && answer.error) return Promise.reject(answer.error);
  return Promise.resolve(answer && answer.value);
}

// A probe of the input's level for Go to call twenty times a second while recording: the
// peak of the last window of an AnalyserNode (linear), told to the page and answered.
// The window is a little longer than the interval, so no peak falls between two reads.
// Nothing is allocated per call, here or in Go.
function levelProbe(audio, stream, report) {
  const analyser = audio.createAnalyser();
  analyser.fftSize = 4096;
  audio.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return () => {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (let i = 0; i < samples.length; i++) {
      const v = Math.abs(samples[i]);
      if (v > peak) peak = v;
    }
    peak = Math.min(peak, 1);
    report(peak);
    return peak;
  };
}

// The control addVoiceNote answers. It exists at once; its Go side arrives with the wasm,
// and commands given before that are queued in order.
class VoiceNoteControl {
  constructor(sdk, element, options) {
    this._sdk = sdk;
    this._element = element;
    this._options = options;
    this._state = 'idle';
    this._queue = [];
    this._streams = new Set(); // what Go opened, so a crash can still release the microphone
    this._go = null;
    this._failure = null;
    this._destroyed = false;
    this._canMeasureLevel = false;

    this._onClick = (event) => {
      event.preventDefault();
      this._command('toggle');
    };
    this._onKey = (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this._command('toggle');
      }
    };
    this._onPageHide = () => this._command('stop');
    element.addEventListener('click', this._onClick);
    if (!(element instanceof HTMLButtonElement)) {
      // Not a <button>: make it act like one for the keyboard and assistive technology.
      if (!element.hasAttribute('role')) element.setAttribute('role', 'button');
      if (!element.hasAttribute('tabindex')) element.setAttribute('tabindex', '0');
      element.addEventListener('keydown', this._onKey);
    }
    globalThis.addEventListener('pagehide', this._onPageHide);
    this._render();

    const runtime = sdk._runtime;
    runtime.controls.add(this);
    sdk._handle.then((handle) => this._attach(handle), (err) => this._bootFailed(err));
  }

  get state() {
    return this._state;
  }

  // Whether onLevel is called for the recording under way (the last one, once it has
  // started): false where no AudioContext runs.
  get canMeasureLevel() {
    return this._canMeasureLevel;
  }

  start() { this._command('start'); }
  stop() { this._command('stop'); }
  pause() { this._command('pause'); }
  resume() { this._command('resume'); }
  cancel() { this._command('cancel'); }

  destroy() {
    if (this._destroyed) return;
    this._command('destroy');
    this._destroyed = true;
    this._element.removeEventListener('click', this._onClick);
    this._element.removeEventListener('keydown', this._onKey);
    globalThis.removeEventListener('pagehide', this._onPageHide);
    this._element.removeAttribute('data-state');
    this._element.removeAttribute('aria-pressed');
    this._sdk._runtime.controls.delete(this);
  }

  _attach(handle) {
    if (this._sdk._runtime.dead || this._destroyed) return;
    const answer = this._callGo(() => handle('createControl',
      {
        maxDuration: this._options.maxDuration,
        formats: this._options.formats,
        workletUrl: sdkFile('vocafuse-worklet.js'),
        deviceId: this._options.deviceId,
        levels: (audio, stream) => levelProbe(audio, stream, (level) => {
          if (!this._destroyed) callPage(this._options.onLevel, level);
        }),
        autoUpload: this._options.autoUpload !== false,
        metadata: metadataJSON(this._options.metadata),
        // Called by the upload itself, in JavaScript: progress never crosses into Go.
        uploadProgress: (loaded, total) => {
          if (!this._destroyed && this._state === 'uploading') callPage(this._options.onUploadProgress, progressOf(loaded, total));
        },
      },
      (kind, ...values) => this._onEvent(kind, ...values),
    ));
    if (!answer) return;
    this._go = answer;
    const queued = this._queue;
    this._queue = [];
    for (const name of queued) this._send(name);
  }

  _bootFailed(err) {
    this._failure = err instanceof VocaFuseError ? err : sdkError('INTERNAL_ERROR', undefined, String(err));
    if (this._queue.length > 0 && !this._destroyed) {
      this._queue = [];
      this._report(this._failure);
    }
  }

  _command(name) {
    if (this._destroyed) return;
    if (this._go) {
      this._send(name);
    } else if (this._failure) {
      if (name === 'start' || name === 'toggle') this._report(this._failure);
    } else {
      this._queue.push(name);
    }
  }

  _send(name) {
    this._callGo(() => this._go(name));
  }

  // Every call into Go goes through here: Go answers { value } or { error }, and a Go
  // program that has ended throws, which becomes the crash report.
  _callGo(call) {
    const dead = this._sdk._runtime.dead;
    if (dead) {
      this._report(dead);
      return undefined;
    }
    let answer;
    try {
      answer = call();
    } catch (err) {
      this._sdk._runtime.crash(sdkError('INTERNAL_ERROR', undefined, `the recorder stopped working: ${err}`));
      return undefined;
    }
    if (answer && answer.error) {
      this._report(new VocaFuseError(answer.error, this._sdk._messages));
      return undefined;
    }
    return answer ? answer.value : undefined;
  }

  // Go calls onEvent(kind, ...values) with positional values.
  _onEvent(kind, payload, ...more) {
    const o = this._options;
    switch (kind) {
      case 'stream':
        this._streams.add(payload);
        return;
      case 'streamclosed':
        this._streams.delete(payload);
        return;
    }
    if (this._destroyed) return;
    switch (kind) {
      case 'state':
        this._state = payload;
        this._render();
        callPage(o.onStateChange, payload);
        if (payload === 'paused' && this._canMeasureLevel) callPage(o.onLevel, 0); // a meter at rest
        break;
      case 'start':
        this._canMeasureLevel = payload === true;
        callPage(o.onStart);
        break;
      case 'progress':
        callPage(o.onProgress, { elapsed: payload, remaining: more[0] });
        break;
      case 'stop': {
        const [blob, mimeType, format, duration, size, peakLevel] = more;
        callPage(o.onStop, { id: payload, blob, mimeType, format, duration, size, peakLevel: peakLevel ?? null });
        break;
      }
      case 'warning': // never onError: the recording goes on
        callPage(o.onWarning, new VocaFuseError(payload, this._sdk._messages));
        break;
      case 'error':
        this._report(new VocaFuseError(payload, this._sdk._messages));
        break;
      case 'uploaded':
        callPage(o.onUploaded, payload);
        break;
    }
  }

  _report(error) {
    callPage(this._options.onError, error);
  }

  _render() {
    if (this._destroyed) return;
    this._element.setAttribute('data-state', this._state);
    const on = this._state === 'recording' || this._state === 'paused';
    this._element.setAttribute('aria-pressed', on ? 'true' : 'false');
  }

  // The Go program ended: release the microphone ourselves and say so once.
  _crash(error) {
    for (const stream of this._streams) {
      try {
        for (const track of stream.getTracks()) track.stop();
      } catch { /* a stream that cannot be stopped has nothing more to release */ }
    }
    this._streams.clear();
    this._go = null;
    this._failure = error;
    this._queue = [];
    if (this._destroyed) return;
    if (this._state !== 'idle') {
      this._state = 'error';
      this._render();
      callPage(this._options.onStateChange, 'error');
    }
    this._report(error);
  }
}

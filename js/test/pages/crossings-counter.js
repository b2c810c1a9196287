// Counts the crossings between the SDK's Go (WebAssembly) and JavaScript, without any
// change to the SDK. Loaded before the SDK, as a classic script.
//
// Go→JS: every call Go makes into JavaScript goes through one of the `gojs` imports of
// Go's wasm_exec.js named syscall/js.* (valueGet, valueCall, …). WebAssembly.instantiate
// is wrapped so that each of those imports counts its calls by name (the runtime.*
// imports, Go's clock and timers, are counted too but are not crossings of the SDK).
// JS→Go: JavaScript enters Go through go._resume(): for a call of a function Go
// exported (js.FuncOf, whose wrapper sets go._pendingEvent first), or for a Go timer
// firing (runtime.scheduleTimeoutEvent, no pending event). Both are counted, apart.
//
// window.crossings: snapshot() the counts so far; reset(); mark(label) keeps a snapshot
// under a label in crossings.marks; diff(a, b) the counts between two snapshots. Every
// XMLHttpRequest's answer is marked `load <METHOD> <status>` before the SDK sees it (its
// listener is added at open(), ahead of the SDK's own).
(() => {
  let imports = Object.create(null); // import name → calls
  let calls = 0; // JS→Go: calls of functions Go exported
  let callArgs = 0; // the arguments those calls carried (Go reads each with one valueIndex)
  let wakeups = 0; // JS→Go: Go timers firing

  const count = (name, fn) => function counted(...args) {
    imports[name] = (imports[name] || 0) + 1;
    return fn.apply(this, args);
  };

  // Go's class is defined once wasm_exec.js has run, which is before the SDK instantiates.
  const patchGo = () => {
    const Go = globalThis.Go;
    if (typeof Go !== 'function' || Go.prototype.crossingsCounted) return;
    Go.prototype.crossingsCounted = true;
    const resume = Go.prototype._resume;
    Go.prototype._resume = function _resume() {
      const event = this._pendingEvent;
      if (event) {
        calls++;
        callArgs += event.args.length;
      } else {
        wakeups++;
      }
      return resume.call(this);
    };
  };

  const withCounters = (importObject) => {
    const gojs = importObject && importObject.gojs;
    if (!gojs || !Object.keys(gojs).some((name) => name.startsWith('syscall/js.'))) return importObject;
    patchGo();
    const counted = {};
    for (const [name, fn] of Object.entries(gojs)) counted[name] = typeof fn === 'function' ? count(name, fn) : fn;
    return { ...importObject, gojs: counted };
  };

  const { instantiate, instantiateStreaming } = WebAssembly;
  WebAssembly.instantiate = function (source, importObject, ...rest) {
    return instantiate.call(this, source, withCounters(importObject), ...rest);
  };
  if (typeof instantiateStreaming === 'function') {
    WebAssembly.instantiateStreaming = function (source, importObject, ...rest) {
      return instantiateStreaming.call(this, source, withCounters(importObject), ...rest);
    };
  }

  const snapshot = () => ({ t: performance.now(), imports: { ...imports }, calls, callArgs, wakeups });
  const diff = (a, b) => {
    const out = { ms: b.t - a.t, imports: {}, calls: b.calls - a.calls, callArgs: b.callArgs - a.callArgs, wakeups: b.wakeups - a.wakeups };
    for (const name of new Set([...Object.keys(a.imports), ...Object.keys(b.imports)])) {
      const n = (b.imports[name] || 0) - (a.imports[name] || 0);
      if (n) out.imports[name] = n;
    }
    return out;
  };
  const marks = [];
  const mark = (label) => {
    const m = { label, ...snapshot() };
    marks.push(m);
    return m;
  };
  window.crossings = {
    snapshot, diff, mark, marks,
    reset() {
      imports = Object.create(null);
      calls = 0;
      callArgs = 0;
      wakeups = 0;
      marks.length = 0;
    },
  };

  // Requests, by method and path: `open POST /v1/upload` when made, `load POST /v1/upload
  // 503` when answered, before the SDK sees the answer.
  const where = (url) => new URL(String(url), location.href).pathname;
  const { open } = XMLHttpRequest.prototype;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    const what = `${String(method).toUpperCase()} ${where(url)}`;
    mark(`open ${what}`);
    // Added at open(), so it runs ahead of the listeners the SDK adds after.
    this.addEventListener('load', () => mark(`load ${what} ${this.status}`));
    return open.call(this, method, url, ...rest);
  };
  const originalFetch = window.fetch;
  window.fetch = function fetch(input, init) {
    const isRequest = typeof Request === 'function' && input instanceof Request;
    const method = String((init && init.method) || (isRequest ? input.method : 'GET')).toUpperCase();
    const what = `${method} ${where(isRequest ? input.url : input)}`;
    mark(`open ${what}`);
    return originalFetch.apply(this, arguments).then((res) => {
      mark(`load ${what} ${res.status}`);
      return res;
    });
  };
  // A click is marked before the SDK's listener on the button hears it.
  window.addEventListener('click', () => mark('click'), true);
})();

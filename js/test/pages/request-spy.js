// Keeps every request the page makes with fetch or XMLHttpRequest (the SDK's token call, its
// POST /upload and its PUTs): method, absolute URL, Idempotency-Key, status, and a storage
// answer's Content-Type, so a test sees the requests from the page's side. Loaded before the
// SDK, as a classic script.
window.requests = [];
(() => {
  const keyOf = (headers) => {
    if (!headers) return undefined;
    if (typeof Headers === 'function' && headers instanceof Headers) return headers.get('Idempotency-Key') || undefined;
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'idempotency-key') return v;
    return undefined;
  };
  const originalFetch = window.fetch;
  window.fetch = async function fetch(input, init) {
    const isRequest = typeof Request === 'function' && input instanceof Request;
    const entry = {
      via: 'fetch',
      method: String((init && init.method) || (isRequest ? input.method : 'GET')).toUpperCase(),
      url: new URL(isRequest ? input.url : String(input), location.href).href,
      key: keyOf(init && init.headers) || (isRequest ? keyOf(input.headers) : undefined),
      body: init && typeof init.body === 'string' ? init.body.slice(0, 2000) : undefined,
      t: performance.now(),
    };
    window.requests.push(entry);
    try {
      const res = await originalFetch.apply(this, arguments);
      entry.status = res.status;
      entry.contentType = res.headers.get('Content-Type') || '';
      return res;
    } catch (err) {
      entry.error = String(err);
      throw err;
    }
  };
  const { open, send, setRequestHeader } = XMLHttpRequest.prototype;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.spied = { via: 'xhr', method: String(method).toUpperCase(), url: new URL(String(url), location.href).href };
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.setRequestHeader = function (name, value) {
    if (this.spied && name.toLowerCase() === 'idempotency-key') this.spied.key = value;
    return setRequestHeader.call(this, name, value);
  };
  XMLHttpRequest.prototype.send = function (body) {
    const entry = this.spied || { via: 'xhr' };
    entry.t = performance.now();
    entry.size = body && typeof body.size === 'number' ? body.size : undefined;
    window.requests.push(entry);
    this.addEventListener('loadend', () => {
      entry.status = this.status;
      entry.contentType = this.getResponseHeader('Content-Type') || '';
    });
    return send.call(this, body);
  };
})();

// WebKit, the engine of Safari, driven on this machine: Debian's WebKitGTK MiniBrowser
// under WebKitWebDriver (plain W3C WebDriver over HTTP: Node's fetch is the client) on a
// virtual display of its own (Xvfb), with WebKit's mock microphone. The tests start both
// and end both; nothing is downloaded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

import { freePort } from './harness.mjs';

export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

// The keys a test presses by name, as WebDriver's Actions API codes them.
export const WEBKIT_KEYS = {
  Tab: '\uE004', Enter: '\uE007', Space: '\uE00D', Escape: '\uE00C', Shift: '\uE008', Control: '\uE009', Alt: '\uE00A',
  Backspace: '\uE003', Home: '\uE011', End: '\uE010', ArrowLeft: '\uE012', ArrowUp: '\uE013', ArrowRight: '\uE014', ArrowDown: '\uE015',
};

export const webkitAvailable = () => fs.existsSync(WEBKIT_DRIVER) && fs.existsSync(MINIBROWSER) && fs.existsSync('/usr/bin/Xvfb');

async function until(what, check, timeout = 15_000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeout} ms`);
    await delay(50);
  }
}

// A display number no X server holds.
function freeDisplay() {
  for (let n = 90; n < 190; n++) {
    if (!fs.existsSync(`/tmp/.X${n}-lock`) && !fs.existsSync(`/tmp/.X11-unix/X${n}`)) return n;
  }
  throw new Error('no free X display');
}

// One MiniBrowser: a virtual display, a driver, a session. close() ends all three.
export async function launchWebKit() {
  const display = freeDisplay();
  const xvfb = spawn('/usr/bin/Xvfb', [`:${display}`, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  const procs = [xvfb];
  try {
    await until('Xvfb', async () => fs.existsSync(`/tmp/.X11-unix/X${display}`));
    const port = await freePort();
    const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
      env: { ...process.env, DISPLAY: `:${display}` }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    procs.push(driver);
    // The driver's and the browser's complaints, the last few kept for a failing test's
    // report (the sound-card and logging noise of a machine with no audio left out).
    const said = { lines: [], glibAborted: false }; // see WebKit.glibAborted
    driver.stderr.on('data', (d) => {
      if (process.env.WEBKIT_DEBUG) process.stderr.write(`[webkit driver] ${d}`);
      for (const line of String(d).split('\n')) {
        if (line.trim() && !/ALSA|AL lib|Unknown logging channel|dbus-launch|automatic-eos/.test(line)) said.lines.push(line.trim());
        if (/GLib-ERROR.*getauxval \(\) failed/.test(line)) said.glibAborted = true;
      }
      said.lines.splice(0, said.lines.length - 12);
    });
    const base = `http://127.0.0.1:${port}`;
    await until('WebKitWebDriver', async () => (await fetch(`${base}/status`)).ok);
    const created = await call(base, 'POST', '/session', {
      capabilities: {
        alwaysMatch: {
          'webkitgtk:browserOptions': {
            binary: MINIBROWSER,
            // Mock capture devices: a microphone that plays tones. Autoplay allowed, as
            // a page that had the user's click would be.
            args: ['--automation', '--enable-mock-capture-devices=true'],
          },
        },
      },
    });
    const wk = new WebKit(base, created.sessionId, procs, said);
    // A page's own awaits (a lock, a drained outbox) may outlast WebDriver's 30 s default.
    await wk.cmd('POST', '/timeouts', { script: 120_000 });
    return wk;
  } catch (err) {
    for (const p of procs) p.kill('SIGKILL');
    throw err;
  }
}

async function call(base, method, path, body) {
  const res = await fetch(base + path, {
    method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    const v = answer.value || {};
    throw new Error(`WebDriver ${method} ${path}: ${v.error || res.status}: ${v.message || ''}`);
  }
  return answer.value;
}

export class WebKit {
  constructor(base, session, procs, said) {
    this.name = 'webkit';
    this.said = said;
    this.base = base;
    this.session = session;
    this.procs = procs;
    this.queue = Promise.resolve();
    this.current = null; // the window commands go to, once a test has switched
  }

  // Runs fn after every fn given before it has ended: commands for several windows of one
  // session take turns, each with its own window current.
  serial(fn) {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  windowHandle() {
    return this.cmd('GET', '/window');
  }

  windowHandles() {
    return this.cmd('GET', '/window/handles');
  }

  // A second tab of the same session (its storage and cookies): WebDriver's new window,
  // a window of its own rather than a tab, since WebKit starts no capture in a hidden page
  // and a background tab is hidden.
  async newWindow() {
    const { handle } = await this.cmd('POST', '/window/new', { type: 'window' });
    return handle;
  }

  async switchTo(handle) {
    if (this.current === handle) return;
    await this.cmd('POST', '/window', { handle });
    this.current = handle;
  }

  async closeWindow() {
    await this.cmd('DELETE', '/window');
    this.current = null;
  }

  // Presses a chord (key names of WEBKIT_KEYS held in order, the last pressed), or types
  // [{ text }] one character at a time, to the focused element, by the Actions API.
  async pressKeys(chord) {
    const codes = chord.map((k) => (typeof k === 'string' ? WEBKIT_KEYS[k] : k.text));
    const actions = typeof chord[0] === 'string'
      ? [...codes.map((value) => ({ type: 'keyDown', value })), ...codes.reverse().map((value) => ({ type: 'keyUp', value }))]
      : codes.flatMap((value) => [{ type: 'keyDown', value }, { type: 'keyUp', value }]);
    await this.cmd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions }] });
    await this.cmd('DELETE', '/actions');
  }

  cookies() {
    return this.cmd('GET', '/cookie');
  }

  addCookie(cookie) {
    return this.cmd('POST', '/cookie', { cookie });
  }

  // The MiniBrowser processes (the driver's children): a kill's target, with theirs.
  browserPids() {
    const driver = this.procs[1];
    try {
      return fs.readFileSync(`/proc/${driver.pid}/task/${driver.pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return []; // the driver has gone, and its browser with it
    }
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.session}${path}`, body);
  }

  lastWords() {
    return this.said.lines.join(' | ');
  }

  // A web process of this browser aborted in GLib as it started ("getauxval () failed:
  // Interrupted system call": GLib takes a stray errno for a failure, a bug of GLib's,
  // whatever the page does).
  glibAborted() {
    return this.said.glibAborted;
  }

  // A new visitor for the server: its identity is a cookie.
  clearCookies() {
    return this.cmd('DELETE', '/cookie');
  }

  goto(url) {
    return this.cmd('POST', '/url', { url });
  }

  reload() {
    return this.cmd('POST', '/refresh', {});
  }

  // Runs fn(...args) in the page (it may be async) and answers its JSON value.
  async evaluate(fn, ...args) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${fn}).apply(null, Array.prototype.slice.call(arguments, 0, -1)))
        .then((v) => done({ v: v === undefined ? null : v }), (e) => done({ e: String(e) + (e && e.stack ? \` (\${e.stack.replace(/\\s+/g, ' ')})\` : '') }));`;
    const r = await this.cmd('POST', '/execute/async', { script, args });
    if (r && r.e) throw new Error(`in the page: ${r.e}`);
    return r ? r.v : undefined;
  }

  // A click as the user makes it: WebDriver's element click is a trusted event. WebKitGTK's
  // driver now and then answers a click "unknown error" with no message, on a busy machine,
  // whether or not the click landed: the element counts its clicks, so one that did not land
  // is made again and one that did is not made twice.
  async click(selector) {
    const el = await this.cmd('POST', '/element', { using: 'css selector', value: selector });
    const id = Object.values(el)[0];
    const clicks = () => this.cmd('POST', '/execute/sync', {
      script: `const el = arguments[0];
        if (!el.wdCounting) { el.wdCounting = true; el.addEventListener('click', () => { el.wdClicks = (el.wdClicks || 0) + 1; }, true); }
        return el.wdClicks || 0;`,
      args: [el],
    });
    const before = await clicks();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.cmd('POST', `/element/${id}/click`, {});
        return;
      } catch (err) {
        if (attempt === 3 || !/unknown error: $/.test(err.message)) throw err;
        const end = Date.now() + 2_000; // a click already queued is dispatched by then
        while (Date.now() < end) {
          if (await clicks() > before) return;
          await delay(100);
        }
        this.said.lines.push(`click on ${selector} answered "unknown error" and did not land: made again`);
      }
    }
  }

  async waitFor(fn, arg, timeout = 15_000) {
    const end = Date.now() + timeout;
    for (;;) {
      if (await this.evaluate(fn, arg)) return;
      if (Date.now() > end) throw new Error(`waited ${timeout} ms for ${fn}`);
      await delay(100);
    }
  }

  // The bytes of a Blob the page holds: getter() answers it in the page. (Written into
  // the WebDriver script, not eval'd in the page, whose CSP forbids eval.)
  async blob(getter) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${getter})()).then((blob) => blob.arrayBuffer()).then((buf) => {
        const bytes = new Uint8Array(buf);
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        done({ v: btoa(s) });
      }, (e) => done({ e: String(e) }));`;
    const r = await this.cmd('POST', '/execute/async', { script, args: [] });
    if (r.e) throw new Error(`in the page: ${r.e}`);
    return Buffer.from(r.v, 'base64');
  }

  async close() {
    await this.cmd('DELETE', '').catch(() => {});
    for (const p of this.procs.reverse()) p.kill('SIGTERM');
    await Promise.all(this.procs.map((p) => (p.exitCode === null && p.signalCode === null
      ? new Promise((resolve) => { p.once('exit', resolve); setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 3000); })
      : null)));
  }
}

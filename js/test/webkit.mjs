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
    return new WebKit(base, created.sessionId, procs, said);
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

  // A click as the user makes it: WebDriver's element click is a trusted event.
  async click(selector) {
    const el = await this.cmd('POST', '/element', { using: 'css selector', value: selector });
    const id = Object.values(el)[0];
    await this.cmd('POST', `/element/${id}/click`, {});
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

// One way to write a browser test for three engines: the few verbs the tests use, over
// puppeteer-core for Chromium (CDP) and Firefox (WebDriver BiDi), and over plain W3C
// WebDriver for WebKit (webkit.mjs). A test written once runs where its verbs exist; a verb
// an engine lacks is answered by lacks(verb), the engine's reason, which the test skips with:
//
//   for (const engine of engines()) {
//     describe(engine.name, { skip: engine.skip }, () => {
//       let drv;
//       before(async () => { drv = await engine.launch(); });
//       after(() => drv?.close());
//       test('…', { skip: engine.lacks('secondTab') }, async () => {
//         const tab = await drv.newTab();
//         await tab.goto(url); …
//       });
//     });
//   }
//
// Interface (build-notes/driver-spec.md; additions below it marked so):
//   engines() → [{ name, skip, can(verb), lacks(verb), launch(options) → Driver }]
//   Driver { name, can(verb), lacks(verb), newTab({ mic, origins }) → Tab, kill(), close() }
//   Tab { goto(url), reload(), evaluate(fn, ...args), waitFor(fn, arg, timeout, { polling }),
//         waitForEvent(kind, count, timeout), click(selector), keys(selector, keys),
//         log() (a promise of the lines: WebKit's are read from the page), blob(getter), close() }
//   WebKit's log: WebDriver has no verb to read a page's console, so each load gets a
//   capture installed by evaluate, which misses what the page wrote before it.
//   Added: Tab.sibling(url?) (another tab of the same visitor: 'secondTab'), Tab.crash()
//   ('crashRenderer'), Tab.cookies() / setCookies(list) / deleteCookies() ('cookies'),
//   Tab.throttle(rate) ('throttle'), Tab.offline(on) ('offline'), Tab.beforeLoad(fn)
//   ('beforeLoad': fn runs before the page's own scripts on every later load), Tab.page
//   (the puppeteer Page, for what only puppeteer does; undefined in WebKit), and
//   launch({ profile }) with kill(): a browser started again on the profile a killed one
//   left ('relaunchOnProfile'). click takes 'host >>> part' (an element in host's shadow
//   root) in every engine.
import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

import { blobFromPage, launchChromium, launchFirefox, logConsole, setMicrophone } from './harness.mjs';
import { launchWebKit, webkitAvailable, WEBKIT_KEYS } from './webkit.mjs';

// The verbs not every engine has, and each engine's reason for those it lacks.
const LACKS = {
  chromium: {},
  firefox: {
    crashRenderer: 'Firefox has no verb to crash a content process (WebDriver BiDi has none; CDP is Chromium\'s)',
    throttle: 'Firefox has no CPU throttling verb (CDP\'s Emulation.setCPUThrottlingRate is Chromium\'s)',
  },
  webkit: {
    crashRenderer: 'WebKit\'s WebDriver has no verb to crash a web process (a renderer crash is CDP\'s Page.crash)',
    throttle: 'WebKit\'s WebDriver has no CPU throttling verb',
    offline: 'WebKit\'s WebDriver has no network-offline verb',
    refuseMicrophone: 'WebKitGTK\'s automation grants the mock microphone and its WebDriver has no permissions command',
    beforeLoad: 'WebKit\'s WebDriver has no verb to run a script before a page\'s own (puppeteer\'s evaluateOnNewDocument)',
    relaunchOnProfile: 'WebKitGTK\'s MiniBrowser under automation keeps its website data in memory only (an ephemeral session): a killed MiniBrowser leaves no profile to start again on',
  },
};
const VERBS = ['crashRenderer', 'throttle', 'offline', 'secondTab', 'refuseMicrophone', 'kill', 'cookies', 'beforeLoad', 'relaunchOnProfile'];

function capabilities(name) {
  const lacks = (verb) => {
    if (!VERBS.includes(verb)) throw new TypeError(`unknown verb ${verb}; known: ${VERBS.join(', ')}`);
    return LACKS[name][verb] ?? false;
  };
  return { lacks, can: (verb) => lacks(verb) === false };
}

/**
 * The engines a browser test runs in, narrowed by HARNESS_BROWSERS (comma-separated names).
 * WebKit stays in the list when it is not installed, with skip set to the reason.
 */
export function engines() {
  const all = [
    { name: 'chromium', skip: false, launch: (options) => launchPuppeteer('chromium', options) },
    { name: 'firefox', skip: false, launch: (options) => launchPuppeteer('firefox', options) },
    {
      name: 'webkit',
      skip: !webkitAvailable() && 'WebKitGTK (webkit2gtk-driver, Xvfb) is not installed',
      launch: async (options) => new WebKitDriver(options),
    },
  ].map((e) => ({ ...e, ...capabilities(e.name) }));
  const only = process.env.HARNESS_BROWSERS?.split(',').map((s) => s.trim()).filter(Boolean);
  return only?.length ? all.filter((e) => only.includes(e.name)) : all;
}

// ---------------------------------------------------------------------------
// Keys

const KEY_NAMES = new Set(Object.keys(WEBKIT_KEYS));

// 'Shift+Tab' → ['Shift', 'Tab']; a string that is no key name (or chord of them) is text.
function keyChord(key) {
  const parts = key.split('+');
  return key.length > 1 && parts.every((p) => KEY_NAMES.has(p)) ? parts : null;
}

// puppeteer over WebDriver BiDi (Firefox) knows no key named 'Space', only ' ' (which
// CDP's layout knows too).
const puppeteerKey = (k) => (k === 'Space' ? ' ' : k);

// ---------------------------------------------------------------------------
// Chromium and Firefox, over puppeteer-core

// The process ids of pid's descendants (from /proc), deepest last.
function descendants(pid) {
  const out = [];
  for (const child of fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number)) {
    out.push(child);
    try { out.push(...descendants(child)); } catch { /* gone already: nothing below it */ }
  }
  return out;
}

const alive = (pid) => {
  try {
    // A zombie is dead for our purposes: it holds no profile lock, runs no page.
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

// SIGKILL each of roots and every process below them, and wait until none runs: a
// profile is free for a relaunch only once every process that held it has gone. The
// signals go before the first await, so a caller knows the moment they went.
async function killTrees(roots, what) {
  const pids = roots.flatMap((pid) => {
    try { return [pid, ...descendants(pid)]; } catch { return [pid]; } // gone: its children with it or soon
  });
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone between the listing and the kill */ }
  }
  const end = Date.now() + 15_000;
  while (pids.some(alive)) {
    if (Date.now() > end) throw new Error(`${what}: processes ${pids.filter(alive)} still run 15 s after SIGKILL`);
    await delay(50);
  }
}

async function launchPuppeteer(name, options = {}) {
  const drv = new PuppeteerDriver(name, options);
  drv.browser = await drv.start(name === 'firefox' ? { micAllowed: true } : {});
  return drv;
}

class PuppeteerDriver {
  constructor(name, options) {
    this.name = name;
    Object.assign(this, capabilities(name));
    this.options = options;
    this.browser = null;
    this.refusing = null; // Firefox decides the microphone at launch: a second one refuses it
  }

  start(extra) {
    const { profile, ...rest } = this.options;
    const opts = { ...rest, ...extra, profile };
    return this.name === 'chromium' ? launchChromium(opts) : launchFirefox(opts);
  }

  // A fresh visitor: a new browser context (its own cookies and storage), or, for a browser
  // launched on a kept profile, its default context (the profile's own visitor).
  async newTab({ mic = 'granted', origins = [] } = {}) {
    let browser = this.browser;
    if (this.name === 'firefox' && mic === 'denied') {
      this.refusing ??= await this.start({ micAllowed: false });
      browser = this.refusing;
    }
    const own = !this.options.profile;
    const context = own ? await browser.createBrowserContext() : browser.defaultBrowserContext();
    const page = await context.newPage();
    const tab = new PuppeteerTab(this, browser, page, mic, { context, own, tabs: new Set(), origins: new Set() });
    try {
      for (const origin of [origins].flat()) await tab.allowOrigin(origin);
    } catch (err) {
      await tab.close();
      throw err;
    }
    return tab;
  }

  // SIGKILL of the browser's processes, sent before kill() first yields; answers once
  // all have gone.
  async kill() {
    const roots = [this.browser, this.refusing].map((b) => b?.process()?.pid).filter(Boolean);
    const gone = killTrees(roots, `${this.name} killed`);
    this.browser = null;
    this.refusing = null;
    await gone;
  }

  async close() {
    await Promise.all([this.browser, this.refusing].map((b) => b?.close().catch(() => {})));
    this.browser = null;
    this.refusing = null;
  }
}

class PuppeteerTab {
  // visitor: the browser context the tab is in, shared with its siblings: whether the
  // driver made it (closed with its last tab), its open tabs, the origins given the
  // microphone setting.
  constructor(drv, browser, page, mic, visitor) {
    this.drv = drv;
    this.browser = browser;
    this.page = page;
    this.mic = mic;
    this.visitor = visitor;
    visitor.tabs.add(this);
    this.lines = [];
    logConsole(page);
    page.on('console', (msg) => this.lines.push(`${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (err) => this.lines.push(`pageerror: ${err?.message ?? err}`));
  }

  // The microphone setting on origin (Chromium sets it per origin; Firefox at launch).
  async allowOrigin(origin) {
    const o = new URL(origin).origin;
    if (this.visitor.origins.has(o) || !this.mic || !o.startsWith('http')) return;
    await setMicrophone(this.browser, this.page, o, this.mic);
    this.visitor.origins.add(o);
  }

  async goto(url) {
    await this.allowOrigin(url);
    await this.page.goto(url);
  }

  async reload() {
    await this.page.reload();
  }

  evaluate(fn, ...args) {
    return this.page.evaluate(fn, ...args);
  }

  // A generous default: on a loaded two-core machine a page can take long to get there.
  // polling: ms between two calls of fn (a costly fn, such as one reading IndexedDB, is
  // polled less often).
  async waitFor(fn, arg, timeout = 30_000, { polling = 50 } = {}) {
    await this.page.waitForFunction(fn, { timeout, polling }, arg);
  }

  waitForEvent(kind, count = 1, timeout = 30_000) {
    return this.waitFor(([k, n]) => window.events(k).length >= n, [kind, count], timeout);
  }

  // A click as the user makes it; the tab is brought to the front first, since a click
  // waits for an animation frame, which a background tab never gets.
  async click(selector) {
    await this.page.bringToFront();
    await this.page.click(selector);
  }

  async keys(selector, keys) {
    await this.page.bringToFront();
    if (selector != null) await this.page.focus(selector);
    for (const key of [keys].flat()) {
      const chord = (keyChord(key) ?? (KEY_NAMES.has(key) ? [key] : null))?.map(puppeteerKey);
      if (!chord) {
        await this.page.keyboard.type(key);
        continue;
      }
      const held = chord.slice(0, -1);
      for (const k of held) await this.page.keyboard.down(k);
      await this.page.keyboard.press(chord.at(-1));
      for (const k of held.reverse()) await this.page.keyboard.up(k);
    }
  }

  // The page's console lines so far (a promise, as WebKit's is).
  async log() {
    return [...this.lines];
  }

  blob(getter) {
    return blobFromPage(this.page, getter);
  }

  // Another tab of the same visitor (the same context: its cookies and storage).
  async sibling(url) {
    const page = await this.visitor.context.newPage();
    const tab = new PuppeteerTab(this.drv, this.browser, page, this.mic, this.visitor);
    if (url) await tab.goto(url);
    return tab;
  }

  async crash() {
    const cdp = await this.page.createCDPSession();
    cdp.send('Page.crash').catch(() => {}); // never answers
    await this.close();
  }

  cookies() {
    return this.page.cookies();
  }

  // Only the fields WebDriver BiDi accepts of a cookie, for url (by default the page's).
  async setCookies(cookies, url = this.page.url()) {
    await this.page.setCookie(...cookies.map(({ name, value, path, httpOnly, expires }) => ({ name, value, path, httpOnly, expires, url })));
  }

  async deleteCookies() {
    await this.page.deleteCookie(...await this.page.cookies());
  }

  async throttle(rate) {
    const cdp = await this.page.createCDPSession();
    await cdp.send('Emulation.setCPUThrottlingRate', { rate });
  }

  offline(on) {
    return this.page.setOfflineMode(on);
  }

  beforeLoad(fn, ...args) {
    return this.page.evaluateOnNewDocument(fn, ...args);
  }

  // Closes the tab; the visitor's last tab closes the context the driver made for it.
  // Closing a closed tab does nothing.
  async close() {
    if (!this.visitor.tabs.delete(this)) return;
    await this.page.close().catch(() => {}); // a crashed or killed page has gone already
    if (this.visitor.own && this.visitor.tabs.size === 0) await this.visitor.context.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// WebKit, over W3C WebDriver

// Each fresh visitor is a MiniBrowser of its own (its own ephemeral session: empty
// storage, no cookies), which also keeps one test's WebKit trouble from the next (WebKitGTK
// keeps left pages alive in its back/forward cache, with their IndexedDB connections and
// locks). Its siblings are further windows of the same session.
class WebKitDriver {
  constructor(options = {}) {
    this.name = 'webkit';
    Object.assign(this, capabilities('webkit'));
    this.options = options;
    this.browsers = new Set();
  }

  async newTab({ mic = 'granted' } = {}) {
    if (mic === 'denied') throw new Error(this.lacks('refuseMicrophone'));
    const wk = await launchWebKit(this.options);
    this.browsers.add(wk);
    const handle = await wk.windowHandle();
    return new WebKitTab(this, wk, handle);
  }

  // SIGKILL of each MiniBrowser and its WebKit processes (network, web), sent before
  // kill() first yields; the driver and the display are then ended too.
  async kill() {
    const browsers = [...this.browsers];
    this.browsers.clear();
    await killTrees(browsers.flatMap((wk) => wk.browserPids()), 'MiniBrowser killed');
    await Promise.all(browsers.map((wk) => wk.close()));
  }

  async close() {
    await Promise.all([...this.browsers].map((wk) => wk.close()));
    this.browsers.clear();
  }
}

// Installed by evaluate after each load: WebDriver has no verb to read a page's console,
// so the page keeps its own lines (those written before the tab's first command after a
// load are not seen).
function captureConsole() {
  if (window.driverLog) return;
  window.driverLog = [];
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[level];
    console[level] = (...a) => {
      window.driverLog.push(`${level}: ${a.map((x) => (typeof x === 'string' ? x : (() => { try { return JSON.stringify(x); } catch { return String(x); } })())).join(' ')}`);
      return original.apply(console, a);
    };
  }
  window.addEventListener('error', (e) => window.driverLog.push(`pageerror: ${e.message}`));
  window.addEventListener('unhandledrejection', (e) => window.driverLog.push(`pageerror: ${e.reason}`));
}

class WebKitTab {
  constructor(drv, wk, handle) {
    this.drv = drv;
    this.wk = wk;
    this.handle = handle;
    this.closed = false;
    this.page = undefined;
    this.kept = []; // the lines of pages this tab has left
  }

  // Runs fn with this tab's window current: a WebDriver session has one current window,
  // so the tabs of one browser take turns.
  on(fn) {
    return this.wk.serial(async () => {
      await this.wk.switchTo(this.handle);
      return fn();
    });
  }

  async keepLog() {
    const lines = await this.on(() => this.wk.evaluate(() => window.driverLog || [])).catch(() => []);
    this.kept.push(...lines);
  }

  async goto(url) {
    await this.keepLog();
    await this.on(() => this.wk.goto(url));
    await this.on(() => this.wk.evaluate(captureConsole)).catch(() => {}); // a page that has gone on
  }

  async reload() {
    await this.keepLog();
    await this.on(() => this.wk.reload());
    await this.on(() => this.wk.evaluate(captureConsole)).catch(() => {});
  }

  evaluate(fn, ...args) {
    return this.on(() => this.wk.evaluate(fn, ...args));
  }

  async waitFor(fn, arg, timeout = 30_000, { polling = 100 } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      if (await this.evaluate(fn, arg)) return;
      if (Date.now() > end) throw new Error(`waited ${timeout} ms for ${fn}`);
      await delay(Math.max(polling, 100)); // each poll is a WebDriver round trip
    }
  }

  waitForEvent(kind, count = 1, timeout = 30_000) {
    return this.waitFor(([k, n]) => window.events(k).length >= n, [kind, count], timeout);
  }

  // A WebDriver selector does not reach into a shadow root: for 'host >>> part' a script
  // finds the element there, and WebDriver clicks it (a trusted click, as puppeteer's).
  click(selector) {
    if (!selector.includes('>>>')) return this.on(() => this.wk.click(selector));
    const path = selector.split('>>>').map((s) => s.trim());
    return this.on(async () => {
      const found = await this.wk.cmd('POST', '/execute/sync', {
        script: `let el = document.querySelector(arguments[0][0]);
          for (const s of arguments[0].slice(1)) el = el.shadowRoot.querySelector(s);
          return el;`,
        args: [path],
      });
      await this.wk.cmd('POST', `/element/${Object.values(found)[0]}/click`, {});
    });
  }

  keys(selector, keys) {
    const sequence = [keys].flat().map((k) => keyChord(k) ?? (KEY_NAMES.has(k) ? [k] : [...k].map((c) => ({ text: c }))));
    return this.on(async () => {
      if (selector != null) await this.wk.evaluate((s) => document.querySelector(s).focus(), selector);
      for (const chord of sequence) await this.wk.pressKeys(chord);
    });
  }

  async log() {
    const now = await this.on(() => this.wk.evaluate(() => window.driverLog || [])).catch(() => []);
    return [...this.kept, ...now];
  }

  blob(getter) {
    const source = typeof getter === 'function' ? String(getter) : `() => (${getter})`;
    return this.on(() => this.wk.blob(source));
  }

  // Another window of the same session: the same visitor and storage.
  async sibling(url) {
    const handle = await this.on(() => this.wk.newWindow());
    const tab = new WebKitTab(this.drv, this.wk, handle);
    if (url) await tab.goto(url);
    return tab;
  }

  cookies() {
    return this.on(() => this.wk.cookies());
  }

  // WebDriver sets a cookie for the current page's domain (url is for puppeteer's engines).
  setCookies(cookies, _url) {
    return this.on(async () => {
      for (const { name, value, path, httpOnly, expires } of cookies) {
        await this.wk.addCookie({ name, value, path, httpOnly, ...(expires > 0 ? { expiry: Math.floor(expires) } : {}) });
      }
    });
  }

  deleteCookies() {
    return this.on(() => this.wk.clearCookies());
  }

  // Closes the window; the last window of a browser ends the browser. Closing a closed
  // tab does nothing.
  async close() {
    if (this.closed) return;
    this.closed = true;
    if (!this.drv.browsers.has(this.wk)) return; // killed or closed with its browser
    const handles = await this.wk.serial(() => this.wk.windowHandles()).catch(() => []);
    if (handles.filter((h) => h !== this.handle).length === 0) {
      this.drv.browsers.delete(this.wk);
      await this.wk.close();
      return;
    }
    await this.on(() => this.wk.closeWindow());
  }
}

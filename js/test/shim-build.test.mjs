// The shim as build.mjs joins it (make build), without a browser: the classic script's
// globals and its files found beside its own <script> tag, with the content hashes the
// build generated; the ES module's exports; isSupported asking MediaRecorder about the
// types the Go side generated (wasm/cmd/shimdata).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD = path.resolve(HERE, '../../build');
const SDK_DIR = path.join(BUILD, 'sdk');

// The hash preload.html names for a file: the one the shim must put in that file's URL.
async function preloadVersion(name) {
  const preload = await readFile(path.join(SDK_DIR, 'preload.html'), 'utf8');
  const match = new RegExp(`${name.replace('.', '\\.')}\\?v=([0-9a-f]{16})`).exec(preload);
  assert.ok(match, `preload.html names no version of ${name}`);
  return match[1];
}

test('the classic script defines window.VocaFuse and fetches the wasm beside its <script>', async () => {
  const source = await readFile(path.join(SDK_DIR, 'vocafuse.js'), 'utf8');
  const fetched = [];
  const window = {
    document: { currentScript: { src: 'https://cdn.example/assets/sdk/vocafuse.js' } },
    location: { href: 'https://shop.example/checkout' },
    navigator: {},
    fetch: (url) => {
      fetched.push(String(url));
      return new Promise(() => {}); // never answers: the boot stays pending
    },
    addEventListener() {},
    removeEventListener() {},
    console, URL, FinalizationRegistry,
  };
  window.globalThis = window;
  vm.runInNewContext(source, window);
  assert.equal(typeof window.VocaFuse, 'function');
  assert.equal(typeof window.VocaFuseError, 'function');
  assert.equal(new window.VocaFuseError({ code: 'PERMISSION_DENIED' }).userMessage.length > 0, true,
    'the catalogue (shimdata) is in the script');
  new window.VocaFuse({ tokenEndpoint: '/api/token', persist: false });
  assert.deepEqual(fetched, [`https://cdn.example/assets/sdk/vocafuse.wasm?v=${await preloadVersion('vocafuse.wasm')}`]);
});

test('the ES module exports the two classes, with the npm copy\'s URLs unversioned', async () => {
  const shim = await import(pathToFileURL(path.join(BUILD, 'npm', 'vocafuse.mjs')).href);
  assert.deepEqual(Object.keys(shim).sort(), ['VocaFuse', 'VocaFuseError']);
  const npmText = await readFile(path.join(BUILD, 'npm', 'vocafuse.mjs'), 'utf8');
  assert.ok(!/\?v=|[0-9a-f]{16}/.test(npmText.replace(/sha\d+-\S+/g, '')), 'the npm copy carries a content hash');
  const sdkText = await readFile(path.join(SDK_DIR, 'vocafuse.mjs'), 'utf8');
  assert.ok(sdkText.includes(await preloadVersion('wasm_exec.js')), 'the served copy lacks wasm_exec.js\'s hash');
});

test('isSupported asks MediaRecorder about the types the Go side chooses among', async () => {
  const data = JSON.parse(await readFile(path.join(BUILD, 'shimdata.json'), 'utf8'));
  const asked = [];
  const previous = Object.getOwnPropertyDescriptors(globalThis);
  const set = (name, value) => Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  set('navigator', { mediaDevices: { getUserMedia() {} } });
  set('MediaRecorder', class { static isTypeSupported(t) { asked.push(t); return false; } });
  set('AudioContext', undefined);
  try {
    const { VocaFuse } = await import(pathToFileURL(path.join(BUILD, 'npm', 'vocafuse.mjs')).href);
    assert.equal(VocaFuse.isSupported(), false);
  } finally {
    for (const name of ['navigator', 'MediaRecorder', 'AudioContext']) {
      if (previous[name]) Object.defineProperty(globalThis, name, previous[name]);
      else delete globalThis[name];
    }
  }
  assert.deepEqual(asked, data.limits.mediaRecorderTypes);
  assert.ok(asked.includes('audio/ogg;codecs=opus') && asked.includes('audio/webm'), asked.join(' '));
});

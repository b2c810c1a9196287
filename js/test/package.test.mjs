// The npm package (make pack) as a user gets it: what `npm pack` ships, a Vite app that
// installs the .tgz and records and uploads with it in Chromium, and the reference's
// TypeScript example checked against the package's own types.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { closePage, freshTmpDir, launchChromium, newPage, setMicrophone, startServer } from './harness.mjs';
import { waitFor } from './support.mjs';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const JS = path.resolve(HERE, '..');
const NPM_DIR = path.resolve(JS, '../build/npm');
const PKG = JSON.parse(await readFile(path.join(NPM_DIR, 'package.json'), 'utf8'));
// make pack's file, named as npm names it: build/vocafuse-recorder-<version>.tgz.
const TGZ = path.resolve(JS, `../build/${PKG.name.replace(/^@/, '').replace('/', '-')}-${PKG.version}.tgz`);
const VITE = path.join(JS, 'node_modules/vite/bin/vite.js');
const TSC = path.join(JS, 'node_modules/.bin/tsc');


test('npm pack lists only what a user needs', { timeout: 60_000 }, async (t) => {
  const { stdout } = await execFileP('npm', ['pack', '--dry-run', '--json'], { cwd: NPM_DIR });
  const [packed] = JSON.parse(stdout);
  // Exactly these: no Go, no tests, no sources of the wasm, no build leftovers.
  assert.deepEqual(packed.files.map((f) => f.path).sort(), [
    'LICENSE', 'README.md', 'package.json', 'vocafuse-recorder.d.ts', 'vocafuse-recorder.mjs',
    'vocafuse-worklet.js', 'vocafuse.d.ts', 'vocafuse.js', 'vocafuse.mjs', 'vocafuse.wasm', 'wasm_exec.js',
  ]);
  t.diagnostic(`unpacked ${packed.unpackedSize} bytes, packed ${packed.size} bytes (${packed.filename})`);

  assert.equal(PKG.name, '@vocafuse/recorder');
  assert.match(PKG.version, /^\d+\.\d+\.\d+/);
  assert.ok(PKG.license, 'license');
  assert.equal(PKG.type, 'module');
  assert.deepEqual(PKG.exports['.'], { types: './vocafuse.d.ts', default: './vocafuse.mjs' });
  assert.equal(PKG.exports['./element'].default, './vocafuse-recorder.mjs');
  assert.equal(PKG.exports['./classic'], './vocafuse.js');
  assert.ok(Array.isArray(PKG.files) && PKG.files.length > 0, 'files');
  assert.ok(PKG.sideEffects !== undefined, 'sideEffects');
  assert.ok(PKG.engines, 'engines');
});

describe('an app that installs the packed .tgz', () => {
  let app; // one scratch app for the Vite build and the type check
  before(async () => {
    await access(TGZ).catch(() => assert.fail(`${TGZ} is missing: run make pack`));
    app = await freshTmpDir('package-app-');
    await writeFile(path.join(app, 'package.json'), JSON.stringify({
      name: 'scratch-app', private: true, type: 'module',
      dependencies: { '@vocafuse/recorder': `file:${TGZ}` },
    }));
    // A local .tgz with no dependencies needs no registry: --offline proves it.
    await execFileP('npm', ['install', '--no-audit', '--no-fund', '--offline'], { cwd: app });
  }, { timeout: 120_000 });

  test('a Vite build of it records and uploads in Chromium, loading only what Vite emitted', { timeout: 180_000 }, async (t) => {
    // The CSP of a careful site: scripts (the worklet too) only from the site itself, so a
    // file the bundler inlined as a data: URL would fail here.
    await writeFile(path.join(app, 'index.html'),
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>app</title>\n' +
      '<meta http-equiv="Content-Security-Policy" content="script-src \'self\' \'wasm-unsafe-eval\'"></head>\n' +
      '<body><button id="record-btn" type="button">Record</button><script type="module" src="./main.js"></script></body></html>\n');
    // What the README tells a user to write, every callback logged for the test; attach()
    // again with other formats for a second take.
    await writeFile(path.join(app, 'main.js'), `
      import { VocaFuse } from '@vocafuse/recorder';

      let log = [];
      window.events = (kind) => log.filter((e) => e.kind === kind).map((e) => e.arg);
      const note = (kind) => (arg) => log.push({ kind, arg });
      const sdk = new VocaFuse({ tokenEndpoint: '/api/token' });
      sdk.ready.then(() => { window.ready = 'ok'; }, (err) => { window.ready = err.code + ': ' + err.message; });
      window.attach = (formats) => {
        window.control?.destroy();
        log = [];
        window.control = sdk.addVoiceNote('#record-btn', {
          maxDuration: 20,
          formats,
          onProgress: note('progress'),
          onStop: (r) => note('stop')({ format: r.format, size: r.size, duration: r.duration }),
          onUploaded: note('uploaded'),
          onError: (e) => note('error')({ code: e.code, message: e.message }),
        });
      };
      window.attach();
    `);
    // The CLI, run in the app: a vite.config there could not import 'vite' (it lives in js/).
    const built = await execFileP(process.execPath, [VITE, 'build', '--base', '/test/'], { cwd: app });
    assert.equal(built.stderr, '', 'vite warned');
    const dist = path.join(app, 'dist');
    const assets = await readdir(path.join(dist, 'assets'));
    t.diagnostic(`vite emitted: ${assets.join(', ')}`);
    const wasmFile = assets.find((f) => f.endsWith('.wasm'));
    const execJsFile = assets.find((f) => /^wasm_exec.*\.js$/.test(f));
    const workletFile = assets.find((f) => /^vocafuse-worklet.*\.js$/.test(f));
    assert.ok(wasmFile, 'vite emitted no .wasm');
    assert.ok(workletFile, 'vite emitted no worklet file (inlined it as a data: URL?)');
    assert.ok(execJsFile, 'vite emitted no wasm_exec.js');
    assert.ok((await readFile(path.join(dist, 'assets', wasmFile))).equals(await readFile(path.join(NPM_DIR, 'vocafuse.wasm'))),
      'the emitted wasm differs from the package\'s');

    const server = await startServer({ testPagesDir: dist });
    const browser = await launchChromium();
    const page = await newPage(browser);
    const requests = [];
    page.on('request', (req) => requests.push(req.url()));
    try {
      await setMicrophone(browser, page, server.origin, 'granted');
      await page.goto(`${server.origin}/test/index.html`);
      await waitFor(page, () => window.ready !== undefined);

      // The wasm and wasm_exec.js come from where Vite put them, and nowhere else (not
      // /sdk/, not beside the page, not node_modules).
      const only = (re, file) => {
        const asked = [...new Set(requests.filter((u) => re.test(u)))];
        assert.deepEqual(asked, [`${server.origin}/test/assets/${file}`], `requests: ${requests.join(' ')}`);
      };
      only(/\.wasm([?#]|$)/, wasmFile);
      only(/wasm_exec/, execJsFile);
      assert.equal(await page.evaluate(() => window.ready), 'ok');

      // A take in the browser's own format (WebM), then one in WAV: the Web Audio path, with
      // the worklet, which the page's CSP lets run only as a file of its own.
      for (const formats of [undefined, ['wav']]) {
        await page.evaluate((f) => window.attach(f), formats);
        await page.click('#record-btn');
        await waitFor(page, () => window.events('progress').some((p) => p.elapsed >= 2) || window.events('error').length > 0);
        await page.click('#record-btn');
        await waitFor(page, () => window.events('uploaded').length + window.events('error').length > 0, undefined, 60_000);
        const { uploaded, stop, errors } = await page.evaluate(() => ({
          uploaded: window.events('uploaded')[0], stop: window.events('stop')[0], errors: window.events('error'),
        }));
        assert.deepEqual(errors, [], `formats ${formats}`);
        if (formats) assert.equal(uploaded.format, formats[0]);
        assert.equal(uploaded.size, stop.size);
        assert.ok(uploaded.size > 0 && uploaded.duration > 1, JSON.stringify(uploaded));
        // The stored file, read back through the resource's signed URL.
        const audio = await fetch(uploaded.audio_url);
        assert.equal(audio.status, 200);
        assert.equal((await audio.arrayBuffer()).byteLength, uploaded.size);
      }

      // Once more, after the recording: still nothing from anywhere else.
      only(/\.wasm([?#]|$)/, wasmFile);
      only(/wasm_exec/, execJsFile);
      // The worklet's fetch is not among a page's requests in Chromium; the WAV take having
      // recorded under a CSP that allows scripts only from the site says where it came from.
    } finally {
      await closePage(page).catch(() => {});
      await browser.close();
      await server.stop();
    }
  });

  test('the reference\'s TypeScript example type-checks against the package\'s types', { timeout: 60_000 }, async () => {
    // The reference's onError example has one copy, the one the browser tests run.
    const onError = (await readFile(path.join(HERE, 'fixtures', 'reference-onerror.js'), 'utf8'))
      .replace('onError: (error) =>', 'onError: async (error) =>');
    const example = (await readFile(path.join(HERE, 'fixtures', 'reference-example.ts'), 'utf8'))
      .replace('/*@REFERENCE_ONERROR@*/', onError);
    assert.ok(example.includes("case 'PERMISSION_DENIED'"), 'the example was not put in');
    await writeFile(path.join(app, 'reference-example.ts'), example);
    const compilerOptions = {
      strict: true, noEmit: true, module: 'esnext', target: 'es2022', moduleResolution: 'bundler',
      lib: ['es2022', 'dom'], skipLibCheck: false,
    };
    await writeFile(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['reference-example.ts'] }));
    const tsc = (project) => execFileP(TSC, ['-p', project, '--pretty', 'false'], { cwd: app })
      .then(() => ({ code: 0, stdout: '' }), (err) => ({ code: err.code, stdout: err.stdout + err.stderr }));

    const good = await tsc('tsconfig.json');
    assert.equal(good.code, 0, good.stdout);

    // The types are really resolved, not `any`: misuse must be caught, line by line.
    await writeFile(path.join(app, 'misuse.ts'), [
      "import { VocaFuse, type VocaFuseError } from '@vocafuse/recorder';",
      "import '@vocafuse/recorder/element';",
      'export const code = (error: VocaFuseError) => { const n: number = error.code; return n; };',
      "const el = document.querySelector('vocafuse-recorder')!;",
      'el.sdk = 5;',
      "el.addEventListener('vocafuse-uploaded', (e) => { const size: string = e.detail.size; return size; });",
      "new VocaFuse({ tokenEndpoint: '/api/token' }).addVoiceNote('#b', { maxDuration: '60' });",
      '',
    ].join('\n'));
    await writeFile(path.join(app, 'tsconfig.misuse.json'), JSON.stringify({ compilerOptions, files: ['misuse.ts'] }));
    const bad = await tsc('tsconfig.misuse.json');
    assert.notEqual(bad.code, 0, 'tsc accepted misuse.ts');
    for (const line of [3, 5, 6, 7]) {
      assert.match(bad.stdout, new RegExp(`misuse\\.ts\\(${line},\\d+\\): error TS2322`), bad.stdout);
    }
  });
});

// @ts-check
// Builds the shim: node build.mjs <shimdata.json> <sdk-dir> <npm-dir>
// <sdk-dir> holds vocafuse.wasm and wasm_exec.js already. esbuild joins the modules of
// src/ (vocafuse.mjs and what it imports) twice: vocafuse.mjs, an ES module, and
// vocafuse.js, its IIFE build (src/classic.mjs) defining window.VocaFuse and
// window.VocaFuseError. Two modules of src/ are generated here, not files: shimdata.mjs,
// what the Go packages say (wasm/cmd/shimdata: the catalogue's texts, the limits), and
// versions.mjs, the content hashes of the files the shim loads. <sdk-dir> gets the copy the
// demo server sends, whose URLs carry those hashes; <npm-dir> the same files without them
// (a bundler names files itself), with package.json, README and LICENSE: the npm package
// (make pack). The element, the types and the worklet are copied as they are.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const [dataPath, outDir, npmDir] = process.argv.slice(2);
if (!dataPath || !outDir || !npmDir) {
  console.error('usage: node build.mjs <shimdata.json> <sdk-dir> <npm-dir>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const shimdata = readFileSync(dataPath, 'utf8');

// The files the shim loads, by content: the first 16 hex digits of their SHA-256, the
// same the server computes (demo/web) to know a URL it may let browsers keep.
/** @param {string} path */
const version = (path) => createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
const versions = {
  'vocafuse.wasm': version(join(outDir, 'vocafuse.wasm')),
  'wasm_exec.js': version(join(outDir, 'wasm_exec.js')),
  'vocafuse-worklet.js': version(join(src, 'vocafuse-worklet.js')),
};

/**
 * The generated modules, as JSON modules (their types: src/shimdata.d.mts, src/versions.d.mts).
 * @param {Record<string, string>} fileVersions
 * @returns {esbuild.Plugin}
 */
function generated(fileVersions) {
  const contents = { 'shimdata.mjs': shimdata, 'versions.mjs': JSON.stringify(fileVersions) };
  return {
    name: 'vocafuse-generated',
    setup(build) {
      build.onResolve({ filter: /^\.\/(shimdata|versions)\.mjs$/ }, (args) => ({ path: args.path.slice(2), namespace: 'generated' }));
      build.onLoad({ filter: /.*/, namespace: 'generated' }, (args) => ({
        contents: contents[/** @type {keyof typeof contents} */ (args.path)], loader: 'json',
      }));
    },
  };
}

/**
 * The ES module and the classic script, from the same sources.
 * @param {Record<string, string>} fileVersions
 */
async function shims(fileVersions) {
  /** @type {esbuild.BuildOptions} */
  const common = {
    bundle: true, write: false, platform: 'browser', charset: 'utf8', logLevel: 'warning',
    plugins: [generated(fileVersions)],
  };
  const [module, classic] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(src, 'vocafuse.mjs')], format: 'esm' }),
    // The classic script finds the files relative to its own <script> tag, read while it runs.
    esbuild.build({
      ...common, entryPoints: [join(src, 'classic.mjs')], format: 'iife', banner: { js: "'use strict';" },
      define: { 'import.meta.url': 'scriptUrl' }, inject: [join(src, 'script-url.mjs')],
    }),
  ]);
  /** @param {esbuild.BuildResult} result */
  const text = (result) => {
    if (!result.outputFiles) throw new Error('build: esbuild wrote files instead of answering them');
    return result.outputFiles[0].text;
  };
  return { 'vocafuse.mjs': text(module), 'vocafuse.js': text(classic) };
}

// Copied as they are.
const SOURCES = ['vocafuse.d.ts', 'vocafuse-worklet.js', 'vocafuse-recorder.mjs', 'vocafuse-recorder.d.ts'];

/**
 * @param {string} dir
 * @param {Record<string, string>} fileVersions
 */
async function writeShims(dir, fileVersions) {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(await shims(fileVersions))) writeFileSync(join(dir, name), text);
  for (const name of SOURCES) copyFileSync(join(src, name), join(dir, name));
}

await writeShims(outDir, versions);
// The hints a page may put in its <head>, with this build's URLs (the wasm's and
// wasm_exec.js's carry their hash; a hint for another URL would be a second download).
writeFileSync(join(outDir, 'preload.html'), [
  '<link rel="modulepreload" href="/sdk/vocafuse.mjs">',
  `<link rel="modulepreload" href="/sdk/wasm_exec.js?v=${versions['wasm_exec.js']}">`,
  `<link rel="preload" href="/sdk/vocafuse.wasm?v=${versions['vocafuse.wasm']}" as="fetch" type="application/wasm" crossorigin>`,
  '',
].join('\n'));

// The npm package: what a page needs and nothing else (package.json's "files" says the same).
rmSync(npmDir, { recursive: true, force: true });
await writeShims(npmDir, {});
for (const name of ['vocafuse.wasm', 'wasm_exec.js']) copyFileSync(join(outDir, name), join(npmDir, name));
for (const name of ['package.json', 'README.md', 'LICENSE']) copyFileSync(join(here, 'package', name), join(npmDir, name));

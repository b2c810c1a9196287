// Builds the shim: node build.mjs <shimdata.json> <sdk-dir> <npm-dir>
// <sdk-dir> holds vocafuse.wasm and wasm_exec.js already. Into it go vocafuse.mjs (ES
// module), vocafuse.js (classic script defining window.VocaFuse and window.VocaFuseError),
// the <vocafuse-recorder> element, the types and the worklet, with what the Go packages
// say (the catalogue's texts, the limits; see wasm/cmd/shimdata) inlined: the copy the
// demo server sends, whose URLs carry content hashes. <npm-dir> gets the same files
// without the hashes (a bundler names files itself), with package.json, README and LICENSE:
// the npm package (make pack).
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [dataPath, outDir, npmDir] = process.argv.slice(2);
if (!dataPath || !outDir || !npmDir) {
  console.error('usage: node build.mjs <shimdata.json> <sdk-dir> <npm-dir>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const source = readFileSync(join(here, 'src', 'vocafuse.mjs'), 'utf8');
const shimdata = JSON.stringify(JSON.parse(readFileSync(dataPath, 'utf8')));

function replaceOnce(text, marker, replacement) {
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + 1) >= 0) throw new Error(`build: marker ${marker} must appear exactly once`);
  return text.slice(0, at) + replacement + text.slice(at + marker.length);
}

// The files the shim loads, by content: the first 16 hex digits of their SHA-256, the
// same the server computes (demo/web) to know a URL it may let browsers keep.
const version = (path) => createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
const versions = {
  'vocafuse.wasm': version(join(outDir, 'vocafuse.wasm')),
  'wasm_exec.js': version(join(outDir, 'wasm_exec.js')),
  'vocafuse-worklet.js': version(join(here, 'src', 'vocafuse-worklet.js')),
};

const io = readFileSync(join(here, 'src', 'io.mjs'), 'utf8');
const withCatalog = replaceOnce(replaceOnce(source, '/*@IO@*/', io), '/*@SHIMDATA@*/ null', shimdata);

// The ES module, and the classic script: the same code, no export keywords, the files'
// URLs relative to its own <script> tag.
function shims(versions) {
  const moduleText = replaceOnce(withCatalog, '/*@VERSIONS@*/ {}', JSON.stringify(versions));
  let classic = moduleText.replaceAll('import.meta.url', 'SCRIPT_URL');
  classic = classic.replace(/^export class /gm, 'class ');
  if (/^\s*(export|import)\s/m.test(classic)) throw new Error('build: the classic script still has import/export');
  classic = '(function () {\n\'use strict\';\n' +
    'const SCRIPT_URL = (document.currentScript && document.currentScript.src) || location.href;\n' +
    `${classic}\nglobalThis.VocaFuse = VocaFuse;\nglobalThis.VocaFuseError = VocaFuseError;\n})();\n`;
  return { 'vocafuse.mjs': moduleText, 'vocafuse.js': classic };
}

// Copied as they are.
const SOURCES = ['vocafuse.d.ts', 'vocafuse-worklet.js', 'vocafuse-recorder.mjs', 'vocafuse-recorder.d.ts'];

function writeShims(dir, versions) {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(shims(versions))) writeFileSync(join(dir, name), text);
  for (const name of SOURCES) copyFileSync(join(here, 'src', name), join(dir, name));
}

writeShims(outDir, versions);
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
writeShims(npmDir, {});
for (const name of ['vocafuse.wasm', 'wasm_exec.js']) copyFileSync(join(outDir, name), join(npmDir, name));
for (const name of ['package.json', 'README.md', 'LICENSE']) copyFileSync(join(here, 'package', name), join(npmDir, name));

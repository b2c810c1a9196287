// Builds the shim: node build.mjs <shimdata.json> <out-dir> (which holds vocafuse.wasm and
// wasm_exec.js already)
// Writes vocafuse.mjs (ES module), vocafuse.js (classic script defining window.VocaFuse
// and window.VocaFuseError) and vocafuse.d.ts, with what the Go packages say (the
// catalogue's texts, the limits; see wasm/cmd/shimdata) inlined.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [dataPath, outDir] = process.argv.slice(2);
if (!dataPath || !outDir) {
  console.error('usage: node build.mjs <shimdata.json> <out-dir>');
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
const withCatalog = replaceOnce(replaceOnce(replaceOnce(source, '/*@IO@*/', io), '/*@SHIMDATA@*/ null', shimdata),
  '/*@VERSIONS@*/ {}', JSON.stringify(versions));
const moduleText = replaceOnce(withCatalog, '/*@BASE_URL@*/ import.meta.url', 'import.meta.url');

// The classic script: same code, no export keywords, its base from its own <script> tag.
let classic = replaceOnce(withCatalog, '/*@BASE_URL@*/ import.meta.url',
  "(document.currentScript && document.currentScript.src) || location.href");
classic = classic.replace(/^export class /gm, 'class ');
if (/^\s*(export|import)\s/m.test(classic)) throw new Error('build: the classic script still has import/export');
classic = `(function () {\n'use strict';\n${classic}\nglobalThis.VocaFuse = VocaFuse;\nglobalThis.VocaFuseError = VocaFuseError;\n})();\n`;

mkdirSync(outDir, { recursive: true });
// The hints a page may put in its <head>, with this build's URLs (the wasm's and
// wasm_exec.js's carry their hash; a hint for another URL would be a second download).
writeFileSync(join(outDir, 'preload.html'), [
  '<link rel="modulepreload" href="/sdk/vocafuse.mjs">',
  `<link rel="modulepreload" href="/sdk/wasm_exec.js?v=${versions['wasm_exec.js']}">`,
  `<link rel="preload" href="/sdk/vocafuse.wasm?v=${versions['vocafuse.wasm']}" as="fetch" type="application/wasm" crossorigin>`,
  '',
].join('\n'));
writeFileSync(join(outDir, 'vocafuse.mjs'), moduleText);
writeFileSync(join(outDir, 'vocafuse.js'), classic);
copyFileSync(join(here, 'src', 'vocafuse.d.ts'), join(outDir, 'vocafuse.d.ts'));
copyFileSync(join(here, 'src', 'vocafuse-worklet.js'), join(outDir, 'vocafuse-worklet.js'));

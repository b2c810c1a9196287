// @ts-check
// ESLint (make lint): the recommended rules over the shim, its build script, its tests and
// its benchmark, each file with the globals of where it runs.
import js from '@eslint/js';
import globals from 'globals';

export default [
  // fixtures/reference-onerror.js is the API reference's text as published, checked by tsc in package.test.mjs.
  { ignores: ['node_modules/**', 'package/**', 'test/pages/generated/**', 'test/fixtures/**'] },
  js.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A leading underscore marks what is kept on purpose (an argument a signature needs).
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  // The shim: in the page.
  { files: ['src/**/*.mjs', 'test/pages/**/*.js', 'bench/pages/**/*.js'], languageOptions: { globals: globals.browser } },
  { files: ['src/vocafuse-worklet.js'], languageOptions: { sourceType: 'script', globals: globals.audioWorklet } },
  { files: ['test/pages/**/*.js'], languageOptions: { sourceType: 'script' } },
  // The build and the tests run in Node; the tests' and the benchmark's page functions
  // (page.evaluate) run in the browser.
  { files: ['build.mjs', 'eslint.config.mjs'], languageOptions: { globals: globals.node } },
  { files: ['test/**/*.mjs', 'bench/**/*.mjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
];

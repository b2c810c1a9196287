// @ts-check
// The classic script's entry (vocafuse.js, built by build.mjs as an IIFE): the ES module's
// two classes as globals, for a page without modules.
import { VocaFuse, VocaFuseError } from './vocafuse.mjs';

Object.assign(globalThis, { VocaFuse, VocaFuseError });

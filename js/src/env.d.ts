// What the shim reads of the page that TypeScript's DOM library does not declare.

interface Navigator {
  /** User-Agent Client Hints: present in Chromium only (outbox.mjs asks it to tell Chromium). */
  readonly userAgentData?: unknown;
}

// wasm_exec.js's Go class: a global once that script has run (the shim loads it first).
declare var Go: new () => { argv: string[]; importObject: WebAssembly.Imports; run(instance: WebAssembly.Instance): Promise<void> };

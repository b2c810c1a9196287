// @ts-check
// The classic script's import.meta.url (build.mjs injects it): the URL of its own <script>
// tag, read while the script first runs, the one moment document.currentScript names it.
const script = /** @type {HTMLScriptElement | null} */ (document.currentScript);
export const scriptUrl = (script && script.src) || location.href;

// @ts-check
// <vocafuse-recorder token-endpoint="/api/token" max-duration="60">: the SDK as one line of
// HTML. Everything it does goes through addVoiceNote on its inner record button; it only
// draws what the callbacks report and re-dispatches each of them as a DOM event.
import { VocaFuse } from './vocafuse.mjs';

/**
 * The published types (vocafuse.d.ts), which the element's API is checked against.
 * @typedef {import('./vocafuse.js').VoiceNote} VoiceNote
 * @typedef {import('./vocafuse.js').VoiceNoteControl} VoiceNoteControl
 * @typedef {import('./vocafuse.js').VocaFuseState} VocaFuseState
 */

// Callback → DOM event. Each event's detail is the very value the callback got.
const EVENTS = {
  onStateChange: 'vocafuse-statechange',
  onStart: 'vocafuse-start',
  onProgress: 'vocafuse-progress',
  onLevel: 'vocafuse-level',
  onWarning: 'vocafuse-warning',
  onStop: 'vocafuse-stop',
  onUploadProgress: 'vocafuse-upload-progress',
  onUploaded: 'vocafuse-uploaded',
  onError: 'vocafuse-error',
};

const STATUS = {
  idle: 'Ready to record',
  requesting: 'Waiting for the microphone…',
  recording: 'Recording',
  paused: 'Paused',
  processing: 'Finishing the recording…',
  uploading: 'Uploading…',
  uploaded: 'Saved',
  error: '',
};
const LIVE = new Set(['recording', 'paused']);
// Options are fixed per addVoiceNote: changes wait for a state without a recording.
const SETTLED = new Set(['idle', 'uploaded', 'error']);
// The player's events after which it may have settled (the element's _play).
const SETTLING = ['loadedmetadata', 'error', 'suspend', 'emptied', 'pause'];

// A preview's object URL, made from the recording's Blob, is let go with its last use.
function revokePreview(url) {
  if (url && url.startsWith('blob:')) URL.revokeObjectURL(url);
}

const RING = 2 * Math.PI * 20; // the countdown circle's circumference (r = 20 in a 48 box)

// One VocaFuse per token endpoint and API on the page, so that several elements share one
// outbox courier, as one page with several addVoiceNote calls would.
const shared = new Map();
function sharedSDK(tokenEndpoint, apiBaseUrl) {
  const key = `${tokenEndpoint}\n${apiBaseUrl || ''}`;
  if (!shared.has(key)) {
    shared.set(key, new VocaFuse(apiBaseUrl ? { tokenEndpoint, apiBaseUrl } : { tokenEndpoint }));
  }
  return shared.get(key);
}

const TEMPLATE = `
<div class="card" part="card">
  <div class="row">
    <button type="button" class="record" part="record"><span class="icon" aria-hidden="true"></span><span class="label">Record</span></button>
    <button type="button" class="pause" part="pause" hidden>Pause</button>
    <div class="ring" part="ring" aria-hidden="true" hidden>
      <svg viewBox="0 0 48 48" focusable="false"><circle class="track" cx="24" cy="24" r="20"></circle><circle class="arc" cx="24" cy="24" r="20"></circle></svg>
      <span class="remaining" part="remaining"></span>
    </div>
  </div>
  <div class="meter" part="meter" role="meter" aria-label="Microphone level" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" hidden><span class="level" part="level"></span></div>
  <progress class="progress" part="progress" max="100" value="0" aria-label="Upload progress" hidden></progress>
  <p class="status" part="status" role="status" aria-live="polite"></p>
  <p class="warning" part="warning" role="status" aria-live="polite"></p>
  <p class="error" part="error" role="alert"></p>
  <audio class="player" part="player" controls preload="metadata" hidden></audio>
</div>`;

// Constructable style sheets: a page whose CSP forbids inline style still allows them.
const CSS = `
:host { display: block; font: inherit; color: var(--vocafuse-text, #1d2330);
  --_accent: var(--vocafuse-accent, #2346d6); --_danger: var(--vocafuse-danger, #b4232f);
  --_muted: var(--vocafuse-muted, #4d5466); --_track: var(--vocafuse-track, #e3e6ef);
  --_size: var(--vocafuse-size, 3rem); }
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
.card { display: grid; gap: .75rem; padding: 1rem; border-radius: var(--vocafuse-radius, 1rem);
  background: var(--vocafuse-surface, #fff); }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem; }
button { font: inherit; min-height: var(--_size); padding: 0 1.4rem; border-radius: calc(var(--_size) / 2);
  cursor: pointer; display: inline-flex; align-items: center; gap: .6rem; }
button:focus-visible { outline: 3px solid var(--_accent); outline-offset: 3px; }
button:disabled { cursor: default; opacity: .6; }
.record { border: 0; background: var(--_accent); color: #fff; font-weight: 600; font-size: 1.1rem; }
.record .icon { width: .85rem; height: .85rem; border-radius: 50%; background: currentColor; }
:host([state="recording"]) .record, :host([state="paused"]) .record { background: var(--_danger); }
:host([state="recording"]) .record .icon, :host([state="paused"]) .record .icon { border-radius: 2px; }
:host([state="recording"]) .record .icon { animation: vocafuse-pulse 1s infinite; }
:host([state="requesting"]) .record, :host([state="processing"]) .record { background: var(--_muted); }
.pause { border: 2px solid var(--_accent); background: transparent; color: var(--_accent); }
.ring { position: relative; width: var(--_size); height: var(--_size); }
.ring svg { width: 100%; height: 100%; transform: rotate(-90deg); }
.ring circle { fill: none; stroke-width: 4; }
.ring .track { stroke: var(--_track); }
.ring .arc { stroke: var(--_danger); stroke-linecap: round; stroke-dasharray: ${RING.toFixed(2)};
  stroke-dashoffset: 0; transition: stroke-dashoffset .2s linear; }
.remaining { position: absolute; inset: 0; display: grid; place-items: center; font-size: .9rem;
  font-variant-numeric: tabular-nums; font-weight: 600; }
.meter { height: .5rem; border-radius: .25rem; background: var(--_track); overflow: hidden; }
.level { display: block; height: 100%; background: var(--vocafuse-level, #1a7f45); transform: scaleX(0);
  transform-origin: left; transition: transform 50ms linear; }
.progress { width: 100%; height: .5rem; accent-color: var(--_accent); }
p { margin: 0; }
.status { color: var(--_muted); }
/* Empty (the error state: the alert speaks), it takes no room but stays a live region. */
.status:empty { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
.card { position: relative; }
.warning:not(:empty) { padding: .6rem .8rem; border-radius: .5rem; background: #fff4d6; color: #6b4200; }
.error:not(:empty) { padding: .6rem .8rem; border-radius: .5rem; background: #fdecee; color: #8f1521; }
.warning:empty, .error:empty { display: none; }
.player { width: 100%; }
@keyframes vocafuse-pulse { 50% { opacity: .35; } }
@media (prefers-reduced-motion: reduce) {
  :host([state="recording"]) .record .icon { animation: none; }
  .level, .ring .arc { transition: none; }
}`;

let sheet;
function adoptStyle(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
    return;
  }
  const style = document.createElement('style');
  style.textContent = CSS;
  root.prepend(style);
}

export class VocaFuseRecorderElement extends HTMLElement {
  static get observedAttributes() {
    return ['token-endpoint', 'max-duration', 'api-base-url', 'formats'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = TEMPLATE;
    adoptStyle(root);
    this._root = root;
    this._parts = {};
    for (const el of root.querySelectorAll('[part]')) this._parts[el.getAttribute('part')] = el;
    this._sdk = null;
    this._ownSDK = false;
    this._control = null;
    this._attached = false;
    this._stale = false; // attributes or sdk changed while a recording was under way
    this._voicenote = null;
    this._asked = null; // { url }: the source the player is to have
    this._shownUrl = null; // the source the player has
    this._parts.pause.addEventListener('click', () => {
      if (!this._control) return;
      if (this._control.state === 'paused') this._control.resume();
      else this._control.pause();
    });
  }

  /** @returns {VocaFuse} */
  get sdk() {
    if (!this._sdk) this._sdk = sharedSDK(this.getAttribute('token-endpoint'), this.getAttribute('api-base-url'));
    return this._sdk;
  }

  /** @param {VocaFuse} sdk */
  set sdk(sdk) {
    if (sdk === this._sdk) return;
    this._sdk = sdk;
    this._ownSDK = true;
    this._reattach();
  }

  /** @returns {VoiceNoteControl | null} */
  get control() {
    return this._control;
  }

  /** @returns {VocaFuseState} */
  get state() {
    return this._control ? this._control.state : 'idle';
  }

  /** @returns {VoiceNote | null} */
  get voicenote() {
    return this._voicenote;
  }

  connectedCallback() {
    // A page that sets .sdk right after the import (same task) is served before a default
    // instance is made.
    queueMicrotask(() => {
      if (this.isConnected && !this._control) this._attach();
    });
  }

  disconnectedCallback() {
    // Moved within the document (disconnected, then connected again in the same task):
    // the recording goes on.
    queueMicrotask(() => {
      if (!this.isConnected) this._detach();
    });
  }

  attributeChangedCallback(name, before, after) {
    if (before === after) return;
    // An instance made from the old attributes is replaced; one the page set stays.
    if ((name === 'token-endpoint' || name === 'api-base-url') && !this._ownSDK) this._sdk = null;
    this._reattach();
  }

  _options() {
    /** @type {Record<string, any>} the attributes as written: the SDK checks them */
    const options = {};
    const max = this.getAttribute('max-duration');
    // Handed over as written: the SDK says INVALID_OPTION for a value it cannot take.
    if (max !== null) options.maxDuration = max.trim() === '' ? NaN : Number(max);
    const formats = this.getAttribute('formats');
    if (formats !== null) options.formats = formats.split(/[\s,]+/).filter(Boolean);
    for (const callback of Object.keys(EVENTS)) options[callback] = (detail) => this._report(callback, detail);
    return options;
  }

  // What a callback reported: drawn, then dispatched with the very value as the detail.
  _report(callback, detail) {
    this._show(callback, detail);
    this.dispatchEvent(new CustomEvent(EVENTS[callback], { detail, bubbles: true, composed: true }));
  }

  _attach() {
    this._attached = true; // tried, at least: attribute changes now re-attach
    try {
      this._control = this.sdk.addVoiceNote(this._parts.record, this._options());
      this._parts.error.textContent = '';
    } catch (error) {
      // An attribute the SDK refuses (INVALID_OPTION), or no token endpoint.
      this._control = null;
      this._report('onError', error);
      return;
    }
    this._show('onStateChange', this._control.state);
    this.sdk.ready.catch((error) => {
      this._parts.status.textContent = '';
      this._parts.error.textContent = error.userMessage || String(error);
    });
  }

  _detach() {
    if (this._control) this._control.destroy();
    this._control = null;
    this._attached = false;
  }

  _reattach() {
    if (!this.isConnected || !this._attached) return;
    if (this._control && !SETTLED.has(this._control.state)) {
      this._stale = true;
      return;
    }
    this._stale = false;
    this._detach();
    this._attach();
  }

  // Draws what a callback reported.
  _show(callback, value) {
    const p = this._parts;
    switch (callback) {
      case 'onStateChange': {
        this.setAttribute('state', value);
        p.status.textContent = STATUS[value] ?? value;
        p.record.querySelector('.label').textContent = LIVE.has(value) ? 'Stop' : value === 'requesting' ? 'Cancel' : 'Record';
        p.pause.textContent = value === 'paused' ? 'Resume' : 'Pause';
        // Hiding a focused button would drop keyboard focus on the body.
        if (!LIVE.has(value) && this._root.activeElement === p.pause) p.record.focus();
        p.pause.hidden = !LIVE.has(value);
        p.ring.hidden = !LIVE.has(value);
        if (!LIVE.has(value)) p.meter.hidden = true;
        if (value === 'paused' || !LIVE.has(value)) this._level(0);
        p.progress.hidden = value !== 'uploading';
        // A recording delivered after its failure was shown (the outbox kept trying):
        // the failure is over.
        if (value === 'uploaded') p.error.textContent = '';
        if (value === 'requesting') {
          this._warnedEnd = false;
          p.error.textContent = '';
          p.warning.textContent = '';
          p.progress.value = 0;
          this._countdown(1);
        }
        if (SETTLED.has(value) && this._stale) queueMicrotask(() => this._reattach());
        break;
      }
      case 'onStart':
        // Known only once recording: some browsers give no running AudioContext to measure with.
        p.meter.hidden = !/** @type {VoiceNoteControl} the control reporting */ (this._control).canMeasureLevel;
        break;
      case 'onProgress': {
        const left = Math.ceil(value.remaining);
        p.remaining.textContent = String(left);
        // The ring is not read out; the status says once when the end is near.
        if (left <= 10 && value.elapsed + value.remaining > 10 && !this._warnedEnd) {
          this._warnedEnd = true;
          p.status.textContent = `Recording, ${left} second${left === 1 ? '' : 's'} left`;
        }
        const total = value.elapsed + value.remaining;
        this._countdown(total > 0 ? value.remaining / total : 0);
        break;
      }
      case 'onLevel':
        this._level(value);
        break;
      case 'onWarning':
        p.warning.textContent = value.userMessage;
        break;
      case 'onStop':
        // Played from the browser at once; replaced by the stored copy once it is uploaded.
        this._play(URL.createObjectURL(value.blob), false);
        break;
      case 'onUploadProgress':
        p.progress.value = value.percent;
        break;
      case 'onUploaded':
        this._voicenote = value;
        // Object storage answers without a voice note: the recording plays from the browser.
        if (value.audio_url) this._play(value.audio_url, true);
        break;
      case 'onError':
        p.error.textContent = value.userMessage || value.message;
        break;
      default:
    }
  }

  // The player's source becomes url once the player has settled: its source loaded, failed
  // or left waiting (WebKitGTK's media player can freeze the page when its source is
  // replaced while it loads) and, for the recording's stored copy, not playing, so
  // that a person listening to the preview is not cut off. Only the last url asked for is
  // set; a preview's object URL is revoked once the player no longer has it.
  _play(url, sameRecording) {
    const player = this._parts.player;
    const asked = { url };
    if (this._asked && this._asked.url !== this._shownUrl) revokePreview(this._asked.url);
    this._asked = asked;
    const settled = () => !player.getAttribute('src') || player.readyState >= HTMLMediaElement.HAVE_METADATA
      || player.error !== null || player.networkState === HTMLMediaElement.NETWORK_IDLE;
    const show = () => {
      if (this._asked !== asked) return true; // a later source: it is set in its turn
      if (!settled() || (sameRecording && !player.paused)) return false;
      player.src = url;
      player.hidden = false;
      revokePreview(this._shownUrl);
      this._shownUrl = url;
      return true;
    };
    if (show()) return;
    const retry = () => {
      if (show()) for (const type of SETTLING) player.removeEventListener(type, retry);
    };
    for (const type of SETTLING) player.addEventListener(type, retry);
  }

  _level(level) {
    // A -60..0 dBFS scale: speech fills the bar and silence (the SDK's -60 dBFS) reads as empty.
    const db = level > 0 ? 20 * Math.log10(level) : -Infinity;
    const fill = Math.min(1, Math.max(0, (db + 60) / 60));
    this._parts.level.style.transform = `scaleX(${fill})`;
    this._parts.meter.setAttribute('aria-valuenow', String(Math.round(fill * 100)));
  }

  _countdown(left) {
    this._parts.ring.querySelector('.arc').style.strokeDashoffset = String(RING * (1 - left));
  }
}

if (!customElements.get('vocafuse-recorder')) customElements.define('vocafuse-recorder', VocaFuseRecorderElement);

// Types of <vocafuse-recorder>, the drop-in element (import '@vocafuse/recorder/element').
import type {
  Recording, VocaFuse, VocaFuseError, VocaFuseState, VoiceNote, VoiceNoteControl,
} from './vocafuse.js';

/** What each `vocafuse-*` DOM event carries in `detail`: the same value the callback gets. */
export interface VocaFuseRecorderEventMap {
  'vocafuse-statechange': CustomEvent<VocaFuseState>;
  /** onStart has no argument: detail is null. */
  'vocafuse-start': CustomEvent<null>;
  'vocafuse-progress': CustomEvent<{ elapsed: number; remaining: number }>;
  'vocafuse-level': CustomEvent<number>;
  'vocafuse-warning': CustomEvent<VocaFuseError>;
  'vocafuse-stop': CustomEvent<Recording>;
  'vocafuse-upload-progress': CustomEvent<{ loaded: number; total: number; percent: number }>;
  'vocafuse-uploaded': CustomEvent<VoiceNote>;
  'vocafuse-error': CustomEvent<VocaFuseError>;
}

/**
 * `<vocafuse-recorder token-endpoint="/api/token" max-duration="60">`: a record/stop button,
 * pause, a countdown ring, a level meter, upload progress, the error's userMessage and the
 * stored note's playback, on `addVoiceNote`. Attributes: `token-endpoint`, `max-duration`
 * (seconds, default 60), `api-base-url`, `formats` (space-separated, e.g. "ogg webm wav").
 * Events bubble and cross shadow roots. The host's `state` attribute mirrors the state.
 * Parts: card, record, pause, ring, remaining, meter, level, status, warning, progress,
 * error, player. Custom properties: --vocafuse-accent, --vocafuse-danger, --vocafuse-text,
 * --vocafuse-muted, --vocafuse-surface, --vocafuse-track, --vocafuse-level, --vocafuse-radius,
 * --vocafuse-size.
 */
export declare class VocaFuseRecorderElement extends HTMLElement {
  /**
   * The VocaFuse instance it records with. By default one per token endpoint on the page,
   * made at connection; set your own (with SDK-level callbacks) before, or while idle.
   */
  sdk: VocaFuse;
  /** The control of the current attachment; null while disconnected. */
  readonly control: VoiceNoteControl | null;
  /** The control's state; 'idle' before the first recording. */
  readonly state: VocaFuseState;
  /** The last stored note, or null. */
  readonly voicenote: VoiceNote | null;
  addEventListener<K extends keyof VocaFuseRecorderEventMap>(
    type: K, listener: (this: VocaFuseRecorderElement, ev: VocaFuseRecorderEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof VocaFuseRecorderEventMap>(
    type: K, listener: (this: VocaFuseRecorderElement, ev: VocaFuseRecorderEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'vocafuse-recorder': VocaFuseRecorderElement;
  }
}

// Type declarations of the VocaFuse recorder SDK (see the README for the full contract).

export type VocaFuseState =
  | 'idle' | 'requesting' | 'recording' | 'paused' | 'processing' | 'uploading' | 'uploaded' | 'error';

export type VocaFuseFormat = 'webm' | 'ogg' | 'wav';

export type VocaFuseErrorCode =
  | 'PERMISSION_DENIED' | 'NOT_SUPPORTED' | 'DURATION_EXCEEDED' | 'NETWORK_ERROR'
  | 'AUTHENTICATION_FAILED' | 'DEVICE_NOT_FOUND' | 'DEVICE_BUSY' | 'DEVICE_LOST' | 'INVALID_OPTION'
  | 'INTERNAL_ERROR' | 'API_ERROR' | 'STORAGE_UNAVAILABLE'
  | 'INVALID_TOKEN' | 'TOKEN_EXPIRED' | 'INSUFFICIENT_PERMISSIONS'
  | 'INVALID_REQUEST_FORMAT' | 'MISSING_REQUIRED_FIELD' | 'INVALID_FIELD_VALUE'
  | 'FILE_SIZE_EXCEEDED' | 'UNSUPPORTED_AUDIO_FORMAT' | 'RECORDING_TOO_LONG'
  | 'TRANSCRIPTION_FAILED' | 'AUDIO_PROCESSING_FAILED' | 'RATE_LIMIT_EXCEEDED'
  | 'INTERNAL_SERVER_ERROR' | 'SERVICE_UNAVAILABLE' | 'WEBHOOK_ALREADY_EXISTS'
  | 'RECORDING_NOT_FOUND' | 'TRANSCRIPTION_NOT_FOUND' | 'WEBHOOK_NOT_FOUND'
  /** A warning (delivered to onWarning, never to onError). */
  | 'SILENT_INPUT';

export declare class VocaFuseError extends Error {
  /**
   * The SDK makes these; a page may too (in a test, say). A missing code is INTERNAL_ERROR;
   * missing texts come from the catalogue, with `messages` overriding userMessage by code.
   */
  constructor(
    fields?: Partial<Pick<VocaFuseError, 'code' | 'message' | 'userMessage' | 'details' | 'timestamp' | 'retryable' | 'apiCode' | 'status'>>,
    messages?: VocaFuseOptions['messages'],
  );
  readonly name: 'VocaFuseError';
  /** One of the catalogue's codes. */
  readonly code: VocaFuseErrorCode | string;
  /** Technical message, for logs. */
  readonly message: string;
  /** A message fit to show an end user (overridable through `messages`). */
  readonly userMessage: string;
  /** Context, e.g. `{ max_duration, actual_duration }` for DURATION_EXCEEDED. */
  readonly details?: Record<string, unknown>;
  /** Milliseconds since the Unix epoch, as `Date.now()` gives. */
  readonly timestamp: number;
  /** Whether trying again may succeed. */
  readonly retryable: boolean;
  /** The API's numeric code, where the error came from the API. */
  readonly apiCode?: number;
  /** The HTTP status, where there was a response. */
  readonly status?: number;
}

/** What a token endpoint or getToken may answer: any of the shapes in use. */
export type TokenAnswer =
  | { token: string; expires_in?: number }
  | { success: true; data: { id_token: string; token_type?: string; expires_in?: number } }
  | { data: { jwt_token: string; expires_in?: number } };

export interface VocaFuseOptions {
  /**
   * URL on the page's own backend. The SDK sends POST (credentials same-origin, JSON
   * `{ "scopes": ["voice-api.upload"] }`) and reads `{ token, expires_in }`,
   * `{ success, data: { id_token, expires_in } }` or `{ data: { jwt_token, expires_in } }`.
   */
  tokenEndpoint?: string;
  /** Alternative to tokenEndpoint. */
  getToken?: () => Promise<string | TokenAnswer> | string | TokenAnswer;
  /**
   * The VocaFuse API's base URL, version prefix included: default `<origin>/v1` (the local
   * API); `'https://api.vocafuse.com'` for the hosted one. Uploads go to `{apiBaseUrl}/upload`.
   */
  apiBaseUrl?: string;
  /** Replaces the default userMessage of any code. */
  messages?: Partial<Record<VocaFuseErrorCode | string, string>>;
  /**
   * Default true: a recording waits in IndexedDB until the server has confirmed it, and
   * is retried at start, on `online` and with backoff. false: in memory only.
   */
  persist?: boolean;
  /** Where vocafuse.wasm is fetched from; default beside the shim. */
  wasmUrl?: string;
  /** A recording rebuilt from the journal of a page that died while recording; it uploads like any other. */
  onRecovered?: (recording: Recording & { recovered: true }) => void;
  /** Every recording the outbox delivers, whichever page load made it. */
  onUploaded?: (voicenote: VoiceNote) => void;
  /** The instance's own errors: a journal that could not be rebuilt (AUDIO_PROCESSING_FAILED), an outbox that cannot be read at load (STORAGE_UNAVAILABLE). */
  onError?: (error: VocaFuseError) => void;
}

export interface Recording {
  /** The UUID (v7) the upload will use. */
  id: string;
  blob: Blob;
  mimeType: string;
  format: VocaFuseFormat;
  /** Seconds. */
  duration: number;
  /** Bytes. */
  size: number;
  /** The loudest level of the whole recording, linear 0..1; null where it could not be measured. */
  peakLevel: number | null;
}

/**
 * The voice note onUploaded gets: the server's (`id` is its voicenote_id), with the
 * recording's UUID as `recordingId`. Where the server's last answer carried none (object
 * storage), only what the SDK knows: id, recordingId, status, format, duration,
 * file_size, created_at.
 */
export interface VoiceNote {
  id: string;
  recordingId: string;
  status: 'processing' | 'transcribed' | 'failed';
  format: VocaFuseFormat;
  duration: number;
  file_size: number;
  /** The local API's name for file_size. */
  size?: number;
  created_at: string;
  updated_at?: string;
  identity?: string;
  mime_type?: string;
  metadata?: Record<string, unknown>;
  audio_url?: string;
}

export interface VoiceNoteOptions {
  /** Seconds, 0 < maxDuration ≤ 60; default 60. */
  maxDuration?: number;
  /** Preference order; default ['ogg', 'webm', 'wav'] (Ogg in Firefox, WebM elsewhere). */
  formats?: VocaFuseFormat[];
  /** Upload as soon as recording stops; default true. */
  autoUpload?: boolean;
  metadata?: Record<string, unknown>;
  /** The microphone to use (`exact`), from VocaFuse.devices(); one that matches nothing is DEVICE_NOT_FOUND. */
  deviceId?: string;
  onStart?: () => void;
  /** Recorded seconds only: not called while paused. */
  onProgress?: (progress: { elapsed: number; remaining: number }) => void;
  /**
   * The peak of the live input, linear 0..1, about 20 times a second while recording; once 0
   * on pause. Never called where the level cannot be measured (see canMeasureLevel).
   */
  onLevel?: (level: number) => void;
  /** Problems that do not stop the recording (SILENT_INPUT); they never reach onError. */
  onWarning?: (warning: VocaFuseError) => void;
  onStop?: (recording: Recording) => void;
  onUploadProgress?: (progress: { loaded: number; total: number; percent: number }) => void;
  onUploaded?: (voicenote: VoiceNote) => void;
  onError?: (error: VocaFuseError) => void;
  onStateChange?: (state: VocaFuseState) => void;
}

export interface VoiceNoteControl {
  readonly state: VocaFuseState;
  /**
   * Whether onLevel can be called (false where the browser gives no running AudioContext);
   * meaningful once a recording has started.
   */
  readonly canMeasureLevel: boolean;
  start(): void;
  stop(): void;
  /** Pause the recording under way; does nothing in another state. */
  pause(): void;
  /** Resume a paused recording; does nothing in another state. */
  resume(): void;
  /** Discard the recording under way: no onStop, no upload. */
  cancel(): void;
  /** Detach from the element and release everything. */
  destroy(): void;
}

export declare class VocaFuse {
  constructor(options: VocaFuseOptions);
  /** Resolves when the recorder runs; rejects with NOT_SUPPORTED or NETWORK_ERROR. */
  readonly ready: Promise<void>;
  /** Whether this browser can record, without asking for the microphone. */
  static isSupported(): boolean;
  /**
   * What the Go side holds, summed over the page's recorders, for hunting leaks: it
   * returns to the same figures after controls are destroyed and instances dropped.
   * `recovering` counts the instances whose load-time journal recovery has not ended.
   */
  static diagnostics(): Promise<{ goroutines: number; sdks: number; controls: number; recovering: number; wasmMemory: number }>;
  /**
   * The audio inputs, for the deviceId option; labels are empty until the page has had the
   * microphone once. Rejects with NOT_SUPPORTED where enumerateDevices is missing.
   */
  static devices(): Promise<Array<{ deviceId: string; label: string }>>;
  addVoiceNote(target: string | Element, options?: VoiceNoteOptions): VoiceNoteControl;
  /**
   * Checks a file's bytes (webm, ogg or wav; at most 25 MB and 60 s) and uploads it.
   * Rejects with a VocaFuseError before any request when the API would refuse it.
   */
  upload(file: Blob, options?: {
    id?: string;
    metadata?: Record<string, unknown>;
    onUploadProgress?: (progress: { loaded: number; total: number; percent: number }) => void;
  }): Promise<VoiceNote>;
  /** The recordings not yet confirmed by the server, this page's and earlier loads'. */
  pending(): Promise<PendingRecording[]>;
  /** Tries every pending recording now, held ones too; resolves to what is still pending once each has had an attempt begun after the call. */
  retryPending(): Promise<PendingRecording[]>;
  /** Removes a pending recording without uploading it; resolves to whether there was one. */
  discardPending(id: string): Promise<boolean>;
}

export interface PendingRecording {
  id: string;
  format: VocaFuseFormat;
  size: number;
  /** Seconds. */
  duration: number;
  /** Upload attempts that have failed so far. */
  attempts: number;
  /** Refused by the API (a 409, another 4xx): not retried until retryPending(). */
  held: boolean;
  /** Rebuilt from the journal of a page that died while recording. */
  recovered: boolean;
  /** Whose it is: 'other' waits for a token of the identity that recorded it. */
  owner: 'self' | 'other';
  lastError: VocaFuseError | null;
}

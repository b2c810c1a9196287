// The module build.mjs generates from what wasm/cmd/shimdata prints (the Go packages): the
// error catalogue and the limits the option checks enforce, so each has one source.

/** code → its texts, as internal/catalog has them. */
export declare const catalog: Record<string, { message: string; userMessage: string; retryable: boolean; apiCode?: number }>;

export declare const limits: {
  /** Seconds: the longest recording (wasm/recorder MaxDuration). */
  maxDuration: number;
  /** The formats the page may name (internal/audio SupportedFormats). */
  formats: string[];
  /** The MediaRecorder types the recorder asks for, over every format (wasm/recorder). */
  mediaRecorderTypes: string[];
};

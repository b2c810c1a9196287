// Package catalog is the one source of every error code the SDK and the local API
// server speak: its technical and user-facing messages, HTTP status, retry advice and
// detail keys, the mapping from API codes to the codes the SDK surfaces, and the parsing
// of the API's error envelope.
//
// The API codes, messages and detail keys follow the VocaFuse API error reference
// (docs/vocafuse-api-errors.txt); a test checks the table against it. The package is
// pure Go and small on purpose: it is compiled into the browser's WebAssembly binary.
package catalog

import "slices"

// Code is an error's string code, as JavaScript sees it in VocaFuseError.code.
type Code string

// Client-side codes (docs/sdk.md), plus three of ours.
const (
	PermissionDenied     Code = "PERMISSION_DENIED"
	NotSupported         Code = "NOT_SUPPORTED"
	DurationExceeded     Code = "DURATION_EXCEEDED"
	NetworkError         Code = "NETWORK_ERROR"
	AuthenticationFailed Code = "AUTHENTICATION_FAILED"
	DeviceNotFound       Code = "DEVICE_NOT_FOUND"
	DeviceBusy           Code = "DEVICE_BUSY"
	InvalidOption        Code = "INVALID_OPTION"
	InternalError        Code = "INTERNAL_ERROR" // the SDK itself failed unexpectedly (a recovered panic, the Go program ending)
	APIError             Code = "API_ERROR"      // an API answer with a numeric code the catalogue does not know
	// StorageUnavailable: IndexedDB cannot be used (private mode, quota, disabled); the
	// outbox keeps recordings in memory, so they survive failed uploads but not a reload.
	StorageUnavailable Code = "STORAGE_UNAVAILABLE"
	// DeviceLost: the microphone went away while recording; what was recorded is kept.
	DeviceLost Code = "DEVICE_LOST"
	// SilentInput is a warning (onWarning), not an error: the recording goes on.
	SilentInput Code = "SILENT_INPUT"
)

// API codes by their reference names.
const (
	InvalidToken            Code = "INVALID_TOKEN"            // 1001
	TokenExpired            Code = "TOKEN_EXPIRED"            // 1002
	InsufficientPermissions Code = "INSUFFICIENT_PERMISSIONS" // 1003: this project's addition for the reference's 403 row
	InvalidRequestFormat    Code = "INVALID_REQUEST_FORMAT"   // 2001
	MissingRequiredField    Code = "MISSING_REQUIRED_FIELD"   // 2002
	InvalidFieldValue       Code = "INVALID_FIELD_VALUE"      // 2003
	FileSizeExceeded        Code = "FILE_SIZE_EXCEEDED"       // 2004
	UnsupportedAudioFormat  Code = "UNSUPPORTED_AUDIO_FORMAT" // 2005
	RecordingTooLong        Code = "RECORDING_TOO_LONG"       // 2006: surfaced by the SDK as DURATION_EXCEEDED
	TranscriptionFailed     Code = "TRANSCRIPTION_FAILED"     // 3003
	AudioProcessingFailed   Code = "AUDIO_PROCESSING_FAILED"  // 3004
	RateLimitExceeded       Code = "RATE_LIMIT_EXCEEDED"      // 4003
	InternalServerError     Code = "INTERNAL_SERVER_ERROR"    // 5001
	ServiceUnavailable      Code = "SERVICE_UNAVAILABLE"      // 5002
	WebhookAlreadyExists    Code = "WEBHOOK_ALREADY_EXISTS"   // 5005
	RecordingNotFound       Code = "RECORDING_NOT_FOUND"      // 6001
	TranscriptionNotFound   Code = "TRANSCRIPTION_NOT_FOUND"  // 6002
	WebhookNotFound         Code = "WEBHOOK_NOT_FOUND"        // 6003
)

// Entry is everything the catalogue knows about one code.
type Entry struct {
	Code        Code
	APICode     int      // 0 for client-only codes
	Message     string   // technical message; for API codes exactly the reference's "message"
	HTTPStatus  int      // 0 for client-only codes
	UserMessage string   // default text for an end user: short, plain, says what to do
	Retryable   bool     // whether trying again (possibly after a token refresh or a wait) may succeed
	DetailKeys  []string // keys of `details`, in the reference's order; nil where there are none
	ClientCode  Code     // the code the SDK surfaces for this entry (left empty in the table where it is Code)
	Solution    string   // the reference's "Solution:" line for API codes
}

// entries is the catalogue: client codes first, then API codes ascending.
var entries = []Entry{
	{Code: PermissionDenied, Message: "Microphone access was denied",
		UserMessage: "Please allow microphone access to record."},
	{Code: NotSupported, Message: "Audio recording is not supported in this browser",
		UserMessage: "This browser can't record audio here. Please use an up-to-date browser on a secure (https) page."},
	{Code: DurationExceeded, Message: "Recording exceeds maximum duration",
		UserMessage: "Recording is too long. The maximum is 60 seconds.",
		DetailKeys:  []string{"max_duration", "actual_duration"}},
	{Code: NetworkError, Message: "The network request failed", Retryable: true,
		UserMessage: "Connection problem. Please check your internet connection and try again."},
	// Not retryable: the SDK has already refreshed the token once; only new credentials help.
	{Code: AuthenticationFailed, Message: "Could not obtain a valid token",
		UserMessage: "Your session has expired. Please refresh the page."},
	{Code: DeviceNotFound, Message: "No microphone was found",
		UserMessage: "No microphone was found. Please connect one and try again."},
	// Retryable: another application may release the microphone.
	{Code: DeviceBusy, Message: "The microphone could not be opened", Retryable: true,
		UserMessage: "The microphone can't be used right now. Close other apps that may be using it and try again."},
	{Code: InvalidOption, Message: "Invalid option",
		UserMessage: "Recording isn't set up correctly on this page. Please contact the site owner.",
		DetailKeys:  []string{"option", "reason"}}, // never the value: it may be a secret
	{Code: InternalError, Message: "Internal SDK error",
		UserMessage: "Something went wrong. Please reload the page and try again."},
	{Code: APIError, Message: "Unrecognised API error",
		UserMessage: "Something went wrong. Please try again."},
	{Code: StorageUnavailable, Message: "Recordings cannot be saved in this browser's storage",
		UserMessage: "Recordings can't be saved on this device. Keep this page open until your recording is sent.",
		DetailKeys:  []string{"reason"}},
	// Retryable: another microphone, or the same one plugged back, records again.
	{Code: DeviceLost, Message: "The microphone was lost while recording", Retryable: true,
		UserMessage: "The microphone was disconnected. What you recorded has been kept.",
		DetailKeys:  []string{"recorded"}},
	{Code: SilentInput, Message: "The microphone is delivering silence",
		UserMessage: "We can't hear you. Check that your microphone is on and not muted.",
		DetailKeys:  []string{"seconds"}},

	// 1001 and 1002 are retryable because a token refresh may fix them.
	{Code: InvalidToken, APICode: 1001, HTTPStatus: 401, Retryable: true,
		Message:     "Invalid or malformed token",
		UserMessage: "Your session is no longer valid. Please refresh the page.",
		Solution:    "Ensure you're passing a valid JWT token from your backend"},
	{Code: TokenExpired, APICode: 1002, HTTPStatus: 401, Retryable: true,
		Message:     "Token has expired",
		UserMessage: "Your session has expired. Please refresh the page.",
		Solution:    "Request a new token from your backend token endpoint"},
	{Code: InsufficientPermissions, APICode: 1003, HTTPStatus: 403,
		Message:     "Insufficient permissions",
		UserMessage: "You don't have permission to do this. Please contact the site owner if you need access."},
	{Code: InvalidRequestFormat, APICode: 2001, HTTPStatus: 400,
		Message:     "Request body is malformed",
		UserMessage: "Something went wrong sending your request. Please reload the page and try again.",
		Solution:    "Verify your request body is valid JSON"},
	{Code: MissingRequiredField, APICode: 2002, HTTPStatus: 400,
		Message:     "Required field missing",
		UserMessage: "Something was missing from your request. Please reload the page and try again.",
		DetailKeys:  []string{"field"},
		Solution:    "Check API documentation for required fields"},
	{Code: InvalidFieldValue, APICode: 2003, HTTPStatus: 400,
		Message:     "Invalid field value",
		UserMessage: "Something in your request wasn't valid. Please reload the page and try again.",
		DetailKeys:  []string{"field", "value", "reason"},
		Solution:    "Verify parameter values match the API specification"},
	{Code: FileSizeExceeded, APICode: 2004, HTTPStatus: 400,
		Message:     "File size exceeds maximum limit",
		UserMessage: "This file is too large. The maximum is 25 MB.",
		DetailKeys:  []string{"max_size", "actual_size"},
		Solution:    "Ensure audio files are under 25MB"},
	{Code: UnsupportedAudioFormat, APICode: 2005, HTTPStatus: 400,
		Message:     "Audio format not supported",
		UserMessage: "This audio format isn't supported. Please use WebM, Ogg or WAV.",
		DetailKeys:  []string{"format", "supported_formats"},
		Solution:    "Convert audio to a supported format (webm, wav, or ogg)"},
	{Code: RecordingTooLong, APICode: 2006, HTTPStatus: 400, ClientCode: DurationExceeded,
		Message:     "Recording exceeds maximum duration",
		UserMessage: "Recording is too long. The maximum is 60 seconds.",
		DetailKeys:  []string{"max_duration", "actual_duration"},
		Solution:    "Keep voice notes under 60 seconds"},
	{Code: TranscriptionFailed, APICode: 3003, HTTPStatus: 422,
		Message:     "Failed to transcribe audio",
		UserMessage: "We couldn't transcribe this recording. Please try recording again somewhere quieter.",
		DetailKeys:  []string{"reason"},
		Solution:    "Ensure audio quality is sufficient. Try recording in a quieter environment."},
	{Code: AudioProcessingFailed, APICode: 3004, HTTPStatus: 422,
		Message:     "Failed to process audio file",
		UserMessage: "We couldn't process this audio; the file may be damaged. Please record it again.",
		Solution:    "Verify the audio file is valid and not corrupted"},
	{Code: RateLimitExceeded, APICode: 4003, HTTPStatus: 429, Retryable: true,
		Message:     "Rate limit exceeded",
		UserMessage: "Too many requests. Please wait a moment and try again.",
		DetailKeys:  []string{"limit", "window", "retry_after"},
		Solution:    "Implement exponential backoff and retry after the specified time"},
	{Code: InternalServerError, APICode: 5001, HTTPStatus: 500, Retryable: true,
		Message:     "Internal server error",
		UserMessage: "Something went wrong on our side. Please try again.",
		Solution:    "Retry the request. If the error persists, contact support."},
	{Code: ServiceUnavailable, APICode: 5002, HTTPStatus: 503, Retryable: true,
		Message:     "Service temporarily unavailable",
		UserMessage: "The service is temporarily unavailable. Please try again in a moment.",
		Solution:    "Retry the request after a short delay"},
	{Code: WebhookAlreadyExists, APICode: 5005, HTTPStatus: 409,
		Message:     "Webhook already exists for this URL",
		UserMessage: "This webhook is already registered. Use the existing one or delete it first.",
		DetailKeys:  []string{"url"},
		Solution:    "Use the existing webhook or delete it first before recreating"},
	{Code: RecordingNotFound, APICode: 6001, HTTPStatus: 404,
		Message:     "Voice note not found",
		UserMessage: "This recording could not be found.",
		DetailKeys:  []string{"voicenote_id"},
		Solution:    "Verify the voice note ID is correct"},
	{Code: TranscriptionNotFound, APICode: 6002, HTTPStatus: 404,
		Message:     "Transcription not found",
		UserMessage: "The transcription isn't available yet. Please check again later.",
		DetailKeys:  []string{"voicenote_id"},
		Solution:    "Wait for transcription to complete or check if it failed"},
	{Code: WebhookNotFound, APICode: 6003, HTTPStatus: 404,
		Message:     "Webhook not found",
		UserMessage: "This webhook could not be found.",
		DetailKeys:  []string{"webhook_id"},
		Solution:    "Verify the webhook ID is correct"},
}

// clone returns e with its own DetailKeys, so callers cannot change the table.
func clone(e Entry) Entry {
	e.DetailKeys = slices.Clone(e.DetailKeys)
	if e.ClientCode == "" {
		e.ClientCode = e.Code
	}
	return e
}

// Lookup returns the entry of a string code.
func Lookup(code Code) (Entry, bool) {
	for _, e := range entries {
		if e.Code == code {
			return clone(e), true
		}
	}
	return Entry{}, false
}

// ByAPICode returns the entry of an API's numeric code.
func ByAPICode(apiCode int) (Entry, bool) {
	if apiCode == 0 {
		return Entry{}, false // 0 marks client-only entries
	}
	for _, e := range entries {
		if e.APICode == apiCode {
			return clone(e), true
		}
	}
	return Entry{}, false
}

// Entries returns a copy of the whole catalogue: client codes first, then API codes ascending.
func Entries() []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = clone(e)
	}
	return out
}

// ClientCodeFor returns the code the SDK surfaces for an API code: its own name,
// DURATION_EXCEEDED for 2006, API_ERROR for a code the catalogue does not know.
func ClientCodeFor(apiCode int) Code {
	if e, ok := ByAPICode(apiCode); ok {
		return e.ClientCode
	}
	return APIError
}

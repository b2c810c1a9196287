package vocafuse

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The API's error codes, as docs/vocafuse-api-errors.txt names them. They are what
// [Error.Code] holds for an answer of the API.
const (
	CodeInvalidToken            = 1001 // INVALID_TOKEN: the token, or the API key and secret, are missing or wrong
	CodeTokenExpired            = 1002 // TOKEN_EXPIRED
	CodeInsufficientPermissions = 1003 // INSUFFICIENT_PERMISSIONS: the local API's addition for the 403 row
	CodeInvalidRequestFormat    = 2001 // INVALID_REQUEST_FORMAT: the body is not valid JSON
	CodeMissingRequiredField    = 2002 // MISSING_REQUIRED_FIELD: Details["field"]
	CodeInvalidFieldValue       = 2003 // INVALID_FIELD_VALUE: Details["field"], ["value"], ["reason"]
	CodeFileSizeExceeded        = 2004 // FILE_SIZE_EXCEEDED
	CodeUnsupportedAudioFormat  = 2005 // UNSUPPORTED_AUDIO_FORMAT
	CodeRecordingTooLong        = 2006 // RECORDING_TOO_LONG
	CodeTranscriptionFailed     = 3003 // TRANSCRIPTION_FAILED
	CodeAudioProcessingFailed   = 3004 // AUDIO_PROCESSING_FAILED
	CodeRateLimitExceeded       = 4003 // RATE_LIMIT_EXCEEDED: see [Error.RetryAfter]
	CodeInternalServerError     = 5001 // INTERNAL_SERVER_ERROR
	CodeServiceUnavailable      = 5002 // SERVICE_UNAVAILABLE
	CodeWebhookAlreadyExists    = 5005 // WEBHOOK_ALREADY_EXISTS: Details["url"]
	CodeRecordingNotFound       = 6001 // RECORDING_NOT_FOUND: Details["voicenote_id"]
	CodeTranscriptionNotFound   = 6002 // TRANSCRIPTION_NOT_FOUND: Details["voicenote_id"]
	CodeWebhookNotFound         = 6003 // WEBHOOK_NOT_FOUND: Details["webhook_id"]
)

// codeNames are the reference's names of the codes.
var codeNames = map[int]string{
	CodeInvalidToken:            "INVALID_TOKEN",
	CodeTokenExpired:            "TOKEN_EXPIRED",
	CodeInsufficientPermissions: "INSUFFICIENT_PERMISSIONS",
	CodeInvalidRequestFormat:    "INVALID_REQUEST_FORMAT",
	CodeMissingRequiredField:    "MISSING_REQUIRED_FIELD",
	CodeInvalidFieldValue:       "INVALID_FIELD_VALUE",
	CodeFileSizeExceeded:        "FILE_SIZE_EXCEEDED",
	CodeUnsupportedAudioFormat:  "UNSUPPORTED_AUDIO_FORMAT",
	CodeRecordingTooLong:        "RECORDING_TOO_LONG",
	CodeTranscriptionFailed:     "TRANSCRIPTION_FAILED",
	CodeAudioProcessingFailed:   "AUDIO_PROCESSING_FAILED",
	CodeRateLimitExceeded:       "RATE_LIMIT_EXCEEDED",
	CodeInternalServerError:     "INTERNAL_SERVER_ERROR",
	CodeServiceUnavailable:      "SERVICE_UNAVAILABLE",
	CodeWebhookAlreadyExists:    "WEBHOOK_ALREADY_EXISTS",
	CodeRecordingNotFound:       "RECORDING_NOT_FOUND",
	CodeTranscriptionNotFound:   "TRANSCRIPTION_NOT_FOUND",
	CodeWebhookNotFound:         "WEBHOOK_NOT_FOUND",
}

// CodeName returns the reference's name of an API error code ("RECORDING_NOT_FOUND"
// for 6001), or "" for a code it does not list.
func CodeName(code int) string { return codeNames[code] }

// Sentinels for errors.Is, one per category of the reference (the thousands of the
// code), plus the failures that never reached the API. An *Error matches the
// sentinel of its category:
//
//	if errors.Is(err, vocafuse.ErrNotFound) { … }     // 6001, 6002, 6003
//	if errors.Is(err, vocafuse.ErrRateLimit) { … }    // 4003
//
// An answer that is not the API's envelope (an HTML page from a proxy, an empty body)
// matches the category of its HTTP status: ErrServer for 5xx, ErrAuthentication for
// 401 and 403, ErrNotFound for 404, ErrRateLimit for 429, ErrValidation for other 4xx.
var (
	ErrAuthentication = errors.New("vocafuse: authentication error") // 1xxx: 1001, 1002, 1003
	ErrValidation     = errors.New("vocafuse: validation error")     // 2xxx
	ErrProcessing     = errors.New("vocafuse: processing error")     // 3xxx
	ErrRateLimit      = errors.New("vocafuse: rate limit exceeded")  // 4xxx: 4003
	ErrServer         = errors.New("vocafuse: server error")         // 5xxx, including 5005
	// ErrNotFound matches 6xxx, and any other answer with HTTP status 404 besides its
	// code's own category: an API key that does not exist is 404 with 2003 (the
	// reference has no code for it), which matches ErrNotFound and ErrValidation.
	ErrNotFound = errors.New("vocafuse: not found")
	// ErrConflict matches any answer with HTTP status 409: 5005 WEBHOOK_ALREADY_EXISTS,
	// and 2003 for a voice note id reused for other bytes. It is matched besides the
	// code's own category.
	ErrConflict = errors.New("vocafuse: conflict")
	// ErrNetwork matches a request that got no answer: the connection was refused or
	// cut, or the body of the answer could not be read. Error.Err holds the cause.
	ErrNetwork = errors.New("vocafuse: network error")
)

// Error is every failure of a call to the API: an error answer of the API (Code is
// its code), an answer that is not the API's (Code is 0 and StatusCode tells what it
// was), or no answer at all (StatusCode is 0; it matches ErrNetwork).
//
// Use errors.As to reach it and errors.Is with the package's sentinels to test its
// category:
//
//	var apiErr *vocafuse.Error
//	if errors.As(err, &apiErr) {
//		log.Printf("API error %d: %s (request %s)", apiErr.Code, apiErr.Message, apiErr.RequestID)
//	}
type Error struct {
	Code       int            // the API's code (6001), 0 where the answer had none
	Name       string         // the reference's name ("RECORDING_NOT_FOUND"), "" for an unknown code
	Message    string         // the API's message ("Voice note not found"), or what went wrong
	Details    map[string]any // the envelope's details, nil where there were none
	StatusCode int            // the HTTP status; 0 when no answer came
	RequestID  string         // the answer's X-Request-Id, for support
	// RetryAfter is how long to wait before trying again, from details.retry_after or
	// the Retry-After header: always set for 4003, and for 5002 when the server knows.
	RetryAfter time.Duration
	Method     string // the request: "GET"
	Path       string // the request's path: "/v1/voicenotes/…"
	Err        error  // the cause of a network or decoding failure, nil for an API answer
}

// Error says what happened in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vocafuse: ")
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "%d", e.Code)
		if e.Name != "" {
			b.WriteString(" " + e.Name)
		}
		b.WriteString(": " + e.Message)
	case e.Message != "":
		b.WriteString(e.Message)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
		if e.RequestID != "" {
			b.WriteString(", request " + e.RequestID)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause of a network or decoding failure.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's category (see ErrAuthentication and the others).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrNotFound:
		if e.StatusCode == http.StatusNotFound {
			return true
		}
	case ErrNetwork:
		return e.StatusCode == 0 && e.Code == 0
	}
	return target == e.category()
}

func (e *Error) category() error {
	switch e.Code / 1000 {
	case 1:
		return ErrAuthentication
	case 2:
		return ErrValidation
	case 3:
		return ErrProcessing
	case 4:
		return ErrRateLimit
	case 5:
		return ErrServer
	case 6:
		return ErrNotFound
	}
	switch s := e.StatusCode; {
	case s == 0:
		return ErrNetwork
	case s >= 500:
		return ErrServer
	case s == 401 || s == 403:
		return ErrAuthentication
	case s == 404:
		return ErrNotFound
	case s == 429:
		return ErrRateLimit
	case s >= 400:
		return ErrValidation
	}
	return nil
}

// Temporary reports whether trying again later may succeed: 4003, 5001, 5002, a 502,
// 503 or 504 from something in between, and a network failure. The client retries
// these itself (see WithRetries); this tells what is left when it gave up.
func (e *Error) Temporary() bool {
	switch e.Code {
	case CodeRateLimitExceeded, CodeInternalServerError, CodeServiceUnavailable:
		return true
	case 0:
		switch e.StatusCode {
		case 0, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// LogValue makes an *Error a group of attributes in a log/slog line:
// code, name, message, status, request_id, details and retry_after where set.
func (e *Error) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Int("code", e.Code)}
	if e.Name != "" {
		attrs = append(attrs, slog.String("name", e.Name))
	}
	attrs = append(attrs, slog.String("message", e.Message), slog.Int("status", e.StatusCode))
	if e.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", e.RequestID))
	}
	if e.Method != "" {
		attrs = append(attrs, slog.String("request", e.Method+" "+e.Path))
	}
	if e.Details != nil {
		attrs = append(attrs, slog.Any("details", e.Details))
	}
	if e.RetryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", e.RetryAfter))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// RetryAfter returns how long err says to wait before trying again, and whether it
// says so: the RetryAfter of an *Error in its chain (4003 always has one).
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

package catalog

import (
	"math"
	"time"
	"unicode/utf8"
)

const maxBodyEcho = 200 // how much of a body that is not an envelope goes into details, for debugging

// FromAPI turns an HTTP error answer into an *Error. It never panics and never returns nil.
//
// envelope is the body decoded as JSON into plain values (map[string]any, []any,
// float64, string, bool, nil), as JSON.parse gives it to the SDK and encoding/json's
// decoding into an any gives it natively; nil when the body was not JSON. body is the
// start of the body as text, echoed in the details when there is no envelope.
//
// {"error":{"code":N,"message":"...","details":{...}}} gives the code the SDK surfaces
// for N (ClientCodeFor), with the API's message and details. Anything else (a proxy's
// HTML page, an empty or cut body, JSON of another shape) gives an error derived from
// the HTTP status alone, with the status and the start of the body in its details.
func FromAPI(status int, envelope any, body string, now time.Time) *Error {
	apiCode, message, details, ok := readEnvelope(envelope)
	if !ok {
		return fromStatus(status, body, now)
	}
	code := ClientCodeFor(apiCode)
	e := New(code, details, now)
	e.APICode, e.Status = apiCode, status
	if entry, known := ByAPICode(apiCode); known {
		e.Retryable = entry.Retryable
		if message == "" {
			message = entry.Message
		}
	} else {
		e.Retryable = retryableStatus(status)
	}
	if message != "" {
		e.Message = message
	}
	return e
}

// readEnvelope accepts only the documented shape: code a positive whole number (not a
// string, not a fraction), message a string, details an object or absent.
func readEnvelope(doc any) (apiCode int, message string, details map[string]any, ok bool) {
	root, _ := doc.(map[string]any)
	env, _ := root["error"].(map[string]any)
	if env == nil {
		return 0, "", nil, false
	}
	n, isNumber := env["code"].(float64)
	if !isNumber || n != math.Trunc(n) || n <= 0 || n > math.MaxInt32 {
		return 0, "", nil, false
	}
	switch m := env["message"].(type) {
	case string:
		message = m
	case nil:
	default:
		return 0, "", nil, false
	}
	switch d := env["details"].(type) {
	case map[string]any:
		details = d
	case nil:
	default:
		return 0, "", nil, false
	}
	return int(n), message, details, true
}

// fromStatus is the error of an answer without a usable envelope.
func fromStatus(status int, body string, now time.Time) *Error {
	var code Code
	switch status {
	case 401:
		code = AuthenticationFailed
	case 403:
		code = InsufficientPermissions
	case 404:
		code = RecordingNotFound
	case 413:
		code = FileSizeExceeded
	case 429:
		code = RateLimitExceeded
	case 500:
		code = InternalServerError
	case 502, 503, 504:
		code = ServiceUnavailable
	default:
		code = APIError
	}
	details := map[string]any{"status": status}
	if len(body) > 0 {
		cut := min(len(body), maxBodyEcho)
		for cut < len(body) && cut > 0 && !utf8.RuneStart(body[cut]) {
			cut-- // never split a character: the string goes to JavaScript
		}
		details["body"] = body[:cut]
	}
	e := New(code, details, now)
	e.Status = status
	if code == APIError {
		e.Retryable = retryableStatus(status)
	}
	return e
}

// retryableStatus is the retry advice for an answer the catalogue cannot name.
func retryableStatus(status int) bool {
	return status == 429 || status >= 500
}

package catalog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

const (
	maxEnvelope = 64 << 10 // an error envelope is small; more is a proxy's page or an attack
	maxBodyEcho = 200      // how much of an unparsable body goes into details, for debugging
)

// ParseEnvelope turns an HTTP error answer into an *Error. It never panics and never
// returns nil.
//
// A body of the form {"error":{"code":N,"message":"...","details":{...}}} gives the
// code the SDK surfaces for N (ClientCodeFor), with the API's message and details.
// Anything else (a proxy's HTML page, an empty or cut body, JSON of another shape)
// gives an error derived from the HTTP status alone, with the status and the start of
// the body in its details.
func ParseEnvelope(status int, body []byte, now time.Time) *Error {
	if len(body) > maxEnvelope {
		body = body[:maxEnvelope]
	}
	apiCode, message, details, ok := decodeEnvelope(body)
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

// decodeEnvelope accepts only the documented shape: code a positive integer literal
// (not a string, not a fraction), message a string, details an object or absent.
func decodeEnvelope(body []byte) (apiCode int, message string, details map[string]any, ok bool) {
	doc, err := decodeJSON(body)
	if err != nil {
		return 0, "", nil, false
	}
	root, _ := doc.(map[string]any)
	env, _ := root["error"].(map[string]any)
	if env == nil {
		return 0, "", nil, false
	}
	// The literal as sent, so "2005" (quoted) and 2005.5 fail here.
	literal, isNumber := env["code"].(jsonNumber)
	n, err := strconv.Atoi(string(literal))
	if !isNumber || err != nil || n <= 0 {
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
		details = plainJSON(d).(map[string]any)
	case nil:
	default:
		return 0, "", nil, false
	}
	return n, message, details, true
}

// fromStatus is the error of an answer without a usable envelope.
func fromStatus(status int, body []byte, now time.Time) *Error {
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
		echo := body[:min(len(body), maxBodyEcho)]
		// The cut may split a UTF-8 sequence; keep the string valid for JavaScript.
		details["body"] = validUTF8(echo)
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

// validUTF8 is strings.ToValidUTF8(s, "\uFFFD") (each run of invalid bytes becomes one
// U+FFFD), written out because the library's version costs the wasm 4 KB.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+3)
	invalid := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			if !invalid {
				out = append(out, "\uFFFD"...)
			}
			invalid = true
		} else {
			out = append(out, b[:n]...)
			invalid = false
		}
		b = b[n:]
	}
	return string(out)
}

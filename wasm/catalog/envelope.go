package catalog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
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
	var env struct {
		Error *struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
			Details map[string]any  `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		return 0, "", nil, false
	}
	// A RawMessage holds the literal as sent, so "2005" (quoted) and 2005.5 fail here.
	n, err := strconv.Atoi(string(env.Error.Code))
	if err != nil || n <= 0 {
		return 0, "", nil, false
	}
	return n, env.Error.Message, env.Error.Details, true
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
		details["body"] = strings.ToValidUTF8(string(echo), "\uFFFD")
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

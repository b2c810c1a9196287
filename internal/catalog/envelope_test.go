package catalog

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseEnvelopeReferenceExamples(t *testing.T) {
	for _, r := range parseReference(t) {
		entry, _ := ByAPICode(r.APICode)
		client, _ := Lookup(ClientCodeFor(r.APICode))
		var env struct {
			Error struct {
				Details map[string]any `json:"details"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.Example, &env); err != nil {
			t.Fatal(err)
		}
		e := parseEnvelope(entry.HTTPStatus, r.Example, testNow)
		if e.Code != client.Code || e.APICode != r.APICode || e.Status != entry.HTTPStatus ||
			e.Message != r.Message || e.UserMessage != client.UserMessage || e.Retryable != entry.Retryable ||
			e.Timestamp != testNow.UnixMilli() {
			t.Errorf("%s: %+v", r.Name, e)
		}
		if !reflect.DeepEqual(e.Details, env.Error.Details) {
			t.Errorf("%s: details %#v, want %#v", r.Name, e.Details, env.Error.Details)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		code      Code
		apiCode   int
		message   string
		details   map[string]any
		retryable bool
	}{
		{"2006 surfaces as DURATION_EXCEEDED", 400,
			`{"error":{"code":2006,"message":"Recording exceeds maximum duration","details":{"max_duration":60,"actual_duration":75}}}`,
			DurationExceeded, 2006, "Recording exceeds maximum duration",
			map[string]any{"max_duration": 60.0, "actual_duration": 75.0}, false},
		{"unknown code", 418, `{"error":{"code":9999,"message":"I'm a teapot"}}`,
			APIError, 9999, "I'm a teapot", nil, false},
		{"unknown code on a 5xx is retryable", 507, `{"error":{"code":9999,"message":"full"}}`,
			APIError, 9999, "full", nil, true},
		{"unknown code without a message", 400, `{"error":{"code":7001}}`,
			APIError, 7001, "Unrecognised API error", nil, false},
		{"empty message falls back to the catalogue", 429, `{"error":{"code":4003,"message":""}}`,
			RateLimitExceeded, 4003, "Rate limit exceeded", nil, true},
		{"1003", 403, `{"error":{"code":1003,"message":"Insufficient permissions"}}`,
			InsufficientPermissions, 1003, "Insufficient permissions", nil, false},
		{"2003 on a reused id", 409,
			`{"error":{"code":2003,"message":"Invalid field value","details":{"field":"voicenote_id"}}}`,
			InvalidFieldValue, 2003, "Invalid field value", map[string]any{"field": "voicenote_id"}, false},
		{"details null", 400, `{"error":{"code":2001,"message":"Request body is malformed","details":null}}`,
			InvalidRequestFormat, 2001, "Request body is malformed", nil, false},
		{"whitespace and extra fields", 500, " \n{\"request_id\":\"r1\", \"error\" : { \"code\" : 5001 , \"message\":\"Internal server error\",\"trace\":[1]} }\n",
			InternalServerError, 5001, "Internal server error", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseEnvelope(tt.status, []byte(tt.body), testNow)
			if e.Code != tt.code || e.APICode != tt.apiCode || e.Status != tt.status || e.Message != tt.message ||
				e.Retryable != tt.retryable || !reflect.DeepEqual(e.Details, tt.details) {
				t.Errorf("got %+v", e)
			}
			if want, _ := Lookup(tt.code); e.UserMessage != want.UserMessage {
				t.Errorf("user message %q, want %q", e.UserMessage, want.UserMessage)
			}
		})
	}
}

func TestParseEnvelopeHostileBodies(t *testing.T) {
	bodies := map[string][]byte{
		"empty":             nil,
		"html":              []byte("<html>502 Bad Gateway</html>"),
		"open brace":        []byte("{"),
		"error a string":    []byte(`{"error":"x"}`),
		"code a string":     []byte(`{"error":{"code":"2005"}}`),
		"code a fraction":   []byte(`{"error":{"code":2005.5}}`),
		"code null":         []byte(`{"error":{"code":null,"message":"x"}}`),
		"code missing":      []byte(`{"error":{"message":"Audio format not supported"}}`),
		"code zero":         []byte(`{"error":{"code":0}}`),
		"code negative":     []byte(`{"error":{"code":-2005}}`),
		"code too big":      []byte(`{"error":{"code":99999999999999999999999}}`),
		"details an array":  []byte(`{"error":{"code":2005,"details":["webm"]}}`),
		"details a string":  []byte(`{"error":{"code":2005,"details":"webm"}}`),
		"message a number":  []byte(`{"error":{"code":2005,"message":5}}`),
		"error null":        []byte(`{"error":null}`),
		"no error":          []byte(`{"message":"Bad Gateway"}`),
		"array":             []byte(`[]`),
		"null":              []byte(`null`),
		"trailing garbage":  []byte(`{"error":{"code":2005}}<html>`),
		"10 MB of [":        bytes.Repeat([]byte("["), 10<<20),
		"deep nesting":      []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)),
		"deep inside error": []byte(`{"error":{"code":2005,"details":{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}}`),
		"invalid utf-8":     []byte("\xff\xfe<html>\xc3"),
	}
	statuses := map[int]Code{
		401: AuthenticationFailed,
		403: InsufficientPermissions,
		404: RecordingNotFound,
		413: FileSizeExceeded,
		429: RateLimitExceeded,
		500: InternalServerError,
		502: ServiceUnavailable,
		503: ServiceUnavailable,
		504: ServiceUnavailable,
		400: APIError,
		418: APIError,
		501: APIError,
		0:   APIError,
	}
	for name, body := range bodies {
		for status, want := range statuses {
			e := parseEnvelope(status, body, testNow)
			if e == nil {
				t.Fatalf("%s, %d: nil", name, status)
			}
			if e.Code != want || e.APICode != 0 || e.Status != status || e.Message == "" || e.UserMessage == "" {
				t.Errorf("%s, %d: %+v", name, status, e)
			}
			if e.Details["status"] != status {
				t.Errorf("%s, %d: details status %#v", name, status, e.Details["status"])
			}
			// The echo is at most 200 bytes of the body, made valid UTF-8 (a cut rune
			// becomes one 3-byte U+FFFD).
			echo, hasBody := e.Details["body"].(string)
			if hasBody != (len(body) > 0) || len(echo) > 200+2 || !utf8.ValidString(echo) {
				t.Errorf("%s, %d: body echo %q", name, status, echo)
			}
			if utf8.Valid(body) && !strings.HasPrefix(string(body), strings.TrimSuffix(echo, "\uFFFD")) {
				t.Errorf("%s, %d: body echo %q is not the body's start", name, status, echo)
			}
			if want == APIError && e.Retryable != (status == 429 || status >= 500) {
				t.Errorf("%s, %d: retryable %v", name, status, e.Retryable)
			}
		}
	}
	if e := parseEnvelope(503, []byte("<html>"), testNow); !e.Retryable {
		t.Error("503 without an envelope is not retryable")
	}
	if e := parseEnvelope(404, nil, testNow); e.Retryable {
		t.Error("404 without an envelope is retryable")
	}
}

func FuzzParseEnvelope(f *testing.F) {
	for _, r := range parseReference(f) {
		entry, _ := ByAPICode(r.APICode)
		f.Add(entry.HTTPStatus, r.Example)
	}
	f.Add(502, []byte("<html>502 Bad Gateway</html>"))
	f.Add(400, []byte(`{"error":{"code":"2005"}}`))
	f.Add(418, []byte(`{"error":{"code":9999,"details":{"a":[1,{"b":null}]}}}`))
	f.Add(0, []byte{})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseEnvelope(status, body, testNow)
		if e == nil || e.Code == "" || e.Message == "" || e.UserMessage == "" {
			t.Fatalf("parseEnvelope(%d, %q) = %+v", status, body, e)
		}
		if e.Status != status {
			t.Fatalf("status %d, want %d", e.Status, status)
		}
		if e.APICode == 0 && e.Details["status"] != status {
			t.Fatalf("no envelope but details %#v", e.Details)
		}
		_ = e.Error()
	})
}

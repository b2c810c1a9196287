package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vocafuse/recorder/demo/api"
)

func TestUnknownRoutesAnswerAnEnvelope(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	for _, rq := range []request{
		{method: "GET", path: "/v1/nothing"},
		{method: "GET", path: "/v1/voicenotes/" + noteID + "/nothing", token: token},
		{method: "POST", path: "/v1/voicenotes/" + noteID, token: token},
		{method: "GET", path: "/api/nothing"},
		{method: "GET", path: "/no-such-page.html"},
		{method: "POST", path: "/index.html"},
	} {
		expectError(t, h.do(rq), 404, 2001, noSuchRoute)
	}
}

func TestPagesAreServed(t *testing.T) {
	h := newHarness(t)
	resp := h.get("/", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.AllowOrigins = []string{"http://localhost:5173"} })
	preflight := h.do(request{method: "OPTIONS", path: "/v1/voicenotes/" + noteID, header: http.Header{
		"Origin":                         {"http://localhost:5173"},
		"Access-Control-Request-Method":  {"PUT"},
		"Access-Control-Request-Headers": {"authorization, content-type, x-vocafuse-metadata"},
	}})
	if preflight.StatusCode != 204 || preflight.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" ||
		!strings.Contains(preflight.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(preflight.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", preflight.StatusCode, preflight.Header)
	}
	resp := h.do(request{method: "GET", path: "/v1/voicenotes", token: h.token("user_42"),
		header: http.Header{"Origin": {"http://localhost:5173"}}})
	exposed := resp.Header.Get("Access-Control-Expose-Headers")
	for _, name := range []string{"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("%s not exposed: %q", name, exposed)
		}
	}
	stranger := h.do(request{method: "GET", path: "/v1/health", header: http.Header{"Origin": {"https://evil.example"}}})
	if stranger.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("an origin not allowed got CORS headers")
	}
}

func TestDemoTokenRoute(t *testing.T) {
	h := newHarness(t)
	resp := h.do(request{method: "POST", path: "/api/token"})
	first := decode[map[string]any](t, resp, 201)
	if first["expires_in"] != float64(600) || first["token"] == "" {
		t.Fatalf("%v", first)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("cookies %v", cookies)
	}
	identity := first["identity"].(string)
	if !strings.HasPrefix(identity, "demo_visitor_") || strings.Contains(identity, cookies[0].Value) {
		t.Errorf("identity %q", identity)
	}
	// Issue 13, point 9: the browser does not choose the token's lifetime or scope.
	again := decode[map[string]any](t, h.do(request{method: "POST", path: "/api/token",
		header: http.Header{"Cookie": {cookies[0].String()}}, body: strings.NewReader(`{"expires_in":86400,"scope":"voicenotes:read"}`)}), 201)
	if again["identity"] != identity || again["expires_in"] != float64(600) {
		t.Errorf("the same visitor: %v", again)
	}
	decode[voiceNote](t, h.put(noteID, again["token"].(string), makeWAV(8000, 1, 440), "audio/wav"), 201)
}

func TestTokensRoute(t *testing.T) {
	h := newHarness(t)
	v := decode[map[string]any](t, h.mintOverHTTP(`{"identity":"user_42","expires_in":3600}`), 201)
	if v["identity"] != "user_42" || v["expires_in"] != float64(3600) || v["expires_at"] != "2026-03-01T13:00:00Z" {
		t.Errorf("%v", v)
	}
	if len(v) != 4 {
		t.Errorf("fields %v, want token, identity, expires_in, expires_at", v)
	}
}

// The log has one line per request, and never a token, a secret or a signed URL's query.
func TestLogLinesKeepSecrets(t *testing.T) {
	h := newHarness(t)
	minted := decode[map[string]any](t, h.mintOverHTTP(`{"identity":"user_42"}`), 201)
	token := minted["token"].(string)
	v := decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 440), "audio/wav"), 201)
	h.do(request{method: "GET", path: pathOf(t, v.AudioURL)})
	// A line is written once its answer is out, so the last one may still be coming.
	waitFor(t, "three log lines", func() bool { return strings.Count(h.log.String(), `"msg":"request"`) >= 3 })
	logs := h.log.String()
	query := v.AudioURL[strings.Index(v.AudioURL, "?")+1:]
	for _, secret := range []string{token, testCreds.APISecret, testCreds.TokenSecret, query, "signature"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n != 3 {
		t.Errorf("%d request lines for 3 requests:\n%s", n, logs)
	}
}

// noSuchRoute is the details of an unknown route's 404 (docs/api.md, "Envelope").
var noSuchRoute = map[string]any{"reason": "no such route"}

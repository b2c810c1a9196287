package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/web"
)

// fakeClock is the server's clock in tests: tokens, signed URLs and rate-limit windows
// expire when the test says so, not when the machine is slow.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is the real handler over real HTTP (httptest), on a fresh data directory.
type harness struct {
	t       *testing.T
	url     string
	server  *api.Server
	store   *store.Store
	dataDir string
	clock   *fakeClock
	creds   auth.Credentials
	issuer  *auth.Issuer
	log     *syncBuffer
}

var testCreds = auth.Credentials{APIKey: "sk_test_key", APISecret: "test-secret", TokenSecret: "test-signing-key"}

func newHarness(t *testing.T, configure ...func(*api.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, _, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	cfg := api.Config{
		Log:         slogTo(logs),
		Pages:       web.Pages(t.TempDir(), ""),
		Store:       st,
		Credentials: testCreds,
		Now:         clock.Now,
	}
	ts := httptest.NewUnstartedServer(nil)
	cfg.PublicURL = "http://" + ts.Listener.Addr().String()
	for _, c := range configure {
		c(&cfg)
	}
	server := api.NewHandler(cfg)
	ts.Config.Handler = server
	server.ConfigureHTTPServer(ts.Config)
	ts.Listener = server.Listener(ts.Listener)
	ts.Start()
	t.Cleanup(ts.Close)
	return &harness{t: t, url: ts.URL, server: server, store: st, dataDir: dir, clock: clock,
		creds: testCreds, issuer: auth.NewIssuer([]byte(testCreds.TokenSecret), clock.Now), log: logs}
}

// token mints a token directly (not through the rate-limited route) for identity.
func (h *harness) token(identity string, scopes ...string) string {
	h.t.Helper()
	if len(scopes) == 0 {
		scopes = auth.AllScopes
	}
	tok, _, err := h.issuer.Mint(identity, time.Hour, scopes)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// request is one API call.
type request struct {
	method, path, token string
	body                io.Reader
	header              http.Header
}

func (h *harness) do(rq request) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(rq.method, h.url+rq.path, rq.body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range rq.header {
		req.Header[k] = vs
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (h *harness) get(path, token string) *http.Response {
	return h.do(request{method: "GET", path: path, token: token})
}

// put uploads audio as a voice note.
func (h *harness) put(id, token string, audio []byte, contentType string) *http.Response {
	return h.do(request{method: "PUT", path: "/v1/voicenotes/" + id, token: token,
		body: bytes.NewReader(audio), header: http.Header{"Content-Type": {contentType}}})
}

// mintOverHTTP is POST /v1/tokens with the test's API key.
func (h *harness) mintOverHTTP(body string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/v1/tokens", strings.NewReader(body))
	req.SetBasicAuth(h.creds.APIKey, h.creds.APISecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// voiceNote is the resource as a test reads it.
type voiceNote struct {
	ID        string          `json:"id"`
	Identity  string          `json:"identity"`
	Format    string          `json:"format"`
	MimeType  string          `json:"mime_type"`
	Size      int64           `json:"size"`
	Duration  float64         `json:"duration"`
	Metadata  json.RawMessage `json:"metadata"`
	Status    string          `json:"status"`
	CreatedAt string          `json:"created_at"`
	AudioURL  string          `json:"audio_url"`
}

func decode[T any](t *testing.T, resp *http.Response, want int) T {
	t.Helper()
	var v T
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// The reference's messages, read from the reference itself (the catalogue's testdata copy)
// rather than from the catalogue, so that a test compares the server with the document.
var (
	referenceOnce     sync.Once
	referenceMessages map[int]string
)

func referenceMessage(t *testing.T, code int) string {
	t.Helper()
	referenceOnce.Do(func() {
		raw, err := os.ReadFile("../../docs/vocafuse-api-errors.txt")
		if err != nil {
			t.Fatal(err)
		}
		referenceMessages = map[int]string{}
		re := regexp.MustCompile(`"code": (\d+),\s*"message": "([^"]+)"`)
		for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
			n, _ := strconv.Atoi(m[1])
			referenceMessages[n] = m[2]
		}
	})
	msg, ok := referenceMessages[code]
	if !ok && code == 1003 {
		return "Insufficient permissions" // this project's addition for the reference's 403 row (docs/api.md)
	}
	if !ok {
		t.Fatalf("code %d is not in the reference", code)
	}
	return msg
}

// expectError checks an answer against the reference: status, code, message and details
// exactly (nil details: none at all), JSON content type, and a request id.
func expectError(t *testing.T, resp *http.Response, status, code int, details map[string]any) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	var env struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		t.Fatalf("not an envelope: %s", body)
	}
	var gotCode int
	var gotMessage string
	json.Unmarshal(env.Error["code"], &gotCode)
	json.Unmarshal(env.Error["message"], &gotMessage)
	if gotCode != code {
		t.Errorf("code %d, want %d: %s", gotCode, code, body)
	}
	if want := referenceMessage(t, code); gotMessage != want {
		t.Errorf("message %q, want %q", gotMessage, want)
	}
	rawDetails, hasDetails := env.Error["details"]
	switch {
	case details == nil && hasDetails:
		t.Errorf("details %s, want none", rawDetails)
	case details != nil:
		var got, want any
		json.Unmarshal(rawDetails, &got)
		wantJSON, _ := json.Marshal(details)
		json.Unmarshal(wantJSON, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("details %s, want %s", rawDetails, wantJSON)
		}
	}
	if len(env.Error) > 3 {
		t.Errorf("unexpected fields in %s", body)
	}
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package api_test

// One test (at least) per numbered point of issue 13, each of which failed on the
// server before the fix.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
)

// slowUpload starts a PUT that declares a whole WAV and sends only its first bytes,
// then nothing until stop is called. The answer, if any, arrives on the channel.
func (h *harness) slowUpload(id, token string) (answer chan *http.Response, stop func()) {
	return h.slowUploadFrom(http.DefaultClient, id, token)
}

// tempFiles counts the uploads under way, as files in the data directory's tmp/.
func (h *harness) tempFiles() int {
	entries, _ := os.ReadDir(filepath.Join(h.dataDir, "tmp"))
	return len(entries)
}

func noteN(i int) string { return fmt.Sprintf("0190a0c0-1313-7000-8000-%012d", i) }

// Point 1: the uploads under way are capped per identity and in all; the next answers
// 503 / 5002 with Retry-After before its body is read.
func TestUploadSlotsAreCapped(t *testing.T) {
	h := newHarness(t, func(c *api.Config) {
		c.MaxUploads, c.MaxUploadsPerIdentity = 3, 2
		c.UploadGrace = time.Minute // nothing is cut for being slow here
	})
	alice, bob, carol := h.token("alice"), h.token("bob"), h.token("carol")
	h.slowUpload(noteN(1), alice)
	h.slowUpload(noteN(2), alice)
	waitFor(t, "two uploads under way", func() bool { return h.tempFiles() == 2 })
	third := h.put(noteN(3), alice, makeWAV(8000, 1, 440), "audio/wav")
	expectError(t, third, 503, 5002, nil)
	if third.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	h.slowUpload(noteN(4), bob)
	waitFor(t, "three uploads under way", func() bool { return h.tempFiles() == 3 })
	expectError(t, h.put(noteN(5), carol, makeWAV(8000, 1, 440), "audio/wav"), 503, 5002, nil)
}

// Point 1: past the global cap, an identity with no upload under way still gets one of
// a small reserve (a quarter of the cap): a flood from other identities cannot lock it
// out, and the server stays bounded.
func TestUploadSlotsKeepAReserveForIdentitiesWithNone(t *testing.T) {
	h := newHarness(t, func(c *api.Config) {
		c.MaxUploads, c.MaxUploadsPerIdentity = 4, 2 // a reserve of one
		c.UploadGrace = time.Minute
	})
	alice, bob, carol, dave := h.token("alice"), h.token("bob"), h.token("carol"), h.token("dave")
	// Carol and Dave are other clients: the reserve is for an identity and an address
	// with nothing under way (one address's fresh identities are not someone else).
	fromCarol, fromDave := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	h.slowUpload(noteN(1), alice)
	h.slowUpload(noteN(2), alice)
	h.slowUpload(noteN(3), bob)
	h.slowUpload(noteN(4), bob)
	waitFor(t, "four uploads under way", func() bool { return h.tempFiles() == 4 })
	h.slowUploadFrom(fromCarol, noteN(5), carol) // none under way: the reserve
	waitFor(t, "carol's upload under way", func() bool { return h.tempFiles() == 5 })
	expectError(t, h.putFrom(fromCarol, noteN(6), carol, makeWAV(8000, 1, 440)), 503, 5002, nil) // one of the reserve is hers already
	expectError(t, h.putFrom(fromDave, noteN(7), dave, makeWAV(8000, 1, 440)), 503, 5002, nil)   // the reserve is used up
}

// Point 1: a body slower than the minimum rate is cut and nothing is kept.
func TestSlowUploadIsCut(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.UploadGrace = 200 * time.Millisecond })
	answer, _ := h.slowUpload(noteN(1), h.token("alice"))
	resp := <-answer
	if resp == nil {
		t.Fatal("the connection was cut without an answer")
	}
	expectError(t, resp, 400, 2001, map[string]any{
		"reason": "the body arrived too slowly (at least 4096 bytes a second, all of it within 300 seconds)"})
	waitFor(t, "the temporary file to go", func() bool { return h.tempFiles() == 0 })
	expectError(t, h.get("/v1/voicenotes/"+noteN(1), h.token("alice")), 404, 6001, map[string]any{"voicenote_id": noteN(1)})
}

// Point 1: POST /api/token is not an unlimited identity mint.
func TestNewVisitorsAreLimited(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.NewVisitorLimit = 3 })
	var cookie string
	for range 3 {
		resp := h.do(request{method: "POST", path: "/api/token"})
		decode[map[string]any](t, resp, 201)
		cookie = resp.Cookies()[0].String()
	}
	expectError(t, h.do(request{method: "POST", path: "/api/token"}), 429, 4003,
		map[string]any{"limit": 3, "window": "1 minute", "retry_after": 60})
	// A visitor with its cookie still gets its token.
	decode[map[string]any](t, h.do(request{method: "POST", path: "/api/token", header: http.Header{"Cookie": {cookie}}}), 201)
}

// Point 3: reads through a signed URL never use up the owner's rate limit.
func TestSignedURLReadsDoNotLockTheOwnerOut(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.RateLimit = 5 })
	token := h.token("alice")
	v := decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 440), "audio/wav"), 201)
	for range 20 {
		resp := h.do(request{method: "GET", path: pathOf(t, v.AudioURL), header: http.Header{"Range": {"bytes=0-0"}}})
		io.Copy(io.Discard, resp.Body)
	}
	decode[voiceNote](t, h.put(noteN(2), token, makeWAV(8000, 1, 660), "audio/wav"), 201)
}

// Point 5: the owner in an audio_url is keyed, not a hash of the identity.
func TestAudioURLOwnerIsKeyed(t *testing.T) {
	h := newHarness(t)
	v := decode[voiceNote](t, h.put(noteID, h.token("alice"), makeWAV(8000, 1, 440), "audio/wav"), 201)
	u, _ := url.Parse(v.AudioURL)
	sum := sha256.Sum256([]byte("alice"))
	owner := u.Query().Get("owner")
	if owner == "" || strings.Contains(hex.EncodeToString(sum[:]), owner) || strings.Contains(v.AudioURL, "alice") {
		t.Errorf("the URL names its owner: %s", v.AudioURL)
	}
	if resp := h.get(pathOf(t, v.AudioURL), ""); resp.StatusCode != 200 {
		t.Errorf("the keyed URL does not play: %d", resp.StatusCode)
	}
}

// Point 6: ranges per RFC 9110, with a bound on parts; 416 is an envelope.
func TestRangesPerRFC9110(t *testing.T) {
	h := newHarness(t)
	token := h.token("alice")
	audio := makeWAV(16000, 2, 440) // 64 KB
	decode[voiceNote](t, h.put(noteID, token, audio, "audio/wav"), 201)
	path := "/v1/voicenotes/" + noteID + "/audio"
	for _, r := range []string{"bytes=-0", fmt.Sprintf("bytes=%d-", len(audio)), "bytes=999999-1000000"} {
		resp := h.do(request{method: "GET", path: path, token: token, header: http.Header{"Range": {r}}})
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", len(audio)) {
			t.Errorf("%s: Content-Range %q", r, cr)
		}
		expectError(t, resp, 416, 2003, map[string]any{"field": "range", "reason": "no range is satisfiable for the audio's length"})
	}
	var many []string
	for i := range 3000 {
		many = append(many, fmt.Sprintf("%d-%d", i*2, i*2))
	}
	resp := h.do(request{method: "GET", path: path, token: token, header: http.Header{"Range": {"bytes=" + strings.Join(many, ",")}}})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, audio) {
		t.Errorf("3000 ranges: %d, %d bytes (the file is %d)", resp.StatusCode, len(body), len(audio))
	}
	few := h.do(request{method: "GET", path: path, token: token, header: http.Header{"Range": {"bytes=0-0,10-10"}}})
	if b, _ := io.ReadAll(few.Body); few.StatusCode != 206 || !strings.HasPrefix(few.Header.Get("Content-Type"), "multipart/byteranges") || len(b) > 1000 {
		t.Errorf("two ranges: %d %s, %d bytes", few.StatusCode, few.Header.Get("Content-Type"), len(b))
	}
	garbage := h.do(request{method: "GET", path: path, token: token, header: http.Header{"Range": {"bytes=5-1"}}})
	if garbage.StatusCode != 200 {
		t.Errorf("an invalid range set is ignored: %d", garbage.StatusCode)
	}
}

// rawRequest writes bytes to the server and reads one answer.
func (h *harness) rawRequest(raw string) *http.Response {
	h.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// Point 7: every answer is JSON, net/http's own included, and leaves a log line.
func TestEveryAnswerIsJSON(t *testing.T) {
	h := newHarness(t)
	expectError(t, h.rawRequest("GARBAGE\r\n\r\n"), 400, 2001, map[string]any{"reason": "400 Bad Request"})
	big := "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n"
	resp := h.rawRequest(big)
	if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("431: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(h.log.String(), `"status":431`) || !strings.Contains(h.log.String(), `"malformed"`) {
		t.Errorf("no log line for the malformed requests:\n%s", h.log)
	}
	// A path that is not clean is not redirected with an HTML body.
	for _, p := range []string{"/v1//health", "/v1/./health", "/sdk/../v1/health"} {
		req, _ := http.NewRequest("GET", h.url+p, nil)
		req.URL.Opaque = p // as sent, not cleaned by the client
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		expectError(t, resp, 404, 2001, noSuchRoute)
	}
	// A redirect of the page server keeps no HTML body.
	req, _ := http.NewRequest("GET", h.url+"/sdk", nil)
	redirect, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(redirect.Body)
	if redirect.StatusCode/100 != 3 || len(body) != 0 || strings.Contains(redirect.Header.Get("Content-Type"), "html") {
		t.Errorf("redirect: %d %q %s", redirect.StatusCode, redirect.Header.Get("Content-Type"), body)
	}
	// net/http's own error log goes through the structured log.
	h.server.HTTPServer().ErrorLog.Print("http: Accept error: accept tcp: too many open files")
	if !strings.Contains(h.log.String(), `"msg":"http: Accept error: accept tcp: too many open files"`) {
		t.Errorf("the error log is not JSON:\n%s", h.log)
	}
	for _, line := range strings.Split(strings.TrimSpace(h.log.String()), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("not a JSON log line: %s", line)
		}
	}
}

// Point 8: the list cursor is sealed and bound to its identity.
func TestCursorIsOpaqueAndPerIdentity(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.token("alice"), h.token("bob")
	for i := range 3 {
		decode[voiceNote](t, h.put(noteN(i+1), alice, makeWAV(8000, 1, float64(300+i)), "audio/wav"), 201)
	}
	page := decode[struct {
		NextCursor string `json:"next_cursor"`
	}](t, h.get("/v1/voicenotes?limit=1", alice), 200)
	if raw, err := base64.RawURLEncoding.DecodeString(page.NextCursor); err != nil || len(raw) <= 8 {
		t.Errorf("cursor %q decodes to %d bytes", page.NextCursor, len(raw))
	}
	expectError(t, h.get("/v1/voicenotes?cursor="+page.NextCursor, bob), 400, 2003, map[string]any{
		"field": "cursor", "value": page.NextCursor, "reason": "must be a next_cursor from an earlier page"})
	decode[map[string]any](t, h.get("/v1/voicenotes?cursor="+page.NextCursor, alice), 200)
}

// Point 9: Secure cookie behind a TLS-terminating proxy; cross-site requests refused.
func TestDemoTokenRouteIsSameOriginAndSecure(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.TrustProxy = true })
	resp := h.do(request{method: "POST", path: "/api/token", header: http.Header{"X-Forwarded-Proto": {"https"}}})
	decode[map[string]any](t, resp, 201)
	if c := resp.Cookies(); len(c) != 1 || !c[0].Secure || !c[0].HttpOnly {
		t.Errorf("cookie %v", c)
	}
	plain := h.do(request{method: "POST", path: "/api/token"})
	if c := plain.Cookies(); len(c) != 1 || c[0].Secure {
		t.Errorf("plain HTTP cookie %v", c)
	}
	refused := map[string]any{"reason": "this route only answers the server's own pages"}
	for name, header := range map[string]http.Header{
		"another origin":      {"Origin": {"https://evil.example"}},
		"cross-site fetch":    {"Sec-Fetch-Site": {"cross-site"}},
		"same-site other app": {"Origin": {"http://127.0.0.1:1"}, "Sec-Fetch-Site": {"same-site"}},
		"rebound host":        {"Origin": {"http://evil.example"}, "Host": {"evil.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			rq := request{method: "POST", path: "/api/token", header: header}
			req, _ := http.NewRequest(rq.method, h.url+rq.path, nil)
			for k, v := range header {
				req.Header[k] = v
			}
			if hh := header.Get("Host"); hh != "" {
				req.Host = hh
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			expectError(t, resp, 403, 1003, refused)
			if len(resp.Cookies()) != 0 {
				t.Error("a cookie was set")
			}
		})
	}
	same := h.do(request{method: "POST", path: "/api/token", header: http.Header{"Origin": {h.url}, "Sec-Fetch-Site": {"same-origin"}}})
	decode[map[string]any](t, same, 201)
}

// Point 10: /_faults refuses a cross-site text/plain POST; the tests' own (Node, no
// Origin) still plans.
func TestFaultsRefuseCrossSite(t *testing.T) {
	h := newHarness(t, withFaults)
	resp := h.do(request{method: "POST", path: "/_faults", body: strings.NewReader(`{"path_prefix":"/v1","code":5001,"times":100}`),
		header: http.Header{"Origin": {"https://evil.example"}, "Content-Type": {"text/plain;charset=UTF-8"}}})
	expectError(t, resp, 403, 1003, map[string]any{"reason": "this route only answers the server's own pages"})
	decode[map[string]any](t, h.get("/v1/health", ""), 200)
	h.planFault(`{"path_prefix":"/v1/health","code":5001}`)
	expectError(t, h.get("/v1/health", ""), 500, 5001, nil)
}

// Point 11: nosniff everywhere, a CSP on the page, the stored type normalised, and
// audio_url from the public URL, never the request's Host.
func TestHeadersTypesAndPublicURL(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.PublicURL = "https://voice.example/base/" })
	token := h.token("alice")
	req, _ := http.NewRequest("PUT", h.url+"/v1/voicenotes/"+noteID, bytes.NewReader(makeWAV(8000, 1, 440)))
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", `audio/wav; codecs="<script>"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	v := decode[voiceNote](t, resp, 201)
	if v.MimeType != "audio/wav" || !strings.HasPrefix(v.AudioURL, "https://voice.example/base/v1/voicenotes/"+noteID+"/audio?") {
		t.Errorf("mime_type %q, audio_url %q", v.MimeType, v.AudioURL)
	}
	audio := h.get("/v1/voicenotes/"+noteID+"/audio", token)
	if audio.Header.Get("Content-Type") != "audio/wav" || audio.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("audio headers %v", audio.Header)
	}
	for _, p := range []string{"/v1/health", "/v1/nothing", "/"} {
		if r := h.get(p, ""); r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}
	csp := h.get("/", "").Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'",
		"connect-src 'self' https://voice.example", "media-src 'self' blob: https://voice.example", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %s", csp)
	}
}

// Point 12: an identity of only spaces is refused.
func TestBlankIdentityIsRefused(t *testing.T) {
	h := newHarness(t)
	for _, identity := range []string{`"   "`, `"\t"`, `"\u00a0\u200b"`} {
		expectError(t, h.mintOverHTTP(`{"identity":`+identity+`}`), 400, 2003, map[string]any{
			"field": "identity", "value": strings.Trim(identityValue(identity), `"`), "reason": "must be a string of 1 to 128 characters, not only spaces"})
	}
}

func identityValue(raw string) string {
	var s string
	fmt.Sscanf(raw, "%q", &s)
	return s
}

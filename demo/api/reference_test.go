package api_test

// One test per row of the error reference that the server can produce, each checking the
// status (docs/api.md's table), code, message and details against the reference.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/internal/validate"
)

const noteID = "0190a0c0-1111-7000-8000-000000000001"

func TestInvalidToken1001(t *testing.T) {
	h := newHarness(t)
	now := h.clock.Now()
	signWith := func(method jwt.SigningMethod, key any, change map[string]any) string {
		claims := jwt.MapClaims{"sub": "user_42", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"jti": "x", "scope": "voicenotes:read voicenotes:write"}
		for k, v := range change {
			claims[k] = v
		}
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	sign := func(method jwt.SigningMethod, key any) string { return signWith(method, key, nil) }
	key := []byte(testCreds.TokenSecret)
	cases := map[string]http.Header{
		"missing":                {},
		"not bearer":             {"Authorization": {"Basic " + "dXNlcjpwYXNz"}},
		"malformed":              {"Authorization": {"Bearer not.a.jwt"}},
		"bad signature":          {"Authorization": {"Bearer " + sign(jwt.SigningMethodHS256, []byte("another key"))}},
		"alg none":               {"Authorization": {"Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)}},
		"other alg with the key": {"Authorization": {"Bearer " + sign(jwt.SigningMethodHS512, key)}},
		"signature cut off":      {"Authorization": {"Bearer " + strings.TrimRight(h.token("user_42"), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")[:60]}},
		"forged and expired":     {"Authorization": {"Bearer " + signWith(jwt.SigningMethodHS256, []byte("x"), map[string]any{"exp": now.Add(-time.Hour).Unix()})}},
		"issued in the future":   {"Authorization": {"Bearer " + signWith(jwt.SigningMethodHS256, key, map[string]any{"iat": now.Add(time.Hour).Unix()})}},
		"no subject":             {"Authorization": {"Bearer " + signWith(jwt.SigningMethodHS256, key, map[string]any{"sub": ""})}},
		"no expiry":              {"Authorization": {"Bearer " + signWith(jwt.SigningMethodHS256, key, map[string]any{"exp": nil})}},
	}
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			resp := h.do(request{method: "GET", path: "/v1/voicenotes", header: header})
			expectError(t, resp, 401, 1001, nil)
		})
	}
	t.Run("wrong API secret on /v1/tokens", func(t *testing.T) {
		req, _ := http.NewRequest("POST", h.url+"/v1/tokens", strings.NewReader(`{"identity":"user_42"}`))
		req.SetBasicAuth(testCreds.APIKey, "wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		expectError(t, resp, 401, 1001, nil)
		if resp.Header.Get("WWW-Authenticate") != "" {
			t.Error("a WWW-Authenticate header makes browsers pop up a login box")
		}
	})
}

func TestTokenExpired1002(t *testing.T) {
	h := newHarness(t)
	minted := decode[map[string]any](t, h.mintOverHTTP(`{"identity":"user_42","expires_in":60}`), 201)
	token := minted["token"].(string)
	decode[map[string]any](t, h.get("/v1/voicenotes", token), 200)
	h.clock.Advance(61 * time.Second)
	expectError(t, h.get("/v1/voicenotes", token), 401, 1002, nil)
}

func TestInsufficientPermissions1003(t *testing.T) {
	h := newHarness(t)
	writer := h.token("user_42")
	decode[voiceNote](t, h.put(noteID, writer, makeWAV(8000, 1, 440), "audio/wav"), 201)
	minted := decode[map[string]any](t, h.mintOverHTTP(`{"identity":"user_42","scope":"voicenotes:read"}`), 201)
	reader := minted["token"].(string)
	decode[voiceNote](t, h.get("/v1/voicenotes/"+noteID, reader), 200)
	expectError(t, h.put(noteID, reader, makeWAV(8000, 1, 440), "audio/wav"), 403, 1003, nil)
	expectError(t, h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteID, token: reader}), 403, 1003, nil)
	writeOnly := h.token("user_42", "voicenotes:write")
	expectError(t, h.get("/v1/voicenotes/"+noteID+"/audio", writeOnly), 403, 1003, nil)
}

func TestInvalidRequestFormat2001(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{`{"identity": "user_42",`, `not json`, `["user_42"]`, `{"identity":"u"} trailing`} {
		expectError(t, h.mintOverHTTP(body), 400, 2001, nil)
	}
}

func TestMissingRequiredField2002(t *testing.T) {
	h := newHarness(t)
	t.Run("identity", func(t *testing.T) {
		for _, body := range []string{`{"expires_in": 3600}`, `{}`, ``, `{"identity": null}`, `{"identity": ""}`} {
			expectError(t, h.mintOverHTTP(body), 400, 2002, map[string]any{"field": "identity"})
		}
	})
	t.Run("audio", func(t *testing.T) {
		token := h.token("user_42")
		expectError(t, h.put(noteID, token, nil, "audio/webm"), 400, 2002, map[string]any{"field": "audio"})
		// A chunked body that turns out empty.
		resp := h.do(request{method: "PUT", path: "/v1/voicenotes/" + noteID, token: token,
			body: io.MultiReader(), header: http.Header{"Content-Type": {"audio/webm"}}})
		expectError(t, resp, 400, 2002, map[string]any{"field": "audio"})
	})
}

func TestInvalidFieldValue2003(t *testing.T) {
	h := newHarness(t)
	t.Run("expires_in, the reference's example", func(t *testing.T) {
		expectError(t, h.mintOverHTTP(`{"identity":"user_42","expires_in":"invalid"}`), 400, 2003,
			map[string]any{"field": "expires_in", "value": "invalid", "reason": "must be an integer between 60 and 86400"})
	})
	t.Run("expires_in out of range, value as sent", func(t *testing.T) {
		for body, value := range map[string]any{
			`{"identity":"u","expires_in":30}`:    30,
			`{"identity":"u","expires_in":86401}`: 86401,
			`{"identity":"u","expires_in":90.5}`:  90.5,
			`{"identity":"u","expires_in":"600"}`: "600",
		} {
			expectError(t, h.mintOverHTTP(body), 400, 2003,
				map[string]any{"field": "expires_in", "value": value, "reason": "must be an integer between 60 and 86400"})
		}
	})
	t.Run("identity not a string", func(t *testing.T) {
		expectError(t, h.mintOverHTTP(`{"identity":42}`), 400, 2003,
			map[string]any{"field": "identity", "value": 42, "reason": "must be a string of 1 to 128 characters, not only spaces"})
	})
	t.Run("voice note id not a UUID", func(t *testing.T) {
		for _, id := range []string{"rec_123", "0190a0c0-1111-7000-8000-00000000000", "..%2F..%2Fetc"} {
			expectError(t, h.put(id, h.token("user_42"), makeWAV(8000, 1, 440), "audio/wav"), 400, 2003,
				map[string]any{"field": "voicenote_id", "reason": "must be a valid UUID"})
		}
	})
	t.Run("id reused for other bytes: 409", func(t *testing.T) {
		token := h.token("user_42")
		decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 440), "audio/wav"), 201)
		expectError(t, h.put(noteID, token, makeWAV(8000, 1, 660), "audio/wav"), 409, 2003,
			map[string]any{"field": "voicenote_id", "value": noteID, "reason": "already used for a different recording"})
	})
}

// mb30 is the reference's example size: 30 MB, in the binary megabytes of the limit.
const mb30 = 30 << 20

func TestFileSizeExceeded2004(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	want := map[string]any{"max_size": "25MB", "actual_size": "30MB"}
	t.Run("declared length, refused before reading", func(t *testing.T) {
		// A raw connection that sends the headers and no body at all: an answer can only
		// come from the Content-Length.
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /v1/voicenotes/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: audio/wav\r\nContent-Length: %d\r\n\r\n", noteID, token, mb30)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		expectError(t, resp, 400, 2004, want)
	})
	t.Run("undeclared length, cut off while streaming", func(t *testing.T) {
		wavHead := makeWAV(48000, 0.1, 440)[:44]
		body := io.MultiReader(bytes.NewReader(wavHead), io.LimitReader(zeros{}, mb30-int64(len(wavHead))))
		resp := h.do(request{method: "PUT", path: "/v1/voicenotes/" + noteID, token: token, body: body,
			header: http.Header{"Content-Type": {"audio/wav"}}})
		if resp.Request.ContentLength != 0 {
			t.Fatalf("the body went with a length: %d", resp.Request.ContentLength)
		}
		expectError(t, resp, 400, 2004, want)
	})
	expectError(t, h.get("/v1/voicenotes/"+noteID, token), 404, 6001, map[string]any{"voicenote_id": noteID})
	expectEmptyDir(t, filepath.Join(h.dataDir, "tmp"))
	if got := validate.SizeLabel(mb30); got != "30MB" {
		t.Errorf("SizeLabel(30 MiB) = %q", got)
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func expectEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

func TestUnsupportedAudioFormat2005(t *testing.T) {
	h := newHarness(t)
	// Declared as webm: the bytes decide, not the header.
	expectError(t, h.put(noteID, h.token("user_42"), makeMP3(), "audio/webm"), 400, 2005,
		map[string]any{"format": "mp3", "supported_formats": []string{"webm", "wav", "ogg"}})
	expectError(t, h.put(noteID, h.token("user_42"), []byte("just some text, not audio at all"), "audio/ogg"), 400, 2005,
		map[string]any{"format": "unknown", "supported_formats": []string{"webm", "wav", "ogg"}})
}

func TestRecordingTooLong2006(t *testing.T) {
	h := newHarness(t)
	expectError(t, h.put(noteID, h.token("user_42"), makeWAV(8000, 75, 440), "audio/wav"), 400, 2006,
		map[string]any{"max_duration": 60, "actual_duration": 75})
	// Within the 0.5 s tolerance for container rounding.
	decode[voiceNote](t, h.put(noteID, h.token("user_42"), makeWAV(8000, 60.4, 440), "audio/wav"), 201)
}

func TestAudioProcessingFailed3004(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	whole := makeWAV(8000, 1, 440)
	cases := map[string][]byte{
		"wav cut in its fmt chunk": whole[:30],
		"wav with no samples":      whole[:44],
	}
	if webm, err := os.ReadFile("../../internal/audio/testdata/seed/mediarecorder.webm"); err == nil {
		cases["webm cut before its first block"] = webm[:300]
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			expectError(t, h.put(noteID, token, b, "audio/wav"), 422, 3004, nil)
		})
	}
}

func TestRateLimitExceeded4003(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	for i := 1; i <= 100; i++ {
		resp := h.get("/v1/voicenotes", token)
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if got, want := resp.Header.Get("X-RateLimit-Remaining"), fmt.Sprint(100-i); got != want {
			t.Fatalf("request %d: X-RateLimit-Remaining %s, want %s", i, got, want)
		}
	}
	h.clock.Advance(15 * time.Second) // the window opened 15 s ago: 45 s to go, as in the reference
	resp := h.get("/v1/voicenotes", token)
	expectError(t, resp, 429, 4003, map[string]any{"limit": 100, "window": "1 minute", "retry_after": 45})
	wantHeaders := map[string]string{
		"Retry-After":           "45",
		"X-RateLimit-Limit":     "100",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset":     fmt.Sprint(h.clock.Now().Add(45 * time.Second).Unix()),
	}
	for k, v := range wantHeaders {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	// Another identity has its own budget; the window's end lets the first one in again.
	decode[map[string]any](t, h.get("/v1/voicenotes", h.token("user_43")), 200)
	h.clock.Advance(45 * time.Second)
	decode[map[string]any](t, h.get("/v1/voicenotes", token), 200)

	t.Run("per client address on /v1/tokens", func(t *testing.T) {
		h := newHarness(t)
		for range 100 {
			io.Copy(io.Discard, h.mintOverHTTP(`{"identity":"user_42"}`).Body)
		}
		expectError(t, h.mintOverHTTP(`{"identity":"user_42"}`), 429, 4003,
			map[string]any{"limit": 100, "window": "1 minute", "retry_after": 60})
	})
}

func TestInternalServerError5001(t *testing.T) {
	h := newHarness(t, func(c *api.Config) {
		c.TestRoutes = map[string]http.HandlerFunc{
			"GET /v1/test/panic": func(http.ResponseWriter, *http.Request) {
				panic("secret detail: /var/lib/vocafuse/voicenotes.db")
			},
		}
	})
	resp := h.get("/v1/test/panic", "")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	expectError(t, resp, 500, 5001, nil)
	for _, leak := range []string{"goroutine", "secret", "/var/lib", ".go:"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("the body leaks %q: %s", leak, raw)
		}
	}
	// The server is still there.
	decode[map[string]any](t, h.get("/v1/health", ""), 200)
}

func TestServiceUnavailable5002WhileDraining(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	wavBytes := makeWAV(8000, 2, 440)
	pr, pw := io.Pipe()
	uploaded := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("PUT", h.url+"/v1/voicenotes/"+noteID, pr)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(uploaded)
			return
		}
		uploaded <- resp
	}()
	defer pw.Close() // on any failure, so the server is not left waiting for the body
	pw.Write(wavBytes[:1000])
	// The upload is under way once its handler has made the temporary file.
	waitFor(t, "the upload to start", func() bool {
		entries, _ := os.ReadDir(filepath.Join(h.dataDir, "tmp"))
		return len(entries) > 0
	})
	drained := make(chan error, 1)
	go func() { drained <- h.server.Drain(t.Context()) }()

	// New requests are refused while the upload goes on.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := h.get("/v1/health", "")
		if resp.StatusCode == 503 {
			if got := resp.Header.Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After %q", got)
			}
			expectError(t, resp, 503, 5002, nil)
			break
		}
		io.Copy(io.Discard, resp.Body)
		if time.Now().After(deadline) {
			t.Fatal("never started refusing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	expectError(t, h.put("0190a0c0-1111-7000-8000-000000000002", token, wavBytes, "audio/wav"), 503, 5002, nil)
	select {
	case err := <-drained:
		t.Fatalf("drained with an upload under way: %v", err)
	default:
	}
	pw.Write(wavBytes[1000:])
	pw.Close()
	resp := <-uploaded
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	decode[voiceNote](t, resp, 201)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

func TestRecordingNotFound6001(t *testing.T) {
	h := newHarness(t)
	owner := h.token("user_42")
	decode[voiceNote](t, h.put(noteID, owner, makeWAV(8000, 1, 440), "audio/wav"), 201)
	missing := "0190a0c0-1111-7000-8000-0000000000ff"
	t.Run("missing id", func(t *testing.T) {
		expectError(t, h.get("/v1/voicenotes/"+missing, owner), 404, 6001, map[string]any{"voicenote_id": missing})
		expectError(t, h.get("/v1/voicenotes/rec_invalid123", owner), 404, 6001, map[string]any{"voicenote_id": "rec_invalid123"})
		expectError(t, h.do(request{method: "DELETE", path: "/v1/voicenotes/" + missing, token: owner}), 404, 6001,
			map[string]any{"voicenote_id": missing})
	})
	t.Run("another identity's id, exactly like a missing one", func(t *testing.T) {
		other := h.token("user_43")
		for _, path := range []string{"", "/audio", "/transcription"} {
			expectError(t, h.get("/v1/voicenotes/"+noteID+path, other), 404, 6001, map[string]any{"voicenote_id": noteID})
		}
		expectError(t, h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteID, token: other}), 404, 6001,
			map[string]any{"voicenote_id": noteID})
		// Its own PUT of the same id is its own voice note, not a conflict that would
		// tell it the id is taken.
		decode[voiceNote](t, h.put(noteID, other, makeWAV(8000, 1, 880), "audio/wav"), 201)
		decode[voiceNote](t, h.get("/v1/voicenotes/"+noteID, owner), 200)
	})
}

func TestTranscriptionNotFound6002(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 440), "audio/wav"), 201)
	expectError(t, h.get("/v1/voicenotes/"+noteID+"/transcription", token), 404, 6002, map[string]any{"voicenote_id": noteID})
}

package vocafuse_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vocafuse/recorder/vocafuse"
)

// fakeAPI answers POST /v1/tokens with a token and every other request with the next
// of answers ("status body" pairs), then 200 with a voice note.
func fakeAPI(answers ...string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_example")
		if r.URL.Path == "/v1/tokens" {
			w.WriteHeader(201)
			fmt.Fprint(w, `{"token":"t","identity":"user_42","expires_in":3600,"expires_at":"2099-01-01T00:00:00Z"}`)
			return
		}
		n := int(calls.Add(1)) - 1
		if n < len(answers) {
			status, body, _ := strings.Cut(answers[n], " ")
			var code int
			fmt.Sscan(status, &code)
			if code == 429 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(code)
			fmt.Fprint(w, body)
			return
		}
		fmt.Fprint(w, `{"id":"rec_123","identity":"user_42","format":"webm","status":"uploaded"}`)
	}))
	return srv, &calls
}

const (
	notFoundAnswer  = `404 {"error":{"code":6001,"message":"Voice note not found","details":{"voicenote_id":"rec_123"}}}`
	rateLimitAnswer = `429 {"error":{"code":4003,"message":"Rate limit exceeded","details":{"limit":100,"window":"1 minute","retry_after":1}}}`
)

// Get a voice note and handle each kind of error, as the reference's first example
// does with AuthenticationError, NotFoundError, RateLimitError and VocaFuseError.
func Example_errorHandling() {
	api, _ := fakeAPI(notFoundAnswer)
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "...", vocafuse.WithBaseURL(api.URL))

	_, err := client.VoiceNotes("user_42").Get(context.Background(), "rec_123")
	var apiErr *vocafuse.Error
	switch {
	case err == nil:
		fmt.Println("found")
	case errors.Is(err, vocafuse.ErrAuthentication): // 1001 or 1002
		fmt.Println("Authentication failed:", err)
	case errors.Is(err, vocafuse.ErrNotFound): // 6001
		errors.As(err, &apiErr)
		fmt.Println("Voice note not found:", apiErr.Message, apiErr.Details["voicenote_id"])
	case errors.Is(err, vocafuse.ErrRateLimit): // 4003
		wait, _ := vocafuse.RetryAfter(err)
		fmt.Println("Rate limited. Retry after", wait)
	case errors.As(err, &apiErr):
		fmt.Printf("API Error %d: %s\n", apiErr.Code, apiErr.Message)
	default:
		fmt.Println("Unexpected error:", err)
	}
	// Output: Voice note not found: Voice note not found rec_123
}

// The client retries a 4003 by itself after retry_after; this is the reference's
// get_voicenote_with_retry for a caller that wants its own loop (WithRetries(0)).
func Example_retryOnRateLimit() {
	api, calls := fakeAPI(rateLimitAnswer)
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "...", vocafuse.WithBaseURL(api.URL), vocafuse.WithRetries(0))

	getWithRetry := func(ctx context.Context, id string, maxRetries int) (*vocafuse.VoiceNote, error) {
		for attempt := 0; ; attempt++ {
			note, err := client.VoiceNotes("user_42").Get(ctx, id)
			wait, rateLimited := vocafuse.RetryAfter(err)
			if err == nil || attempt == maxRetries-1 || !rateLimited {
				return note, err
			}
			fmt.Printf("Rate limited. Waiting %v...\n", wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	note, err := getWithRetry(context.Background(), "rec_123", 3)
	fmt.Println(note.ID, err, calls.Load(), "calls")
	// Output:
	// Rate limited. Waiting 1s...
	// rec_123 <nil> 2 calls
}

// An *Error logs as a group of attributes with log/slog, like the reference's
// logger.error('API error', extra={...}).
func Example_logAPIError() {
	api, _ := fakeAPI(notFoundAnswer)
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "...", vocafuse.WithBaseURL(api.URL))
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a stable line for the example
			}
			return a
		}}))

	if _, err := client.VoiceNotes("user_42").Get(context.Background(), "rec_123"); err != nil {
		logger.Error("API error", "error", err, "voicenote_id", "rec_123", "user_id", "user_42")
	}
	// Output: level=ERROR msg="API error" error.code=6001 error.name=RECORDING_NOT_FOUND error.message="Voice note not found" error.status=404 error.request_id=req_example error.request="GET /v1/voicenotes/rec_123" error.details=map[voicenote_id:rec_123] voicenote_id=rec_123 user_id=user_42
}

// The reference's test_retry_on_rate_limit: a fake rate limit, then the answer; the
// client waits retry_after and calls twice.
func TestRetryOnRateLimit(t *testing.T) {
	api, calls := fakeAPI(rateLimitAnswer)
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "...", vocafuse.WithBaseURL(api.URL))
	start := time.Now()
	note, err := client.VoiceNotes("user_42").Get(t.Context(), "rec_123")
	if err != nil || note == nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || time.Since(start) < time.Second {
		t.Errorf("%d calls in %v, want 2 with retry_after's second between", calls.Load(), time.Since(start))
	}
}

// The reference's test_handles_not_found.
func TestHandlesNotFound(t *testing.T) {
	api, _ := fakeAPI(notFoundAnswer)
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "...", vocafuse.WithBaseURL(api.URL))
	_, err := client.VoiceNotes("user_42").Get(t.Context(), "invalid_id")
	var e *vocafuse.Error
	if !errors.As(err, &e) || e.Code != 6001 || !errors.Is(err, vocafuse.ErrNotFound) {
		t.Fatalf("%v", err)
	}
}

// What is not the API's answer is a clear *Error, never a panic: an HTML page from a
// proxy, an empty body, a 2xx that is not JSON, no answer at all.
func TestAnswersThatAreNotTheAPIs(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		ctype    string
		body     string
		sentinel error
		says     string
	}{
		{"HTML from a proxy", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", vocafuse.ErrServer, "not the API's error envelope (text/html)"},
		{"empty 500", 500, "", "", vocafuse.ErrServer, "empty answer with HTTP status 500"},
		{"empty 404", 404, "", "", vocafuse.ErrNotFound, "empty answer with HTTP status 404"},
		{"JSON that is not an envelope", 400, "application/json", `{"oops":true}`, vocafuse.ErrValidation, "not the API's error envelope"},
		{"2xx HTML", 200, "text/html", "<html>hi</html>", nil, "answer is not JSON (text/html)"},
		{"2xx empty", 200, "", "", nil, "empty answer with HTTP status 200 where JSON was expected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			client := vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL), vocafuse.WithBackoff(time.Millisecond, 5*time.Millisecond))
			_, err := client.Webhooks.Get(t.Context(), "wh_1")
			var e *vocafuse.Error
			if !errors.As(err, &e) || e.Code != 0 || e.StatusCode != tc.status || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v", err)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("not %v", tc.sentinel)
			}
			if want := map[bool]int32{true: 1 + vocafuse.DefaultRetries, false: 1}[tc.status == 502]; calls.Load() != want {
				t.Errorf("%d calls, want %d (a 502 is retried)", calls.Load(), want)
			}
		})
	}

	t.Run("no answer", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		client := vocafuse.NewClient("k", "s", vocafuse.WithBaseURL("http://"+addr), vocafuse.WithBackoff(time.Millisecond, 5*time.Millisecond))
		_, err = client.Webhooks.List(t.Context())
		var e *vocafuse.Error
		if !errors.As(err, &e) || !errors.Is(err, vocafuse.ErrNetwork) || e.Err == nil || e.StatusCode != 0 {
			t.Fatalf("%v", err)
		}
		for _, s := range []error{vocafuse.ErrServer, vocafuse.ErrNotFound, vocafuse.ErrAuthentication} {
			if errors.Is(err, s) {
				t.Errorf("a network failure is %v", s)
			}
		}
	})
}

// Signing and verifying, without a server: the scheme of RequestValidator, a
// tolerance on the timestamp, and no panic on garbage.
func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"id":"evt_1","event":"voicenote.created","created_at":"2026-03-01T12:00:00Z","data":{"id":"x"}}`)
	now := time.Unix(1_800_000_000, 0)
	ts := fmt.Sprint(now.Unix())
	h := http.Header{}
	h.Set(vocafuse.HeaderTimestamp, ts)
	h.Set(vocafuse.HeaderDeliveryID, "dlv_1")
	h.Set(vocafuse.HeaderSignature, vocafuse.SignWebhook("s3cret", ts, "dlv_1", body))
	if !nodeValidate("s3cret", string(body), h.Get(vocafuse.HeaderSignature), ts, "dlv_1") {
		t.Fatal("SignWebhook is not RequestValidator's scheme")
	}
	v := vocafuse.WebhookVerifier{Secret: "s3cret", Now: func() time.Time { return now.Add(time.Minute) }}
	if e, err := v.VerifyPayload(body, h); err != nil || e.DeliveryID != "dlv_1" || e.Event != "voicenote.created" {
		t.Fatalf("%+v %v", e, err)
	}
	old := v
	old.Now = func() time.Time { return now.Add(6 * time.Minute) }
	if _, err := old.VerifyPayload(body, h); !errors.Is(err, vocafuse.ErrTimestamp) {
		t.Errorf("old: %v", err)
	}
	for name, mutate := range map[string]func(http.Header){
		"no signature":    func(h http.Header) { h.Del(vocafuse.HeaderSignature) },
		"not hex":         func(h http.Header) { h.Set(vocafuse.HeaderSignature, "sha256=zz") },
		"short":           func(h http.Header) { h.Set(vocafuse.HeaderSignature, "abc") },
		"other delivery":  func(h http.Header) { h.Set(vocafuse.HeaderDeliveryID, "dlv_2") },
		"other timestamp": func(h http.Header) { h.Set(vocafuse.HeaderTimestamp, fmt.Sprint(now.Unix()+1)) },
	} {
		hh := h.Clone()
		mutate(hh)
		if _, err := v.VerifyPayload(body, hh); !errors.Is(err, vocafuse.ErrInvalidSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The one call, with the real clock.
	fresh := fmt.Sprint(time.Now().Unix())
	req := httptest.NewRequest("POST", "/hook", strings.NewReader(string(body)))
	req.Header.Set(vocafuse.HeaderTimestamp, fresh)
	req.Header.Set(vocafuse.HeaderDeliveryID, "dlv_1")
	req.Header.Set(vocafuse.HeaderSignature, vocafuse.SignWebhook("s3cret", fresh, "dlv_1", body))
	if e, err := vocafuse.VerifyWebhook(req, "s3cret"); err != nil || e.ID != "evt_1" {
		t.Errorf("VerifyWebhook: %+v %v", e, err)
	}
}

package vocafuse_test

// Tests against the real local API server, run as a process (./demo built once).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/internal/demoproc"
	"github.com/vocafuse/recorder/vocafuse"
)

func TestMain(m *testing.M) {
	code := m.Run()
	demoproc.Cleanup()
	os.Exit(code)
}

// countingTransport counts the requests per "METHOD path".
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func newClient(s *demoproc.Server, opts ...vocafuse.Option) *vocafuse.Client {
	return vocafuse.NewClient(demoproc.APIKey, demoproc.APISecret, append([]vocafuse.Option{vocafuse.WithBaseURL(s.URL)}, opts...)...)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// wav is a short valid WAV file: 16-bit mono, a sine.
func wav(seconds float64) []byte {
	const rate = 8000
	n := int(seconds * rate)
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(1))
	w(uint32(rate))
	w(uint32(2 * rate))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(uint32(2 * n))
	for i := range n {
		w(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	return b.Bytes()
}

var idSeq atomic.Int64

func newID() string { return fmt.Sprintf("0190a0c0-7777-7000-8000-%012d", idSeq.Add(1)) }

// upload puts a voice note for identity with a token minted by the client, the way
// the browser SDK would.
func upload(t *testing.T, s *demoproc.Server, c *vocafuse.Client, identity, id string) {
	t.Helper()
	tok, err := c.Tokens.Create(ctxFor(t, 10*time.Second), vocafuse.TokenParams{Identity: identity})
	if err != nil {
		t.Fatal(err)
	}
	putWithToken(t, s, tok.Token, id)
}

// putWithToken uploads a one-second WAV as voice note id with a browser token.
func putWithToken(t *testing.T, s *demoproc.Server, token, id string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", s.URL+"/v1/voicenotes/"+id, bytes.NewReader(wav(1)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "audio/wav")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT %s: %d %s", id, resp.StatusCode, body)
	}
}

// planFault plans a fault with POST /_faults (the server runs with --fault-injection).
func planFault(t *testing.T, s *demoproc.Server, fault string) {
	t.Helper()
	resp, err := http.Post(s.URL+"/_faults", "application/json", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /_faults %s: %d %s", fault, resp.StatusCode, b)
	}
}

// sentinelOf is the category sentinel the reference's code belongs to.
func sentinelOf(code int) error {
	return map[int]error{1: vocafuse.ErrAuthentication, 2: vocafuse.ErrValidation, 3: vocafuse.ErrProcessing,
		4: vocafuse.ErrRateLimit, 5: vocafuse.ErrServer, 6: vocafuse.ErrNotFound}[code/1000]
}

var allSentinels = []error{vocafuse.ErrAuthentication, vocafuse.ErrValidation, vocafuse.ErrProcessing,
	vocafuse.ErrRateLimit, vocafuse.ErrServer, vocafuse.ErrNotFound, vocafuse.ErrNetwork}

// checkError checks that err is the *Error of the catalogue's row for code, and of no
// other category.
func checkError(t *testing.T, err error, code, status int, details map[string]any) *vocafuse.Error {
	t.Helper()
	var e *vocafuse.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not a *vocafuse.Error", err, err)
	}
	entry, ok := catalog.ByAPICode(code)
	if !ok {
		t.Fatalf("no catalogue row for %d", code)
	}
	if status == 0 {
		status = entry.HTTPStatus
	}
	if e.Code != code || e.Name != string(entry.Code) || e.Message != entry.Message || e.StatusCode != status {
		t.Errorf("got %d %s %q HTTP %d, want %d %s %q HTTP %d", e.Code, e.Name, e.Message, e.StatusCode,
			code, entry.Code, entry.Message, status)
	}
	if e.RequestID == "" {
		t.Error("no request id")
	}
	for _, s := range allSentinels {
		if want := s == sentinelOf(code); errors.Is(err, s) != want {
			t.Errorf("errors.Is(err, %v) = %v, want %v", s, !want, want)
		}
	}
	if errors.Is(err, vocafuse.ErrConflict) != (status == http.StatusConflict) {
		t.Errorf("errors.Is(err, ErrConflict) wrong for HTTP %d", status)
	}
	for k, v := range details {
		if fmt.Sprint(e.Details[k]) != fmt.Sprint(v) {
			t.Errorf("details[%q] = %v, want %v (details %v)", k, e.Details[k], v, e.Details)
		}
	}
	return e
}

// Every code the server can answer reaches the client as the right *Error: the codes a
// client call provokes for real, and the rest through a planned fault, which the server
// answers with the catalogue's status and message.
func TestEveryErrorCodeReachesTheClient(t *testing.T) {
	s := demoproc.Start(t, "", "--fault-injection")
	c := newClient(s, vocafuse.WithRetries(0))
	ctx := ctxFor(t, time.Minute)
	noteID := newID()
	upload(t, s, c, "user_rows", noteID)
	notes := c.VoiceNotes("user_rows")

	real := map[int]func(t *testing.T){
		1001: func(t *testing.T) {
			bad := vocafuse.NewClient(demoproc.APIKey, "wrong", vocafuse.WithBaseURL(s.URL), vocafuse.WithRetries(0))
			_, err := bad.Tokens.Create(ctx, vocafuse.TokenParams{Identity: "user_42"})
			checkError(t, err, 1001, 0, nil)
		},
		2002: func(t *testing.T) {
			_, err := c.Tokens.Create(ctx, vocafuse.TokenParams{})
			checkError(t, err, 2002, 0, map[string]any{"field": "identity"})
		},
		2003: func(t *testing.T) {
			_, err := c.Tokens.Create(ctx, vocafuse.TokenParams{Identity: "u", ExpiresIn: 30 * time.Second})
			checkError(t, err, 2003, 0, map[string]any{"field": "expires_in", "value": 30,
				"reason": "must be an integer between 60 and 86400"})
		},
		5005: func(t *testing.T) {
			p := vocafuse.WebhookParams{URL: "http://127.0.0.1:1/rows", Events: []string{vocafuse.EventVoiceNoteCreated}}
			if _, err := c.Webhooks.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			_, err := c.Webhooks.Create(ctx, p)
			checkError(t, err, 5005, 409, map[string]any{"url": p.URL})
		},
		6001: func(t *testing.T) {
			missing := newID()
			_, err := notes.Get(ctx, missing)
			checkError(t, err, 6001, 0, map[string]any{"voicenote_id": missing})
		},
		6002: func(t *testing.T) {
			_, err := notes.Transcription(ctx, noteID)
			checkError(t, err, 6002, 0, map[string]any{"voicenote_id": noteID})
		},
		6003: func(t *testing.T) {
			_, err := c.Webhooks.Get(ctx, "wh_missing")
			checkError(t, err, 6003, 0, map[string]any{"webhook_id": "wh_missing"})
		},
	}
	for _, entry := range catalog.Entries() {
		if entry.APICode == 0 {
			continue
		}
		code := entry.APICode
		t.Run(fmt.Sprintf("%d_%s", code, entry.Code), func(t *testing.T) {
			if provoke, ok := real[code]; ok {
				provoke(t)
				return
			}
			fault := fmt.Sprintf(`{"path_prefix":"/v1/voicenotes/%s","method":"GET","code":%d,"times":1}`, noteID, code)
			switch code {
			case 4003:
				fault = fmt.Sprintf(`{"path_prefix":"/v1/voicenotes/%s","method":"GET","code":4003,"retry_after":7,"times":1}`, noteID)
			case 1002:
				// The client mints a fresh token once on 1002 and tries again: both fail.
				fault = fmt.Sprintf(`{"path_prefix":"/v1/voicenotes/%s","method":"GET","code":1002,"times":2}`, noteID)
			}
			planFault(t, s, fault)
			_, err := notes.Get(ctx, noteID)
			e := checkError(t, err, code, 0, nil)
			if code == 4003 {
				if e.RetryAfter != 7*time.Second || e.Details["limit"] != float64(100) || e.Details["window"] != "1 minute" {
					t.Errorf("4003: RetryAfter %v, details %v", e.RetryAfter, e.Details)
				}
				if d, ok := vocafuse.RetryAfter(err); !ok || d != 7*time.Second {
					t.Errorf("RetryAfter(err) = %v, %v", d, ok)
				}
			}
		})
	}
}

// The reference's retry advice, against planned faults.
func TestRetries(t *testing.T) {
	s := demoproc.Start(t, "", "--fault-injection")
	counter := &countingTransport{}
	c := newClient(s, vocafuse.WithHTTPClient(&http.Client{Transport: counter}),
		vocafuse.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	id := newID()
	upload(t, s, c, "user_retry", id)
	notes := c.VoiceNotes("user_retry")
	get := "GET /v1/voicenotes/" + id
	ctx := ctxFor(t, time.Minute)
	if _, err := notes.Get(ctx, id); err != nil { // the token is minted and cached
		t.Fatal(err)
	}

	t.Run("4003 waits retry_after", func(t *testing.T) {
		before := counter.count(get)
		planFault(t, s, fmt.Sprintf(`{"path_prefix":"/v1/voicenotes/%s","method":"GET","code":4003,"retry_after":1,"times":1}`, id))
		start := time.Now()
		note, err := notes.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < time.Second {
			t.Errorf("retried after %v, want at least the 1 s of retry_after", elapsed)
		}
		if n := counter.count(get) - before; n != 2 || note.ID != id {
			t.Errorf("%d requests, want one retry", n)
		}
	})

	t.Run("three 503s then success", func(t *testing.T) {
		before := counter.count(get)
		planFault(t, s, fmt.Sprintf(`{"path_prefix":"/v1/voicenotes/%s","method":"GET","status":503,"code":5002,"times":3}`, id))
		if _, err := notes.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if n := counter.count(get) - before; n != 4 {
			t.Errorf("%d requests, want 4", n)
		}
	})

	t.Run("503 forever", func(t *testing.T) {
		planFault(t, s, fmt.Sprintf(`{"path_prefix":"/v1/voicenotes/%s","method":"GET","status":503,"code":5002,"times":1000}`, id))
		t.Cleanup(func() {
			req, _ := http.NewRequest("DELETE", s.URL+"/_faults", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
		before := counter.count(get)
		deadline := 10 * time.Second
		ctx := ctxFor(t, deadline)
		start := time.Now()
		_, err := notes.Get(ctx, id)
		checkError(t, err, 5002, 503, nil)
		if n := counter.count(get) - before; n != 1+vocafuse.DefaultRetries {
			t.Errorf("%d attempts, want %d", n, 1+vocafuse.DefaultRetries)
		}
		if time.Since(start) >= deadline {
			t.Errorf("took %v, past the context's deadline", time.Since(start))
		}

		// A context whose deadline comes before the next backoff ends the retries at
		// once, with the last answer.
		slow := newClient(s, vocafuse.WithRetries(10), vocafuse.WithBackoff(5*time.Second, time.Minute))
		short := ctxFor(t, 2*time.Second)
		start = time.Now()
		_, err = slow.VoiceNotes("user_retry").Get(short, id)
		checkError(t, err, 5002, 503, nil)
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("took %v with a 2 s deadline", elapsed)
		}
	})

	t.Run("not repeated: creating a webhook after a 5001", func(t *testing.T) {
		before := counter.count("POST /v1/webhooks")
		planFault(t, s, `{"path_prefix":"/v1/webhooks","method":"POST","code":5001,"times":1}`)
		_, err := c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "http://127.0.0.1:1/once", Events: []string{"voicenote.created"}})
		checkError(t, err, 5001, 500, nil)
		if n := counter.count("POST /v1/webhooks") - before; n != 1 {
			t.Errorf("%d attempts of a request not safe to repeat", n)
		}
	})
}

// The client reads every voice-note route.
func TestVoiceNotes(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)
	var ids []string
	for range 5 {
		id := newID()
		upload(t, s, c, "user_list", id)
		ids = append(ids, id)
	}
	notes := c.VoiceNotes("user_list")
	var got []string
	pages := 0
	for page, err := range notes.Pages(ctx, vocafuse.ListParams{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, n := range page.Data {
			got = append(got, n.ID)
		}
	}
	if pages != 3 || len(got) != 5 || got[0] != ids[4] || got[4] != ids[0] {
		t.Errorf("%d pages, %v; want newest first of %v", pages, got, ids)
	}
	n := 0
	for note, err := range notes.All(ctx, vocafuse.ListParams{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
		_ = note
	}
	note, err := notes.Get(ctx, ids[0])
	if err != nil || note.Format != "wav" || note.Identity != "user_list" || note.Duration != 1 {
		t.Fatalf("%+v %v", note, err)
	}
	audio, err := notes.Audio(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(audio)
	audio.Close()
	if !bytes.Equal(b, wav(1)) || audio.ContentType != "audio/wav" {
		t.Errorf("audio: %d bytes of %s", len(b), audio.ContentType)
	}
	if err := notes.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	_, err = notes.Get(ctx, ids[0])
	checkError(t, err, 6001, 0, nil)
	// Another identity's voice note does not exist for this one.
	_, err = c.VoiceNotes("someone_else").Get(ctx, ids[1])
	checkError(t, err, 6001, 0, nil)
}

// The token endpoint in two lines, against the real API: a browser with an identity gets
// { token, expires_in } and the token uploads; one without is refused.
func TestTokenHandler(t *testing.T) {
	s := demoproc.Start(t, "")
	client := newClient(s)
	h := vocafuse.TokenHandler(client, func(r *http.Request) (string, error) { return r.Header.Get("X-Test-User"), nil })

	rec := serve(h, "POST", "", map[string]string{"X-Test-User": "user_77"})
	var answer struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
		Identity  string `json:"identity"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &answer); err != nil || rec.status != 201 {
		t.Fatalf("%d %s", rec.status, rec.body.String())
	}
	if answer.Token == "" || answer.ExpiresIn != 600 || answer.Identity != "user_77" {
		t.Errorf("%+v", answer)
	}
	if rec.header.Get("Cache-Control") != "no-store" {
		t.Error("a token answer may be cached")
	}
	req, _ := http.NewRequest("PUT", s.URL+"/v1/voicenotes/"+newID(), bytes.NewReader(wav(1)))
	req.Header.Set("Authorization", "Bearer "+answer.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("upload with the endpoint's token: %d", resp.StatusCode)
	}

	rec = serve(h, "POST", "", nil)
	if rec.status != 401 || !strings.Contains(rec.body.String(), `"code":1001`) {
		t.Errorf("no identity: %d %s", rec.status, rec.body.String())
	}
	// The body is ignored unless FromBody is set; an identity in it never counts.
	rec = serve(h, "POST", `{"identity":"admin","expires_in":60}`, map[string]string{"X-Test-User": "user_77"})
	if rec.status != 201 || !strings.Contains(rec.body.String(), `"identity":"user_77"`) || !strings.Contains(rec.body.String(), `"expires_in":600`) {
		t.Errorf("%d %s", rec.status, rec.body.String())
	}
	h.FromBody = true
	rec = serve(h, "POST", `{"identity":"admin","expires_in":60}`, map[string]string{"X-Test-User": "user_77"})
	if rec.status != 201 || !strings.Contains(rec.body.String(), `"identity":"user_77"`) || !strings.Contains(rec.body.String(), `"expires_in":60`) {
		t.Errorf("%d %s", rec.status, rec.body.String())
	}
	rec = serve(h, "POST", `{"expires_in":30}`, map[string]string{"X-Test-User": "user_77"})
	if rec.status != 400 || !strings.Contains(rec.body.String(), `"code":2003`) {
		t.Errorf("%d %s", rec.status, rec.body.String())
	}
	// The backend's own credentials refused: the browser learns only 5001.
	bad := vocafuse.TokenHandler(vocafuse.NewClient(demoproc.APIKey, "wrong", vocafuse.WithBaseURL(s.URL)),
		func(*http.Request) (string, error) { return "user_77", nil })
	if rec = serve(bad, "POST", "", nil); rec.status != 500 || !strings.Contains(rec.body.String(), `"code":5001`) {
		t.Errorf("%d %s", rec.status, rec.body.String())
	}
}

// The demo's /api/token is that handler, through POST /v1/tokens: the same wire
// behaviour (a cookieless visitor gets an HttpOnly cookie, { token, expires_in }), and
// the rate limit is still the browser address's alone: the inner call is not counted.
func TestDemoTokenRouteGoesThroughTheAPI(t *testing.T) {
	s := demoproc.Start(t, "")
	resp, err := http.Post(s.URL+"/api/token", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var answer map[string]any
	_ = json.Unmarshal(b, &answer)
	cookies := resp.Cookies()
	if resp.StatusCode != 201 || answer["token"] == "" || answer["expires_in"] != float64(600) ||
		len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].Name != "vocafuse_visitor" {
		t.Fatalf("%d %s %v", resp.StatusCode, b, cookies)
	}
	waitFor(t, "the log line of POST /v1/tokens", func() bool {
		return strings.Contains(s.Log(), `"method":"POST","path":"/v1/tokens","status":201`)
	})
	// 100 a minute per address: the first request above was the first of them. The
	// visitor keeps its cookie, as a browser does: new visitors have a lower limit of
	// their own (20 a minute per address), which this is not about.
	for i := 2; i <= 101; i++ {
		req, _ := http.NewRequest("POST", s.URL+"/api/token", nil)
		req.AddCookie(cookies[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := map[bool]int{true: 201, false: 429}[i <= 100]; resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// recorder is a minimal ResponseWriter for calling a handler directly.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}

func serve(h http.Handler, method, body string, headers map[string]string) *recorder {
	req, _ := http.NewRequest(method, "http://backend.example/api/token", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	return rec
}

// queryTransport records the query string of each GET /v1/voicenotes.
type queryTransport struct {
	mu      sync.Mutex
	queries []string
}

func (q *queryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == "GET" && r.URL.Path == "/v1/voicenotes" {
		q.mu.Lock()
		q.queries = append(q.queries, r.URL.RawQuery)
		q.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (q *queryTransport) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	got := q.queries
	q.queries = nil
	return got
}

// The account's voice notes, read with the API key and secret and no identity, as
// VocaFuse's SDKs read them: numbered pages, filters, the iterator, and each call on
// one voice note, another identity's included.
func TestAccountVoiceNotes(t *testing.T) {
	s := demoproc.Start(t, "")
	queries := &queryTransport{}
	c := newClient(s, vocafuse.WithHTTPClient(&http.Client{Transport: queries}))
	ctx := ctxFor(t, 2*time.Minute)
	before := time.Now().Add(-2 * time.Second)
	var ids []string
	for i := range 5 {
		id := newID()
		upload(t, s, c, []string{"user_a", "user_b"}[i%2], id) // a, b, a, b, a
		ids = append(ids, id)
	}
	after := time.Now().Add(2 * time.Second)
	notes := c.VoiceNotes()

	page, err := notes.List(ctx, vocafuse.ListParams{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := (vocafuse.Pagination{Page: 0, Limit: 2, Total: 5, HasMore: true}); page.Pagination != want || !page.HasMore {
		t.Errorf("pagination %+v, want %+v", page.Pagination, want)
	}
	if len(page.Data) != 2 || page.Data[0].ID != ids[4] || page.Data[1].ID != ids[3] {
		t.Errorf("page 0: %v, want the newest two of %v", idsOf(page.Data), ids)
	}
	if q := queries.take(); len(q) != 1 || q[0] != "limit=2&page=0" {
		t.Errorf("queries %q", q)
	}

	// The iterator asks page 0, 1, 2 and stops where has_more is false.
	var got []string
	for note, err := range notes.All(ctx, vocafuse.ListParams{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, note.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Errorf("All: %v, want newest first of %v", got, ids)
	}
	if q := queries.take(); fmt.Sprint(q) != "[limit=2&page=0 limit=2&page=1 limit=2&page=2]" {
		t.Errorf("All asked %q", q)
	}
	// Breaking out fetches nothing more.
	for range notes.All(ctx, vocafuse.ListParams{Limit: 2}) {
		break
	}
	if q := queries.take(); len(q) != 1 {
		t.Errorf("a loop left at once asked %q", q)
	}
	// Pages from a later page.
	n := 0
	for page, err := range notes.Pages(ctx, vocafuse.ListParams{Page: 1, Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; page.Pagination.Page != n {
			t.Errorf("page %d numbered %d", n, page.Pagination.Page)
		}
	}
	if n != 2 {
		t.Errorf("%d pages from page 1, want 2", n)
	}

	// The identity filter.
	page, err = notes.List(ctx, vocafuse.ListParams{Identity: "user_b"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Pagination.Total != 2 || len(page.Data) != 2 || page.Data[0].ID != ids[3] || page.Data[1].ID != ids[1] {
		t.Errorf("user_b: %v (%+v)", idsOf(page.Data), page.Pagination)
	}
	for _, n := range page.Data {
		if n.Identity != "user_b" {
			t.Errorf("%s is %s's", n.ID, n.Identity)
		}
	}

	// The status filter: every note is in exactly one status.
	total := 0
	for _, status := range []string{vocafuse.StatusProcessing, vocafuse.StatusTranscribed, vocafuse.StatusFailed} {
		for note, err := range notes.All(ctx, vocafuse.ListParams{Status: status}) {
			if err != nil {
				t.Fatal(err)
			}
			if note.Status != status {
				t.Errorf("status=%s listed %s, %s", status, note.ID, note.Status)
			}
			total++
		}
	}
	// A note may move from processing to its end between two listings, so it may be
	// counted twice, never missed.
	if total < 5 {
		t.Errorf("%d notes over the three statuses, want 5", total)
	}

	// The date filters, both ends included.
	queries.take()
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"around the uploads", before, after, 5},
		{"from later", after, time.Time{}, 0},
		{"until earlier", time.Time{}, before, 0},
		{"from earlier", before, time.Time{}, 5},
	} {
		page, err := notes.List(ctx, vocafuse.ListParams{DateFrom: tc.from, DateTo: tc.to})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if page.Pagination.Total != tc.want || len(page.Data) != tc.want {
			t.Errorf("%s: %d (%+v), want %d", tc.name, len(page.Data), page.Pagination, tc.want)
		}
	}
	if q := queries.take(); !strings.Contains(q[0], "date_from="+before.UTC().Format("2006-01-02T15")) {
		t.Errorf("date_from sent as %q", q[0])
	}

	// Filters the API cannot apply are 2003, never ignored.
	_, err = notes.List(ctx, vocafuse.ListParams{Status: "completed"})
	checkError(t, err, 2003, 0, map[string]any{"field": "status", "value": "completed"})
	_, err = notes.List(ctx, vocafuse.ListParams{Limit: 101})
	checkError(t, err, 2003, 0, map[string]any{"field": "limit"})
	_, err = notes.List(ctx, vocafuse.ListParams{DateFrom: after, DateTo: before})
	checkError(t, err, 2003, 0, map[string]any{"field": "date_to"})

	// One voice note, user_a's, read with the key.
	note, err := notes.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(wav(1)))
	if note.ID != ids[0] || note.Identity != "user_a" || note.Format != "wav" || note.MimeType != "audio/wav" ||
		note.FileSize != size || note.Size != size || note.Duration != 1 || note.CreatedAt.IsZero() ||
		note.UpdatedAt.Before(note.CreatedAt) || note.AudioURL == "" {
		t.Errorf("%+v", note)
	}
	switch note.Status {
	case vocafuse.StatusProcessing, vocafuse.StatusTranscribed, vocafuse.StatusFailed:
	default:
		t.Errorf("status %q", note.Status)
	}
	audio, err := notes.Audio(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(audio)
	audio.Close()
	if !bytes.Equal(b, wav(1)) || audio.ContentType != "audio/wav" {
		t.Errorf("audio: %d bytes of %s", len(b), audio.ContentType)
	}
	missing := newID()
	_, err = notes.Get(ctx, missing)
	checkError(t, err, 6001, 0, map[string]any{"voicenote_id": missing})
	_, err = notes.Transcription(ctx, missing)
	checkError(t, err, 6001, 0, map[string]any{"voicenote_id": missing})

	// Deleted with the key: gone for the key and for its identity.
	if err := notes.Delete(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	_, err = notes.Get(ctx, ids[2])
	checkError(t, err, 6001, 0, nil)
	_, err = c.VoiceNotes("user_a").Get(ctx, ids[2])
	checkError(t, err, 6001, 0, nil)
	err = notes.Delete(ctx, ids[2])
	checkError(t, err, 6001, 0, nil)
	if page, err := notes.List(ctx, vocafuse.ListParams{}); err != nil || page.Pagination.Total != 4 {
		t.Errorf("after the delete: %+v %v", page, err)
	}

	// A wrong secret is 1001 on every voice-note call.
	bad := vocafuse.NewClient(demoproc.APIKey, "wrong-secret-wrong", vocafuse.WithBaseURL(s.URL))
	_, err = bad.VoiceNotes().List(ctx, vocafuse.ListParams{})
	checkError(t, err, 1001, 0, nil)
	_, err = bad.VoiceNotes().Get(ctx, ids[0])
	checkError(t, err, 1001, 0, nil)
}

// A voice note's transcription with the key: 6002 while it is processing, then the
// transcription (or 3003 when it failed), in VocaFuse's shape.
func TestAccountTranscription(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, 2*time.Minute)
	id := newID()
	upload(t, s, c, "user_tr", id)
	notes := c.VoiceNotes()
	var note *vocafuse.VoiceNote
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if note, err = notes.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if note.Status != vocafuse.StatusProcessing || time.Now().After(deadline) {
			break
		}
	}
	tr, err := notes.Transcription(ctx, id)
	t.Logf("status %s: %v", note.Status, err)
	switch note.Status {
	case vocafuse.StatusProcessing:
		// The note may have ended since; only a 6002 is a finding here.
		if err == nil || errors.Is(err, vocafuse.ErrProcessing) {
			t.Errorf("still processing after 45 s, then %v", err)
			break
		}
		checkError(t, err, 6002, 0, map[string]any{"voicenote_id": id})
		t.Errorf("the voice note is still processing after 45 s: the server does not transcribe yet")
	case vocafuse.StatusFailed:
		// A sine has no speech.
		checkError(t, err, 3003, 422, map[string]any{"voicenote_id": id})
	case vocafuse.StatusTranscribed:
		if err != nil {
			t.Fatal(err)
		}
		if tr.VoiceNoteID != id || tr.ID == "" || tr.CreatedAt.IsZero() || tr.Language == "" ||
			tr.Confidence < 0 || tr.Confidence > 1 || len(tr.Raw) == 0 {
			t.Errorf("%+v", tr)
		}
		for _, w := range tr.Words {
			if w.Word == "" || w.EndTime < w.StartTime || w.Confidence < 0 || w.Confidence > 1 {
				t.Errorf("word %+v", w)
			}
		}
	default:
		t.Errorf("status %q", note.Status)
	}
}

// POST /v1/token, as VocaFuse's AccessToken.generate() calls it: the token uploads as
// the user_id, and the API's checks come back as *Error.
func TestGenerateToken(t *testing.T) {
	s := demoproc.Start(t, "")
	counter := &countingTransport{}
	c := newClient(s, vocafuse.WithHTTPClient(&http.Client{Transport: counter}))
	ctx := ctxFor(t, time.Minute)

	tok, err := c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "user_gen", ExpiresIn: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if counter.count("POST /v1/token") != 1 || counter.count("POST /v1/tokens") != 0 {
		t.Errorf("requests %v", counter.n)
	}
	if tok.JWTToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 600 || tok.Identity != "user_gen" ||
		tok.ExpiresAt.Sub(time.Now().Add(10*time.Minute)).Abs() > time.Minute {
		t.Errorf("%+v", tok)
	}
	if sub := jwtClaim(t, tok.JWTToken, "sub"); sub != "user_gen" {
		t.Errorf("sub %v", sub)
	}
	// The default scope uploads.
	id := newID()
	putWithToken(t, s, tok.JWTToken, id)
	if note, err := c.VoiceNotes().Get(ctx, id); err != nil || note.Identity != "user_gen" {
		t.Errorf("%+v %v", note, err)
	}

	// Scopes as given; the API's default lifetime is an hour.
	tok, err = c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "user_gen",
		Scopes: []string{vocafuse.ScopeUploadVoiceNote}})
	if err != nil || tok.ExpiresIn != 3600 {
		t.Errorf("%+v %v", tok, err)
	}

	_, err = c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{})
	checkError(t, err, 2002, 0, map[string]any{"field": "user_id"})
	_, err = c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "u", ExpiresIn: 30 * time.Second})
	checkError(t, err, 2003, 0, map[string]any{"field": "expires_in", "value": 30,
		"reason": "must be an integer between 60 and 86400"})
	_, err = c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "u", Scopes: []string{"voice-api.everything"}})
	checkError(t, err, 2003, 0, nil)
	bad := vocafuse.NewClient(demoproc.APIKey, "wrong-secret-wrong", vocafuse.WithBaseURL(s.URL), vocafuse.WithRetries(0))
	_, err = bad.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "u"})
	checkError(t, err, 1001, 0, nil)
}

// jwtClaim reads one claim of a JWT's payload, unverified.
func jwtClaim(t *testing.T, jwt, claim string) any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims[claim]
}

// GET and PUT /v1/account: the account, its settings merged, its usage counted.
func TestAccount(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)
	upload(t, s, c, "user_acc", newID())

	acc, err := c.Account.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acc.ID == "" || acc.TenantID == "" || acc.Plan == "" || acc.CreatedAt.IsZero() || acc.Usage.VoiceNotesCount != 1 ||
		acc.Usage.TotalDuration != 1 || acc.Usage.APICallsCount < 1 {
		t.Errorf("%+v", acc)
	}

	acc, err = c.Account.Update(ctx, vocafuse.AccountUpdate{Name: "My Company",
		Settings: vocafuse.AccountSettingsUpdate{DefaultLanguage: new("en-US")}})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Name != "My Company" || acc.Settings.DefaultLanguage != "en-US" {
		t.Errorf("%+v", acc)
	}
	// Only what is set changes.
	acc, err = c.Account.Update(ctx, vocafuse.AccountUpdate{Settings: vocafuse.AccountSettingsUpdate{
		NotificationsEnabled: new(true), WebhookURL: new("https://example.com/hooks")}})
	if err != nil {
		t.Fatal(err)
	}
	want := vocafuse.AccountSettings{DefaultLanguage: "en-US", WebhookURL: "https://example.com/hooks", NotificationsEnabled: true}
	if acc.Name != "My Company" || acc.Settings != want {
		t.Errorf("%+v", acc)
	}
	acc, err = c.Account.Update(ctx, vocafuse.AccountUpdate{Settings: vocafuse.AccountSettingsUpdate{NotificationsEnabled: new(false)}})
	if err != nil || acc.Settings.NotificationsEnabled || acc.Settings.DefaultLanguage != "en-US" {
		t.Errorf("%+v %v", acc, err)
	}
	if again, err := c.Account.Get(ctx); err != nil || again.Name != "My Company" || again.Settings != acc.Settings {
		t.Errorf("%+v %v", again, err)
	}
	bad := vocafuse.NewClient(demoproc.APIKey, "wrong-secret-wrong", vocafuse.WithBaseURL(s.URL))
	_, err = bad.Account.Get(ctx)
	checkError(t, err, 1001, 0, nil)
}

// /v1/account/api-keys: a new key works at once, its secret is shown once, a deleted
// key is refused at once.
func TestAPIKeys(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)

	keys, err := c.APIKeys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Key != demoproc.APIKey || keys[0].Secret != "" || keys[0].ID == "" {
		t.Fatalf("%+v", keys)
	}
	created, err := c.APIKeys.Create(ctx, vocafuse.APIKeyParams{Name: "CI key"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.ID, "ak_") || created.Name != "CI key" || created.Key == "" || created.Secret == "" ||
		created.CreatedAt.IsZero() || created.LastUsedAt != nil {
		t.Errorf("%+v", created)
	}

	// It works at once, for every call of the key.
	other := vocafuse.NewClient(created.Key, created.Secret, vocafuse.WithBaseURL(s.URL), vocafuse.WithRetries(0))
	if _, err := other.Account.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.VoiceNotes().List(ctx, vocafuse.ListParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "u"}); err != nil {
		t.Fatal(err)
	}

	got, err := c.APIKeys.Get(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Key != created.Key || got.Secret != "" || got.LastUsedAt == nil {
		t.Errorf("%+v", got)
	}
	keys, err = c.APIKeys.List(ctx)
	if err != nil || len(keys) != 2 || keys[1].ID != created.ID || keys[1].Secret != "" {
		t.Errorf("%+v %v", keys, err)
	}

	if err := c.APIKeys.Delete(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = other.Account.Get(ctx)
	checkError(t, err, 1001, 0, nil)
	_, err = c.APIKeys.Get(ctx, created.ID)
	var e *vocafuse.Error
	if !errors.As(err, &e) || e.StatusCode != 404 || !errors.Is(err, vocafuse.ErrNotFound) {
		t.Errorf("a deleted key: %v", err)
	}
	err = c.APIKeys.Delete(ctx, created.ID)
	if !errors.Is(err, vocafuse.ErrNotFound) {
		t.Errorf("deleting it again: %v", err)
	}
	// A browser's token is not the key.
	tok, err := c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.URL+"/v1/account/api-keys", nil)
	req.Header.Set("Authorization", "Bearer "+tok.JWTToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a browser token listed the keys: %d", resp.StatusCode)
	}
}

func idsOf(notes []*vocafuse.VoiceNote) []string {
	var ids []string
	for _, n := range notes {
		ids = append(ids, n.ID)
	}
	return ids
}

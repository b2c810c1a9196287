package upload

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

const (
	testID   = "0195a4c2-7b1e-7cc3-9d51-2f0b7c1e9a10"
	testBase = "http://api.test/"
	testSize = 48_000
)

var stored = []byte(`{"id":"` + testID + `","duration":3.2,"size":48000,"format":"webm"}`)

// step is what the fake API does with one attempt.
type step struct {
	status     int
	body       string
	retryAfter time.Duration
	err        error         // no response
	takes      time.Duration // fake time the attempt takes
	hang       bool          // no answer: until the attempt's deadline, or 30 s (the glue's timeout)
}

var (
	created     = step{status: 201, body: string(stored)}
	expired     = step{status: 401, body: `{"error":{"code":1002,"message":"Token has expired"}}`}
	unavailable = step{status: 503, body: `{"error":{"code":5002,"message":"Service temporarily unavailable"}}`}
	refused     = step{err: errors.New("connection refused")}
)

// put is what the fake transport saw of one attempt.
type put struct {
	req         Request
	at          time.Time
	hasDeadline bool
	left        time.Duration // real time left before the attempt's deadline
}

// fakeTransport answers attempts from a script (the last step repeats) or from answer.
type fakeTransport struct {
	clock  *fakeClock
	script []step
	answer func(r Request) step

	mu   sync.Mutex
	puts []put
}

func (f *fakeTransport) Put(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
	dl, ok := ctx.Deadline()
	f.mu.Lock()
	n := len(f.puts)
	f.puts = append(f.puts, put{req: r, at: f.clock.now(), hasDeadline: ok, left: time.Until(dl)})
	s := step{}
	switch {
	case f.answer != nil:
		s = f.answer(r)
	case n < len(f.script):
		s = f.script[n]
	default:
		s = f.script[len(f.script)-1]
	}
	f.mu.Unlock()

	progress(0, r.Size)
	// The attempt's deadline was set from the fake clock; in fake time, it fires when the
	// real time left has passed.
	if s.hang {
		s.takes = 30 * time.Second // the glue's own timeout
	}
	if left := time.Until(dl); ok && s.takes >= left {
		f.clock.advance(left)
		return Response{}, context.DeadlineExceeded
	}
	f.clock.advance(s.takes)
	if s.hang {
		return Response{}, errors.New("timeout")
	}
	if s.err != nil {
		return Response{}, s.err
	}
	progress(r.Size/2, r.Size)
	return Response{Status: s.status, Body: []byte(s.body), RetryAfter: s.retryAfter}, nil
}

func (f *fakeTransport) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.puts)
}

func (f *fakeTransport) all() []put {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]put(nil), f.puts...)
}

// harness is an Uploader over fakes, all on one fake clock.
type harness struct {
	clock     *fakeClock
	tokens    *tokenSource
	transport *fakeTransport
	sleeper   *sleeper
	u         *Uploader

	mu       sync.Mutex
	reported []*catalog.Error
	progress [][2]int64
}

func newHarness(script ...step) *harness {
	clk := newClock()
	h := &harness{
		clock:     clk,
		tokens:    &tokenSource{lifetime: time.Hour},
		transport: &fakeTransport{clock: clk, script: script},
		sleeper:   &sleeper{clock: clk},
	}
	p := DefaultPolicy()
	p.Now = clk.now
	p.Jitter = func() float64 { return 0.5 }
	h.u = &Uploader{
		Tokens:    NewCache(h.tokens.source, clk.now),
		Transport: h.transport,
		Policy:    p,
		Sleep:     h.sleeper.sleep,
		BaseURL:   testBase,
	}
	return h
}

func (h *harness) upload(ctx context.Context) ([]byte, error) {
	r := Request{ID: testID, ContentType: "audio/webm;codecs=opus", Size: testSize, Metadata: `{"k":1}`}
	return h.u.Upload(ctx, r,
		func(sent, total int64) {
			h.mu.Lock()
			h.progress = append(h.progress, [2]int64{sent, total})
			h.mu.Unlock()
		},
		func(e *catalog.Error) {
			h.mu.Lock()
			h.reported = append(h.reported, e)
			h.mu.Unlock()
		})
}

// check asserts what every upload must do: the same id, URL and request on every
// attempt, no token in the error.
func (h *harness) check(t *testing.T, err error) {
	t.Helper()
	for i, p := range h.transport.all() {
		r := p.req
		if r.ID != testID || r.URL != "http://api.test/v1/voicenotes/"+testID ||
			r.ContentType != "audio/webm;codecs=opus" || r.Size != testSize || r.Metadata != `{"k":1}` || r.Token == "" {
			t.Errorf("put %d: %+v", i+1, r)
		}
	}
	var toks []string
	for n := 1; n <= h.tokens.count(); n++ {
		toks = append(toks, tokenOf(n))
	}
	assertNoToken(t, err, toks...)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.reported {
		assertNoToken(t, e, toks...)
	}
}

func mustStore(t *testing.T, body []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("upload failed: %v", err)
	}
	if string(body) != string(stored) {
		t.Fatalf("body %q", body)
	}
}

func TestUploadStored(t *testing.T) {
	h := newHarness(created)
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	h.check(t, err)
	if h.transport.count() != 1 || h.tokens.count() != 1 || len(h.sleeper.waits) != 0 {
		t.Fatalf("%d puts, %d tokens, waits %v", h.transport.count(), h.tokens.count(), h.sleeper.waits)
	}
	if p := h.transport.all()[0]; p.hasDeadline || p.req.Token != tokenOf(1) {
		t.Fatalf("first attempt %+v", p)
	}
}

func TestUploadRefreshesOnceOn1002(t *testing.T) {
	h := newHarness(expired, created)
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	h.check(t, err)
	puts := h.transport.all()
	if len(puts) != 2 || h.tokens.count() != 2 {
		t.Fatalf("%d puts, %d token fetches; want 2 and 2", len(puts), h.tokens.count())
	}
	if puts[0].req.Token != tokenOf(1) || puts[1].req.Token != tokenOf(2) {
		t.Fatalf("tokens %q then %q", puts[0].req.Token, puts[1].req.Token)
	}
	if len(h.sleeper.waits) != 0 || puts[1].hasDeadline {
		t.Fatalf("the refresh waited %v or bounded the retry", h.sleeper.waits)
	}
}

func TestUpload1002TwiceIsAuthenticationFailed(t *testing.T) {
	h := newHarness(expired)
	_, err := h.upload(context.Background())
	h.check(t, err)
	ce := catalogError(t, err)
	if ce.Code != catalog.AuthenticationFailed || ce.APICode != 1002 || ce.Status != 401 || ce.Retryable {
		t.Fatalf("error %+v", ce)
	}
	if h.transport.count() != 2 || h.tokens.count() != 2 {
		t.Fatalf("%d puts, %d token fetches; want 2 and 2", h.transport.count(), h.tokens.count())
	}
}

func TestUploadRateLimitRetryAfter(t *testing.T) {
	limited := step{status: 429, retryAfter: time.Second,
		body: `{"error":{"code":4003,"message":"Rate limit exceeded","details":{"limit":100,"window":"1 minute","retry_after":1}}}`}
	h := newHarness(limited, created)
	start := h.clock.now()
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	h.check(t, err)
	puts := h.transport.all()
	if len(puts) != 2 || h.sleeper.total() < time.Second || puts[1].at.Sub(start) < time.Second {
		t.Fatalf("%d puts, slept %s, retried after %s", len(puts), h.sleeper.total(), puts[1].at.Sub(start))
	}
	if len(h.reported) != 0 {
		t.Fatalf("a 1 s wait was reported: %v", h.reported)
	}
}

// A long rate-limit wait is reported when it starts; the upload still lands.
func TestUploadLongRateLimitIsReported(t *testing.T) {
	limited := step{status: 429, body: `{"error":{"code":4003,"message":"Rate limit exceeded","details":{"limit":100,"window":"1 minute","retry_after":45}}}`}
	h := newHarness(limited, created)
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	h.check(t, err)
	if len(h.reported) != 1 || h.reported[0].Code != catalog.RateLimitExceeded || h.reported[0].APICode != 4003 {
		t.Fatalf("reported %v", h.reported)
	}
	if h.sleeper.total() != 45*time.Second {
		t.Fatalf("slept %s", h.sleeper.total())
	}
}

func TestUploadRateLimitGivesUp(t *testing.T) {
	limited := step{status: 429, retryAfter: 2 * time.Second, body: `{"error":{"code":4003,"message":"Rate limit exceeded"}}`}
	h := newHarness(limited)
	_, err := h.upload(context.Background())
	h.check(t, err)
	ce := catalogError(t, err)
	if ce.Code != catalog.RateLimitExceeded || ce.APICode != 4003 || ce.Status != 429 || h.transport.count() != 6 {
		t.Fatalf("%v after %d puts", ce, h.transport.count())
	}
}

func TestUploadTwo503s(t *testing.T) {
	h := newHarness(unavailable, unavailable, created)
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	h.check(t, err)
	puts := h.transport.all()
	if len(puts) != 3 || len(h.reported) != 0 {
		t.Fatalf("%d puts, reported %v", len(puts), h.reported)
	}
	want := []time.Duration{375 * time.Millisecond, 750 * time.Millisecond}
	if !reflect.DeepEqual(h.sleeper.waits, want) {
		t.Fatalf("waits %v, want %v", h.sleeper.waits, want)
	}
	// The retries of a transient failure are bounded by the report deadline.
	if !puts[1].hasDeadline || !puts[2].hasDeadline || puts[1].left > 20*time.Second || puts[1].left < 19*time.Second {
		t.Fatalf("retries without a deadline: %+v", puts)
	}
}

func TestUploadNetworkErrorWithin20s(t *testing.T) {
	for _, tt := range []struct {
		name string
		step step
	}{
		{"refused at once", refused},
		{"refused after 2 s", step{err: errors.New("connection reset"), takes: 2 * time.Second}},
		{"503 after 4 s", step{status: 503, takes: 4 * time.Second}},
		{"no answer", step{hang: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.step)
			_, err := h.upload(context.Background())
			h.check(t, err)
			ce := catalogError(t, err)
			want := catalog.NetworkError
			if tt.step.status == 503 && ce.Code != want { // NETWORK_ERROR when the last try was cut
				want = catalog.ServiceUnavailable
			}
			if ce.Code != want || !ce.Retryable {
				t.Fatalf("error %+v, want %s", ce, want)
			}
			puts := h.transport.all()
			firstFailure := puts[0].at.Add(tt.step.takes)
			if tt.step.hang {
				firstFailure = puts[0].at.Add(30 * time.Second)
			}
			if took := h.clock.since(firstFailure); took > 20*time.Second {
				t.Fatalf("the final error came %s after the first failure", took)
			}
			if len(puts) < 2 || len(puts) > 6 {
				t.Fatalf("%d puts", len(puts))
			}
			if len(h.reported) != 0 {
				t.Fatalf("reported %v", h.reported)
			}
		})
	}
}

// With Background the page hears NETWORK_ERROR within 20 s, and the upload still lands.
func TestUploadBackgroundReportsThenStores(t *testing.T) {
	h := newHarness()
	h.u.Policy.Background = time.Minute
	start := h.clock.now()
	h.transport.answer = func(Request) step {
		if h.clock.since(start) < 25*time.Second {
			return refused
		}
		return created
	}
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	h.check(t, err)
	if len(h.reported) != 1 || h.reported[0].Code != catalog.NetworkError {
		t.Fatalf("reported %v", h.reported)
	}
	if at := h.reported[0].Timestamp.Sub(start); at > 20*time.Second {
		t.Fatalf("reported %s after the first failure", at)
	}
}

func TestUploadTokenSourceFails(t *testing.T) {
	h := newHarness(created)
	h.tokens.fail = func(int) error { return errors.New("the token endpoint answered HTTP 500") }
	_, err := h.upload(context.Background())
	h.check(t, err)
	ce := catalogError(t, err)
	if ce.Code != catalog.AuthenticationFailed || !strings.Contains(fmt.Sprint(ce.Details["reason"]), "HTTP 500") {
		t.Fatalf("error %+v", ce)
	}
	if h.transport.count() != 0 || h.tokens.count() != 1 {
		t.Fatalf("%d puts, %d token fetches", h.transport.count(), h.tokens.count())
	}
}

// An unreachable token endpoint is retried like the API, then NETWORK_ERROR, no Put.
func TestUploadTokenEndpointUnreachable(t *testing.T) {
	h := newHarness(created)
	h.tokens.fail = func(int) error {
		return catalog.Newf(catalog.NetworkError, nil, epoch, "the token endpoint could not be reached")
	}
	start := h.clock.now()
	_, err := h.upload(context.Background())
	h.check(t, err)
	if ce := catalogError(t, err); ce.Code != catalog.NetworkError {
		t.Fatalf("error %+v", ce)
	}
	if h.transport.count() != 0 || h.tokens.count() < 2 || h.clock.since(start) > 20*time.Second {
		t.Fatalf("%d puts, %d token fetches, %s", h.transport.count(), h.tokens.count(), h.clock.since(start))
	}
}

func TestUpload2005NotRetried(t *testing.T) {
	h := newHarness(step{status: 400, body: `{"error":{"code":2005,"message":"Audio format not supported","details":{"format":"mp3","supported_formats":["webm","wav","ogg"]}}}`})
	_, err := h.upload(context.Background())
	h.check(t, err)
	ce := catalogError(t, err)
	if ce.Code != catalog.UnsupportedAudioFormat || ce.APICode != 2005 || ce.Status != 400 || ce.Details["format"] != "mp3" {
		t.Fatalf("error %+v", ce)
	}
	if h.transport.count() != 1 || len(h.sleeper.waits) != 0 {
		t.Fatalf("%d puts, waits %v", h.transport.count(), h.sleeper.waits)
	}
}

func TestUploadConflictAndDurationNotRetried(t *testing.T) {
	for _, tt := range []struct {
		step    step
		code    catalog.Code
		apiCode int
	}{
		{step{status: 409, body: `{"error":{"code":2003,"message":"Invalid field value","details":{"field":"voicenote_id"}}}`},
			catalog.InvalidFieldValue, 2003},
		{step{status: 400, body: `{"error":{"code":2006,"message":"Recording exceeds maximum duration","details":{"max_duration":60,"actual_duration":75}}}`},
			catalog.DurationExceeded, 2006},
	} {
		h := newHarness(tt.step)
		_, err := h.upload(context.Background())
		ce := catalogError(t, err)
		if ce.Code != tt.code || ce.APICode != tt.apiCode || ce.Status != tt.step.status || h.transport.count() != 1 {
			t.Errorf("%+v after %d puts", ce, h.transport.count())
		}
	}
}

func TestUploadProgressReachesTotal(t *testing.T) {
	h := newHarness(unavailable, created)
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	want := [][2]int64{{0, testSize}, {testSize / 2, testSize}, {0, testSize}, {testSize / 2, testSize}, {testSize, testSize}}
	if !reflect.DeepEqual(h.progress, want) {
		t.Fatalf("progress %v, want %v", h.progress, want)
	}
}

// A transport that reports the end itself does not get it twice.
func TestUploadProgressNotDoubled(t *testing.T) {
	h := newHarness()
	h.u.Transport = transportFunc(func(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
		progress(r.Size, r.Size)
		return Response{Status: 200, Body: stored}, nil
	})
	body, err := h.upload(context.Background())
	mustStore(t, body, err)
	if want := [][2]int64{{testSize, testSize}}; !reflect.DeepEqual(h.progress, want) {
		t.Fatalf("progress %v", h.progress)
	}
}

type transportFunc func(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error)

func (f transportFunc) Put(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
	return f(ctx, r, progress)
}

// Concurrent uploads refused with the same token cause one refresh.
func TestUploadConcurrentRefusalsRefreshOnce(t *testing.T) {
	h := newHarness()
	h.transport.answer = func(r Request) step {
		if r.Token == tokenOf(1) {
			return expired
		}
		return created
	}
	// Fetch tok-1 first so every upload starts with it.
	if _, err := h.u.Tokens.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := h.upload(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("upload: %v", err)
		}
	}
	if h.tokens.count() != 2 {
		t.Fatalf("%d token fetches for one refused token, want 2", h.tokens.count())
	}
}

func TestUploadCancel(t *testing.T) {
	// During a wait.
	h := newHarness(unavailable)
	ctx, cancel := context.WithCancel(context.Background())
	h.u.Sleep = func(context.Context, time.Duration) error { cancel(); return ctx.Err() }
	if _, err := h.upload(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during a wait: %v", err)
	}
	// During an attempt.
	h = newHarness()
	ctx, cancel = context.WithCancel(context.Background())
	h.u.Transport = transportFunc(func(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
		cancel()
		return Response{}, ctx.Err()
	})
	if _, err := h.upload(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during an attempt: %v", err)
	}
	// Before it starts.
	h = newHarness(created)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := h.upload(ctx); !errors.Is(err, context.Canceled) || h.transport.count() != 0 {
		t.Fatalf("cancelled before: %v, %d puts", err, h.transport.count())
	}
}

// A retry that does not answer by the report deadline is cut (real timers, short bounds).
func TestUploadCutsRetryAtDeadline(t *testing.T) {
	h := newHarness()
	h.u.Policy.ReportWithin = 300 * time.Millisecond
	h.u.Policy.BaseDelay = 20 * time.Millisecond
	h.u.Policy.MaxDelay = 40 * time.Millisecond
	n := 0
	h.u.Transport = transportFunc(func(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
		n++
		if n == 1 {
			return Response{Status: 503}, nil
		}
		start := time.Now()
		<-ctx.Done() // hangs until cut
		h.clock.advance(time.Since(start))
		return Response{}, ctx.Err()
	})
	started := time.Now()
	_, err := h.upload(context.Background())
	ce := catalogError(t, err)
	if ce.Code != catalog.NetworkError || !strings.Contains(fmt.Sprint(ce.Details["reason"]), "deadline") {
		t.Fatalf("error %+v", ce)
	}
	if n != 2 || time.Since(started) > 5*time.Second {
		t.Fatalf("%d attempts in %s", n, time.Since(started))
	}
	if took := h.clock.since(epoch); took > 300*time.Millisecond+50*time.Millisecond {
		t.Fatalf("final error %s after the first failure", took)
	}
}

func TestUploadNeverLeaksToken(t *testing.T) {
	// A transport error and an answer that echo the token.
	h := newHarness()
	h.u.Transport = transportFunc(func(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
		return Response{}, errors.New("PUT " + r.URL + " with Bearer " + r.Token + " failed")
	})
	_, err := h.upload(context.Background())
	h.check(t, err)
	if catalogError(t, err).Code != catalog.NetworkError {
		t.Fatal(err)
	}
	h = newHarness()
	h.u.Transport = transportFunc(func(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error) {
		return Response{Status: 400, Body: []byte("<html>Bad request: Authorization: Bearer " + r.Token + "</html>")}, nil
	})
	_, err = h.upload(context.Background())
	h.check(t, err)
	if ce := catalogError(t, err); !strings.Contains(fmt.Sprint(ce.Details["body"]), redacted) {
		t.Fatalf("details %v", ce.Details)
	}
}

func TestUploadBadSetup(t *testing.T) {
	h := newHarness(created)
	if _, err := h.u.Upload(context.Background(), Request{}, nil, nil); catalogError(t, err).Code != catalog.InvalidOption {
		t.Errorf("empty id: %v", err)
	}
	if _, err := (&Uploader{}).Upload(context.Background(), Request{ID: testID}, nil, nil); catalogError(t, err).Code != catalog.InternalError {
		t.Errorf("no transport: %v", err)
	}
	// nil callbacks are fine.
	body, err := h.u.Upload(context.Background(), Request{ID: testID, Size: testSize}, nil, nil)
	mustStore(t, body, err)
}

func TestUploadEscapesID(t *testing.T) {
	for id, want := range map[string]string{
		"..":      "http://api.test/v1/voicenotes/%2E%2E",
		"a/b?c#d": "http://api.test/v1/voicenotes/a%2Fb%3Fc%23d",
	} {
		h := newHarness(created)
		_, _ = h.u.Upload(context.Background(), Request{ID: id}, nil, nil)
		if got := h.transport.all()[0].req.URL; got != want {
			t.Errorf("id %q: URL %q, want %q", id, got, want)
		}
	}
}

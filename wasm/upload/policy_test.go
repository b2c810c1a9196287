package upload

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

func fixedPolicy(clk *fakeClock, jitter float64) Policy {
	p := DefaultPolicy()
	p.Now = clk.now
	p.Jitter = func() float64 { return jitter }
	return p
}

// answer is the Attempt of an HTTP answer, parsed as the Uploader parses it.
func answer(n, status int, body string) Attempt {
	return Attempt{N: n, Status: status, Err: catalog.ParseEnvelope(status, []byte(body), epoch)}
}

func noAnswer(n int) Attempt {
	return Attempt{N: n, Err: catalog.New(catalog.NetworkError, map[string]any{"reason": "connection refused"}, epoch)}
}

func TestDecideTable(t *testing.T) {
	clk := newClock()
	p := fixedPolicy(clk, 0.5)
	backoff1 := 375 * time.Millisecond // d = 500 ms: 250 + 0.5·250
	deadline := epoch.Add(20 * time.Second)

	rate := func(retryAfter string) string {
		return `{"error":{"code":4003,"message":"Rate limit exceeded","details":{"limit":100,"window":"1 minute","retry_after":` + retryAfter + `}}}`
	}
	with := func(a Attempt, f func(*Attempt)) Attempt { f(&a); return a }

	type want struct {
		retry     bool
		wait      time.Duration
		refresh   bool
		code      catalog.Code // of Final; "" for none
		apiCode   int
		status    int
		reportNow bool
		deadline  bool // a Deadline 20 s after the first failure
		details   map[string]any
	}
	tests := []struct {
		name string
		a    Attempt
		want want
	}{
		// 1001 / 1002: one refresh, then AUTHENTICATION_FAILED with the API's code and status.
		{"1001 refreshes", answer(1, 401, `{"error":{"code":1001,"message":"Invalid or malformed token"}}`),
			want{retry: true, refresh: true}},
		{"1002 refreshes", answer(1, 401, `{"error":{"code":1002,"message":"Token has expired"}}`),
			want{retry: true, refresh: true}},
		{"1002 at MaxAttempts still refreshes", answer(6, 401, `{"error":{"code":1002,"message":"Token has expired"}}`),
			want{retry: true, refresh: true}},
		{"bare 401 refreshes", answer(1, 401, `<html>Unauthorized</html>`), want{retry: true, refresh: true}},
		{"1002 after a refresh", with(answer(2, 401, `{"error":{"code":1002,"message":"Token has expired"}}`),
			func(a *Attempt) { a.Refreshed = true }),
			want{code: catalog.AuthenticationFailed, apiCode: 1002, status: 401}},
		{"1001 after a refresh", with(answer(2, 401, `{"error":{"code":1001,"message":"Invalid or malformed token"}}`),
			func(a *Attempt) { a.Refreshed = true }),
			want{code: catalog.AuthenticationFailed, apiCode: 1001, status: 401}},

		// 4003 / 429: the server's wait, then RATE_LIMIT_EXCEEDED.
		{"4003 retry_after 1", answer(1, 429, rate("1")), want{retry: true, wait: time.Second}},
		{"4003 retry_after as a string", answer(1, 429, rate(`"2"`)), want{retry: true, wait: 2 * time.Second}},
		{"4003 retry_after 45 is reported while waiting", answer(1, 429, rate("45")),
			want{retry: true, wait: 45 * time.Second, reportNow: true, code: catalog.RateLimitExceeded, apiCode: 4003, status: 429,
				details: map[string]any{"limit": 100.0, "window": "1 minute", "retry_after": 45.0}}},
		{"4003 retry_after 45 already reported", with(answer(2, 429, rate("45")), func(a *Attempt) { a.Reported = true }),
			want{retry: true, wait: 45 * time.Second}},
		{"4003 retry_after capped at 120 s", with(answer(1, 429, rate("100000")), func(a *Attempt) { a.Reported = true }),
			want{retry: true, wait: 120 * time.Second}},
		{"4003 header only", with(answer(1, 429, `{"error":{"code":4003,"message":"Rate limit exceeded"}}`),
			func(a *Attempt) { a.RetryAfterHeader = 3 * time.Second }), want{retry: true, wait: 3 * time.Second}},
		{"4003 details and header: the larger", with(answer(1, 429, rate("2")),
			func(a *Attempt) { a.RetryAfterHeader = 5 * time.Second }), want{retry: true, wait: 5 * time.Second}},
		{"4003 details larger than header", with(answer(1, 429, rate("7")),
			func(a *Attempt) { a.RetryAfterHeader = 5 * time.Second }), want{retry: true, wait: 7 * time.Second}},
		{"4003 without any wait backs off", answer(1, 429, `{"error":{"code":4003,"message":"Rate limit exceeded"}}`),
			want{retry: true, wait: backoff1}},
		{"bare 429 with header", with(answer(1, 429, `Too Many Requests`),
			func(a *Attempt) { a.RetryAfterHeader = 4 * time.Second }), want{retry: true, wait: 4 * time.Second}},
		{"4003 at MaxAttempts", answer(6, 429, rate("1")),
			want{code: catalog.RateLimitExceeded, apiCode: 4003, status: 429,
				details: map[string]any{"limit": 100.0, "window": "1 minute", "retry_after": 1.0}}},

		// 5xx, network failure, timeout: backoff, bounded, then NETWORK_ERROR or the API's code.
		{"5001", answer(1, 500, `{"error":{"code":5001,"message":"Internal server error"}}`),
			want{retry: true, wait: backoff1, deadline: true}},
		{"5002", answer(1, 503, `{"error":{"code":5002,"message":"Service temporarily unavailable"}}`),
			want{retry: true, wait: backoff1, deadline: true}},
		{"bare 500", answer(1, 500, ``), want{retry: true, wait: backoff1, deadline: true}},
		{"bare 502", answer(1, 502, `<html>Bad Gateway</html>`), want{retry: true, wait: backoff1, deadline: true}},
		{"bare 503", answer(1, 503, ``), want{retry: true, wait: backoff1, deadline: true}},
		{"bare 504", answer(1, 504, `Gateway Timeout`), want{retry: true, wait: backoff1, deadline: true}},
		{"network failure", noAnswer(1), want{retry: true, wait: backoff1, deadline: true}},
		{"timeout without an error", Attempt{N: 1}, want{retry: true, wait: backoff1, deadline: true}},
		{"5002 at MaxAttempts", answer(6, 503, `{"error":{"code":5002,"message":"Service temporarily unavailable"}}`),
			want{code: catalog.ServiceUnavailable, apiCode: 5002, status: 503}},
		{"5001 at MaxAttempts", answer(6, 500, `{"error":{"code":5001,"message":"Internal server error"}}`),
			want{code: catalog.InternalServerError, apiCode: 5001, status: 500}},
		{"bare 502 at MaxAttempts", answer(6, 502, ``),
			want{code: catalog.ServiceUnavailable, status: 502, details: map[string]any{"status": 502}}},
		{"network failure at MaxAttempts", noAnswer(6),
			want{code: catalog.NetworkError, details: map[string]any{"reason": "connection refused"}}},
		{"timeout at MaxAttempts", Attempt{N: 6}, want{code: catalog.NetworkError}},

		// Everything else: no retry, the API's own code with apiCode, status and details.
		{"2001", answer(1, 400, `{"error":{"code":2001,"message":"Request body is malformed"}}`),
			want{code: catalog.InvalidRequestFormat, apiCode: 2001, status: 400}},
		{"2002", answer(1, 400, `{"error":{"code":2002,"message":"Required field missing","details":{"field":"identity"}}}`),
			want{code: catalog.MissingRequiredField, apiCode: 2002, status: 400, details: map[string]any{"field": "identity"}}},
		{"2003", answer(1, 400, `{"error":{"code":2003,"message":"Invalid field value","details":{"field":"voicenote_id","reason":"must be a valid UUID"}}}`),
			want{code: catalog.InvalidFieldValue, apiCode: 2003, status: 400,
				details: map[string]any{"field": "voicenote_id", "reason": "must be a valid UUID"}}},
		{"409 conflict 2003", answer(1, 409, `{"error":{"code":2003,"message":"Invalid field value","details":{"field":"voicenote_id"}}}`),
			want{code: catalog.InvalidFieldValue, apiCode: 2003, status: 409, details: map[string]any{"field": "voicenote_id"}}},
		{"2004", answer(1, 400, `{"error":{"code":2004,"message":"File size exceeds maximum limit","details":{"max_size":"25MB","actual_size":"30MB"}}}`),
			want{code: catalog.FileSizeExceeded, apiCode: 2004, status: 400,
				details: map[string]any{"max_size": "25MB", "actual_size": "30MB"}}},
		{"2005", answer(1, 400, `{"error":{"code":2005,"message":"Audio format not supported","details":{"format":"mp3","supported_formats":["webm","wav","ogg"]}}}`),
			want{code: catalog.UnsupportedAudioFormat, apiCode: 2005, status: 400,
				details: map[string]any{"format": "mp3", "supported_formats": []any{"webm", "wav", "ogg"}}}},
		{"2006 arrives as DURATION_EXCEEDED", answer(1, 400, `{"error":{"code":2006,"message":"Recording exceeds maximum duration","details":{"max_duration":60,"actual_duration":75}}}`),
			want{code: catalog.DurationExceeded, apiCode: 2006, status: 400,
				details: map[string]any{"max_duration": 60.0, "actual_duration": 75.0}}},
		{"3004", answer(1, 422, `{"error":{"code":3004,"message":"Failed to process audio file"}}`),
			want{code: catalog.AudioProcessingFailed, apiCode: 3004, status: 422}},
		{"1003", answer(1, 403, `{"error":{"code":1003,"message":"Insufficient permissions"}}`),
			want{code: catalog.InsufficientPermissions, apiCode: 1003, status: 403}},
		{"6001", answer(1, 404, `{"error":{"code":6001,"message":"Voice note not found","details":{"voicenote_id":"x"}}}`),
			want{code: catalog.RecordingNotFound, apiCode: 6001, status: 404, details: map[string]any{"voicenote_id": "x"}}},
		{"bare 404", answer(1, 404, ``),
			want{code: catalog.RecordingNotFound, status: 404, details: map[string]any{"status": 404}}},
		{"unknown 4xx code", answer(1, 418, `{"error":{"code":9999,"message":"teapot"}}`),
			want{code: catalog.APIError, apiCode: 9999, status: 418}},
		{"501 is not in the table", answer(1, 501, ``),
			want{code: catalog.APIError, status: 501, details: map[string]any{"status": 501}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.a)
			w := tt.want
			if d.Retry != w.retry || d.Wait != w.wait || d.RefreshToken != w.refresh || d.ReportNow != w.reportNow {
				t.Fatalf("decision %+v, want %+v", d, w)
			}
			if w.deadline != !d.Deadline.IsZero() || (w.deadline && !d.Deadline.Equal(deadline)) {
				t.Errorf("deadline %v, want one: %v", d.Deadline, w.deadline)
			}
			if w.code == "" {
				if d.Final != nil {
					t.Errorf("final %v, want none", d.Final)
				}
				return
			}
			f := d.Final
			if f == nil {
				t.Fatalf("no final error, want %s", w.code)
			}
			if f.Code != w.code || f.APICode != w.apiCode || f.Status != w.status {
				t.Errorf("final %s api %d http %d, want %s api %d http %d", f.Code, f.APICode, f.Status, w.code, w.apiCode, w.status)
			}
			if w.details != nil && !reflect.DeepEqual(f.Details, w.details) {
				t.Errorf("details %#v, want %#v", f.Details, w.details)
			}
			if w.code == catalog.AuthenticationFailed && f.Retryable {
				t.Errorf("AUTHENTICATION_FAILED after a refresh is retryable")
			}
		})
	}
}

// A token refresh is used once per upload: the sequence 1002, 1002 refreshes once.
func TestDecideRefreshesOnce(t *testing.T) {
	p := fixedPolicy(newClock(), 0.5)
	expired := `{"error":{"code":1002,"message":"Token has expired"}}`
	refreshed := false
	var decisions []Decision
	for n := 1; n <= 3; n++ {
		a := answer(n, 401, expired)
		a.Refreshed = refreshed
		d := p.Decide(a)
		decisions = append(decisions, d)
		if !d.Retry {
			break
		}
		refreshed = refreshed || d.RefreshToken
	}
	if len(decisions) != 2 || !decisions[0].RefreshToken || decisions[1].Retry ||
		decisions[1].Final.Code != catalog.AuthenticationFailed || decisions[1].Final.APICode != 1002 {
		t.Fatalf("decisions %+v", decisions)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := DefaultPolicy()
	steps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for _, j := range []float64{0, 0.25, 0.5, 0.999999, math.Nextafter(1, 0)} {
		p.Jitter = func() float64 { return j }
		for i, d := range steps {
			got := p.Backoff(i + 1)
			if got < d/2 || got >= d {
				t.Errorf("jitter %g: Backoff(%d) = %s, want in [%s, %s)", j, i+1, got, d/2, d)
			}
		}
	}
	p.Jitter = func() float64 { return 0 }
	for i, d := range steps {
		if got := p.Backoff(i + 1); got != d/2 {
			t.Errorf("jitter 0: Backoff(%d) = %s, want %s", i+1, got, d/2)
		}
	}
	// A broken jitter source and absurd attempt numbers stay inside the bounds.
	for _, j := range []float64{-1, 1, 2, math.NaN(), math.Inf(1)} {
		p.Jitter = func() float64 { return j }
		for _, n := range []int{-5, 0, 1, 63, 64, 1000, math.MaxInt} {
			d := min(8*time.Second, 500*time.Millisecond<<max(0, min(n-1, 5)))
			if got := p.Backoff(n); got < d/2 || got >= d {
				t.Errorf("jitter %g: Backoff(%d) = %s, want in [%s, %s)", j, n, got, d/2, d)
			}
		}
	}
}

// simulate runs a series of transient failures against the policy with a fake clock:
// every try takes tryTime (cut at the decision's Deadline, as the Uploader does) and fails
// with fail(n). It answers the waits, when the final error came, and how many tries ran.
func simulate(t *testing.T, p Policy, clk *fakeClock, tryTime time.Duration, fail func(n int) Attempt) (waits []time.Duration, final Decision, reports []time.Duration, tries int) {
	t.Helper()
	var first time.Time
	var deadline time.Time
	reported := false
	for n := 1; n < 100; n++ {
		d := tryTime
		if !deadline.IsZero() {
			d = min(d, deadline.Sub(clk.now()))
		}
		clk.advance(d)
		a := fail(n)
		if first.IsZero() {
			first = clk.now()
		}
		a.FirstFailure, a.Reported = first, reported
		dec := p.Decide(a)
		if dec.ReportNow {
			reported = true
			reports = append(reports, clk.since(first))
		}
		if !dec.Retry {
			return waits, dec, reports, n
		}
		waits = append(waits, dec.Wait)
		deadline = dec.Deadline
		clk.advance(dec.Wait)
	}
	t.Fatal("the policy never gave up")
	return
}

// The page hears the final error within 20 s of the first failure, whatever the jitter
// and however long the tries take, and the waits grow exponentially within their bounds.
func TestDecideTransientSeriesWithin20s(t *testing.T) {
	unavailable := func(n int) Attempt {
		if n%2 == 0 {
			return noAnswer(n)
		}
		return answer(n, 503, `{"error":{"code":5002,"message":"Service temporarily unavailable"}}`)
	}
	for seed := range uint64(200) {
		for _, tryTime := range []time.Duration{0, 50 * time.Millisecond, 700 * time.Millisecond, 3 * time.Second, 30 * time.Second} {
			clk := newClock()
			rng := rand.New(rand.NewPCG(seed, 7))
			p := DefaultPolicy()
			p.Now, p.Jitter = clk.now, rng.Float64
			start := clk.now()
			waits, final, reports, tries := simulate(t, p, clk, tryTime, unavailable)
			firstFailure := start.Add(tryTime)
			if took := clk.now().Sub(firstFailure); took > 20*time.Second {
				t.Fatalf("seed %d, tries of %s: final error %s after the first failure", seed, tryTime, took)
			}
			if final.Final == nil || len(reports) != 0 {
				t.Fatalf("final %+v, reports %v", final, reports)
			}
			if tries < 2 || tries > p.MaxAttempts {
				t.Fatalf("seed %d: %d tries", seed, tries)
			}
			elapsed := time.Duration(0)
			for i, w := range waits {
				d := min(p.MaxDelay, p.BaseDelay<<i)
				shortened := elapsed+w+tryTime >= 19*time.Second-time.Millisecond // the last wait may be cut short
				if w >= d || w < p.BaseDelay/2 || (w < d/2 && !shortened) {
					t.Fatalf("seed %d, tries of %s: wait %d = %s, want in [%s, %s); waits %v", seed, tryTime, i+1, w, d/2, d, waits)
				}
				elapsed += w + tryTime
			}
			want := map[int]catalog.Code{0: catalog.NetworkError, 1: catalog.ServiceUnavailable}[tries%2]
			if final.Final.Code != want {
				t.Fatalf("after %d tries: %s, want %s", tries, final.Final.Code, want)
			}
		}
	}
}

// With jitter 0 the waits are exactly the lower bounds: 250 ms doubling to 4 s.
func TestDecideWaitsDouble(t *testing.T) {
	clk := newClock()
	waits, final, _, tries := simulate(t, fixedPolicy(clk, 0), clk, 0, noAnswer)
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	if !reflect.DeepEqual(waits, want) || tries != 6 || final.Final.Code != catalog.NetworkError {
		t.Fatalf("waits %v, %d tries, final %v", waits, tries, final.Final)
	}
}

// A short ReportWithin shortens the last wait and stops the series in time.
func TestDecideShortensLastWait(t *testing.T) {
	clk := newClock()
	p := fixedPolicy(clk, 0.999)
	p.ReportWithin = 5 * time.Second
	p.MaxAttempts = 20
	waits, _, _, _ := simulate(t, p, clk, 0, noAnswer)
	var total time.Duration
	for _, w := range waits {
		total += w
	}
	// Waits ~0.5, 1, 2, then 1 s left (4.5 s of the 5 minus the 0.5 s kept for the try).
	if total > 5*time.Second || total < 4*time.Second || waits[len(waits)-1] >= 4*time.Second {
		t.Fatalf("waits %v (total %s) with a 5 s bound", waits, total)
	}
}

// With Background, the page hears the error within 20 s (ReportNow, once) and the
// retries go on at most Background longer.
func TestDecideBackground(t *testing.T) {
	clk := newClock()
	p := fixedPolicy(clk, 0.5)
	p.Background = 40 * time.Second
	_, final, reports, tries := simulate(t, p, clk, 100*time.Millisecond, noAnswer)
	if len(reports) != 1 || reports[0] > 20*time.Second {
		t.Fatalf("reports at %v", reports)
	}
	if took := clk.since(epoch.Add(100 * time.Millisecond)); took > 60*time.Second || took < 50*time.Second {
		t.Fatalf("gave up %s after the first failure", took)
	}
	if final.Final.Code != catalog.NetworkError || tries <= p.MaxAttempts {
		t.Fatalf("final %v after %d tries", final.Final, tries)
	}
}

func TestDecideZeroPolicyUsesDefaults(t *testing.T) {
	var p Policy
	d := p.Decide(noAnswer(1))
	if !d.Retry || d.Wait != 375*time.Millisecond {
		t.Fatalf("zero policy: %+v", d)
	}
	if d := p.Decide(noAnswer(6)); d.Retry {
		t.Fatalf("zero policy retried a 6th failure: %+v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"45", 45 * time.Second},
		{" 1 ", time.Second},
		{"0", 0},
		{"-3", 0},
		{"1.5", 0},
		{"1e3", 0},
		{"soon", 0},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second},
		{"Sat, 01 Mar 2025 11:59:00 GMT", 0},
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute},
		{"Sat Mar  1 12:00:05 2025", 5 * time.Second},
	} {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

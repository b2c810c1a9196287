package delivery

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func midPolicy() Policy {
	p := DefaultPolicy()
	p.Jitter = func() float64 { return 0.5 }
	return p
}

// failure is the Failure of an HTTP answer, read as the courier reads it.
func failure(n, status int, body string) Failure {
	var doc any
	if json.Unmarshal([]byte(body), &doc) != nil {
		doc = nil
	}
	return Failure{N: n, Status: status, Err: catalog.FromAPI(status, doc, body, epoch)}
}

func noAnswer(n int) Failure {
	return Failure{N: n, Err: catalog.New(catalog.NetworkError, map[string]any{"reason": "connection refused"}, epoch)}
}

const rate45 = `{"error":{"code":4003,"message":"Rate limit exceeded","details":{"limit":100,"window":"1 minute","retry_after":45}}}`

func TestDecide(t *testing.T) {
	p := midPolicy()
	with := func(f Failure, edit func(*Failure)) Failure { edit(&f); return f }
	type want struct {
		retry   bool
		wait    time.Duration
		refresh bool
		report  catalog.Code // "" for none
		final   bool
	}
	for _, tt := range []struct {
		name string
		f    Failure
		want want
	}{
		{"1002 refreshes at once", failure(1, 401, `{"error":{"code":1002,"message":"Token has expired"}}`),
			want{retry: true, refresh: true}},
		{"a bare 401 refreshes", failure(1, 401, `<html>`), want{retry: true, refresh: true}},
		{"1001 after a refresh is heard, and retried later with another token",
			with(failure(2, 401, `{"error":{"code":1001,"message":"Invalid"}}`), func(f *Failure) { f.Refreshed = true }),
			want{retry: true, wait: 750 * time.Millisecond, refresh: true, report: catalog.AuthenticationFailed, final: true}},
		{"4003 waits retry_after", failure(1, 429, `{"error":{"code":4003,"message":"m","details":{"retry_after":2}}}`),
			want{retry: true, wait: 2 * time.Second}},
		{"a 4003 wait past 20 s is a warning", failure(1, 429, rate45),
			want{retry: true, wait: 45 * time.Second, report: catalog.RateLimitExceeded}},
		{"4003 at the sixth try is the outcome", failure(6, 429, rate45),
			want{retry: true, wait: 45 * time.Second, report: catalog.RateLimitExceeded, final: true}},
		{"503 backs off", failure(1, 503, `{"error":{"code":5002,"message":"Service unavailable"}}`),
			want{retry: true, wait: 375 * time.Millisecond}},
		{"no answer backs off", noAnswer(3), want{retry: true, wait: 1500 * time.Millisecond}},
		{"the sixth transient failure is heard, and the curve goes on", noAnswer(6),
			want{retry: true, wait: 12 * time.Second, report: catalog.NetworkError, final: true}},
		{"after the page heard, only the curve", with(noAnswer(9), func(f *Failure) { f.Reported = true }),
			want{retry: true, wait: 96 * time.Second}},
		{"409 is held", failure(1, 409, `{"error":{"code":2003,"message":"Invalid field value"}}`),
			want{report: catalog.InvalidFieldValue, final: true}},
		{"2004 is held", failure(1, 400, `{"error":{"code":2004,"message":"File too large"}}`),
			want{report: catalog.FileSizeExceeded, final: true}},
		{"2006 is DURATION_EXCEEDED, held", failure(1, 400, `{"error":{"code":2006,"message":"too long"}}`),
			want{report: catalog.DurationExceeded, final: true}},
		{"an unknown 5xx is heard and retried", failure(1, 501, `<html>`),
			want{retry: true, wait: 375 * time.Millisecond, report: catalog.APIError, final: true}},
		{"the token endpoint refusing is heard and retried",
			Failure{N: 1, Err: catalog.New(catalog.AuthenticationFailed, nil, epoch)},
			want{retry: true, wait: 375 * time.Millisecond, report: catalog.AuthenticationFailed, final: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.f, epoch)
			var code catalog.Code
			if d.Report != nil {
				code = d.Report.Code
			}
			got := want{retry: d.Retry, wait: d.Wait, refresh: d.RefreshToken, report: code, final: d.Final}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	for n := 1; n <= 40; n++ {
		lo, hi := DefaultPolicy(), DefaultPolicy()
		lo.Jitter, hi.Jitter = func() float64 { return 0 }, func() float64 { return math.Nextafter(1, 0) }
		d := min(500*time.Millisecond<<min(n-1, 30), 5*time.Minute)
		if a, b := lo.Backoff(n), hi.Backoff(n); a != d/2 || b > d || b < a {
			t.Fatalf("Backoff(%d) in [%s, %s], want [%s, %s]", n, a, b, d/2, d)
		}
	}
	bad := DefaultPolicy()
	for _, j := range []float64{math.NaN(), -1, 2} {
		bad.Jitter = func() float64 { return j }
		if w := bad.Backoff(1); w < 250*time.Millisecond || w > 500*time.Millisecond {
			t.Fatalf("jitter %v gave %s", j, w)
		}
	}
}

// Whatever the waits and the time the tries take, the page hears a run of transient
// failures within 20 s of the first one.
func TestTransientFailuresAreHeardWithin20s(t *testing.T) {
	for _, jitter := range []float64{0, 0.5, 0.999} {
		for _, tryTime := range []time.Duration{0, 500 * time.Millisecond, 3 * time.Second, 9 * time.Second} {
			p := DefaultPolicy()
			p.Jitter = func() float64 { return jitter }
			now, first, deadline := epoch, time.Time{}, time.Time{}
			for n := 1; ; n++ {
				now = now.Add(tryTime)
				if !deadline.IsZero() && now.After(deadline) {
					now = deadline // the courier cuts an attempt at the deadline
				}
				d := p.Decide(Failure{N: n, Err: catalog.New(catalog.NetworkError, nil, now), First: first}, now)
				if first.IsZero() {
					first = now
				}
				if d.Report != nil {
					if now.Sub(first) > 20*time.Second || !d.Final {
						t.Fatalf("jitter %v, tries of %s: heard %s after the first failure", jitter, tryTime, now.Sub(first))
					}
					break
				}
				if !d.Deadline.Equal(first.Add(20 * time.Second)) {
					t.Fatalf("jitter %v, tries of %s: try %d has deadline %s", jitter, tryTime, n, d.Deadline.Sub(first))
				}
				deadline = d.Deadline
				now = now.Add(d.Wait)
			}
		}
	}
}

// The manual's delivery table (docs/sdk.md) is rendered from the policy: its numbers and
// what each row does. If the policy or the manual changes alone, this fails.
func TestManualDeliveryTable(t *testing.T) {
	manual, err := os.ReadFile("../../docs/sdk.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- delivery table: wasm/delivery/policy_test.go renders it -->\n", "<!-- end of delivery table -->"
	s := string(manual)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("docs/sdk.md has no delivery table between the markers")
	}
	if got, want := s[i+len(begin):j], deliveryTable(t); got != want {
		t.Fatalf("docs/sdk.md's delivery table differs from the policy's; the policy renders:\n%s", want)
	}
}

// deliveryTable renders the table, checking on the way that each row says what Decide does.
func deliveryTable(t *testing.T) string {
	p := DefaultPolicy()
	lo, hi := p, p
	lo.Jitter, hi.Jitter = func() float64 { return 0 }, func() float64 { return math.Nextafter(1, 0) }
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	span := func(n int) string {
		a, b := lo.Backoff(n), hi.Backoff(n).Round(time.Millisecond)
		if a >= time.Minute {
			mins := func(d time.Duration) string { return strconv.FormatFloat(d.Minutes(), 'f', -1, 64) }
			return mins(a) + "–" + mins(b) + " min"
		}
		return secs(a) + "–" + secs(b) + " s"
	}
	var curve []string
	for n := 1; n < p.ReportAfter; n++ {
		curve = append(curve, span(n))
	}
	var last int
	for last = p.ReportAfter; lo.Backoff(last+1) > lo.Backoff(last); last++ {
	}
	check := func(row string, f Failure, ok func(Decision) bool) {
		if d := p.Decide(f, epoch); !ok(d) {
			t.Errorf("row %q: Decide says %+v", row, d)
		}
	}
	check("auth", failure(1, 401, `{"error":{"code":1002,"message":"m"}}`), func(d Decision) bool {
		return d.Retry && d.RefreshToken && d.Wait == 0 && d.Report == nil
	})
	check("rate", failure(1, 429, `{"error":{"code":4003,"message":"m","details":{"retry_after":3}}}`), func(d Decision) bool {
		return d.Retry && d.Wait == 3*time.Second && d.Report == nil
	})
	check("transient", failure(p.ReportAfter, 503, ``), func(d Decision) bool { return d.Retry && d.Final })
	check("held", failure(1, 409, `{"error":{"code":2003,"message":"m"}}`), func(d Decision) bool { return !d.Retry && d.Final })
	check("other", failure(1, 501, ``), func(d Decision) bool { return d.Retry && d.Final })
	for _, stale := range []Response{
		{Status: 403, Body: `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`},
		{Status: 403, Body: `{"error":{"code":1002,"message":"m"}}`, Doc: map[string]any{"error": map[string]any{"code": 1002.0, "message": "m"}}},
		{Status: 404, Body: `<Error><Code>NoSuchUpload</Code></Error>`},
	} {
		if outcome, _, _ := ReadPut(stale, epoch); outcome != putStale {
			t.Errorf("row %q: ReadPut says %v", stale.Body, outcome)
		}
	}

	rows := [][3]string{
		{"the API answers", "the SDK", "the page hears"},
		{"the last `PUT` answered 2xx (the voice note; object storage's empty 200 with an `ETag`)", "removes the recording from the outbox", "`onUploaded`; the control goes `uploaded`"},
		{"a presigned URL refused or expired (403 with 1001 / 1002, `AccessDenied`, `Request has expired`), or its session gone (404, 6001, `NoSuchUpload`)",
			"asks for a new session at once, with the same key, and sends only the missing parts; refused again before any byte went in, the backoff below",
			"nothing the first time; then `AUTHENTICATION_FAILED` (1001 / 1002) or the storage's status"},
		{"1001 / 1002 (or a bare 401)", "gets a new token and tries again at once; refused again, tries on the backoff below, each time with a new token",
			"`AUTHENTICATION_FAILED` after the second refusal"},
		{"4003 / HTTP 429", fmt.Sprintf("waits `retry_after` or `Retry-After` (seconds or an HTTP-date), whichever is longer, at most %s s; without either, the backoff", secs(p.MaxRetryAfter)),
			fmt.Sprintf("`RATE_LIMIT_EXCEEDED` as a warning when a wait would end more than %s s after the first failure, and as the outcome after %d tries; the waits go on", secs(p.ReportWithin), p.ReportAfter)},
		{"5001, 5002, HTTP 500/502/503/504, no answer, the token endpoint unreachable",
			fmt.Sprintf("backs off: waits of %s, then twice as long each time up to %s, for as long as the page is open", strings.Join(curve, ", "), span(last)),
			fmt.Sprintf("`NETWORK_ERROR` (or the API's code) after %d tries, never later than %s s after the first failure; an attempt still running then is cut", p.ReportAfter, secs(p.ReportWithin))},
		{"any other 4xx: 2001–2006, 3004, 6001, a 409 (the id used for other bytes)", "holds the recording: no retry until `retryPending()`",
			"the API's code at once (2006 as `DURATION_EXCEEDED`)"},
		{"the token endpoint refuses; another 5xx; a bug of the SDK's own", "the backoff above", "`AUTHENTICATION_FAILED`, the API's code or `INTERNAL_ERROR`, at once"},
	}
	var b strings.Builder
	for i, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r[0], r[1], r[2])
		if i == 0 {
			b.WriteString("|---|---|---|\n")
		}
	}
	return b.String()
}

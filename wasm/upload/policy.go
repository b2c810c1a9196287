package upload

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// Attempt is what happened to one try of an upload that did not store the recording.
type Attempt struct {
	N                int            // 1 for the first try
	Status           int            // HTTP status, 0 when there was no response (network failure, timeout)
	Err              *catalog.Error // the parsed API error (catalog.ParseEnvelope) or a NETWORK_ERROR for no response
	RetryAfterHeader time.Duration  // from Retry-After, 0 if absent
	Refreshed        bool           // a token refresh was already used for this upload
	FirstFailure     time.Time      // when the first failure of this upload happened; zero: this one
	Reported         bool           // the page has already heard an error of this upload (an earlier ReportNow)
}

// Decision is what to do after a failed attempt.
type Decision struct {
	Retry        bool
	Wait         time.Duration // before the next attempt
	RefreshToken bool          // get a new token before retrying
	// Final is what the page hears: when not retrying, the upload's outcome; with
	// ReportNow, an error to report at once while the retries go on.
	Final     *catalog.Error
	ReportNow bool
	// Deadline, when not zero, is when the next attempt must have ended: the time by
	// which the page must hear the outcome. The Uploader cuts an attempt that runs past it
	// (it then counts as a timeout).
	Deadline time.Time
}

// Policy is the retry table of docs/sdk.md with its numbers. Zero fields take the values of
// DefaultPolicy; a nil Jitter means no randomness (the midpoint, 0.5); a nil Now means
// time.Now.
type Policy struct {
	BaseDelay   time.Duration // the first backoff step
	MaxDelay    time.Duration // the largest backoff step
	MaxAttempts int           // tries of one upload, the first included (one token refresh may add one more)
	// ReportWithin bounds how long after the first failure the page hears of it: the
	// final error of a run of 5xx, timeouts and network failures comes no later, and a
	// rate-limit wait that would end later is reported when it starts (ReportNow).
	ReportWithin  time.Duration
	MaxRetryAfter time.Duration // cap on a wait the server asks for (retry_after, Retry-After)
	// Background, when positive, keeps a run of 5xx and network failures going for this
	// long after ReportWithin: the page hears the error at ReportWithin (ReportNow) and
	// the upload goes on trying at MaxDelay, returning the final error only after that.
	// DefaultPolicy leaves it 0: the upload gives up at ReportWithin and the recording
	// waits in the outbox for a later retry.
	Background time.Duration
	Jitter     func() float64 // uniform in [0, 1)
	Now        func() time.Time
}

// DefaultPolicy is the SDK's policy.
//
// Backoff is exponential with "equal jitter": the n-th try waits d/2 + jitter·d/2 with
// d = min(MaxDelay, BaseDelay·2^(n-1)), that is 250–500 ms, 0.5–1 s, 1–2 s, 2–4 s,
// 4–8 s. Equal rather than full jitter keeps a floor under every wait, so the waits
// really grow and a struggling server is never hit twice in a row at once, while still
// spreading clients apart. Six tries make five waits of 7.75–15.5 s in all, inside the 20 s
// in which the page must hear NETWORK_ERROR; the time bound (ReportWithin) is enforced
// on top of the count, shortening the last wait or stopping early where the tries
// themselves took time.
func DefaultPolicy() Policy {
	return Policy{
		BaseDelay:     500 * time.Millisecond,
		MaxDelay:      8 * time.Second,
		MaxAttempts:   6,
		ReportWithin:  20 * time.Second,
		MaxRetryAfter: 120 * time.Second,
		Jitter:        rand.Float64,
		Now:           time.Now,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	p.MaxDelay = max(p.MaxDelay, p.BaseDelay)
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.ReportWithin <= 0 {
		p.ReportWithin = d.ReportWithin
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

// Backoff is the wait after the n-th try (n ≥ 1) of a run of transient failures, with
// equal jitter: d/2 + j·d/2, d = min(MaxDelay, BaseDelay·2^(n-1)).
func (p Policy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := p.MaxDelay
	if n < 1 {
		n = 1
	}
	if n <= 62 && p.BaseDelay <= p.MaxDelay>>(n-1) { // BaseDelay·2^(n-1) ≤ MaxDelay without overflow
		d = p.BaseDelay << (n - 1)
	}
	j := 0.5
	if p.Jitter != nil {
		j = p.Jitter()
	}
	switch { // a jitter source out of [0, 1) must not break the bounds
	case math.IsNaN(j):
		j = 0.5
	case j < 0:
		j = 0
	case j >= 1:
		j = math.Nextafter(1, 0)
	}
	half := d / 2
	return half + time.Duration(j*float64(d-half))
}

// Decide applies docs/sdk.md's retry table to a failed attempt.
//
//   - 1001/1002 (or a bare 401): refresh the token and retry at once, once per upload;
//     then AUTHENTICATION_FAILED carrying the API's apiCode and status.
//   - 4003 or HTTP 429: wait the larger of details.retry_after and the Retry-After header
//     (capped at MaxRetryAfter; the backoff when neither is given), then retry, up to
//     MaxAttempts; then the API's RATE_LIMIT_EXCEEDED. A wait that would end more than
//     ReportWithin after the first failure is reported when it starts (ReportNow).
//   - 5001, 5002, HTTP 500/502/503/504, no response: backoff (see DefaultPolicy), up to
//     MaxAttempts, and never past ReportWithin after the first failure (the last wait is
//     shortened so that the last try has at least a second, or the retries stop); then
//     NETWORK_ERROR when the last try had no response, else the API's own code
//     (SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR, …). With Background, see Policy.
//   - anything else (2001–2006, 3004, 6001, a 409 conflict, other 4xx and 5xx): no retry,
//     the API's own code (2006 as DURATION_EXCEEDED) with apiCode, status and details.
//
// A 1001/1002 refresh is granted even at MaxAttempts, so an upload makes at most
// MaxAttempts+1 tries (without Background). FirstFailure is the first failure of any
// kind: a 5xx that follows a rate-limit wait longer than ReportWithin ends the upload at
// once (the page heard of the rate limit when that wait began). Decide is pure but for
// Now and Jitter.
func (p Policy) Decide(a Attempt) Decision {
	p = p.withDefaults()
	now := p.Now()
	first := a.FirstFailure
	if first.IsZero() || first.After(now) {
		first = now
	}
	failure := a.Err
	if failure == nil {
		if a.Status == 0 {
			failure = catalog.New(catalog.NetworkError, nil, now)
		} else {
			failure = catalog.ParseEnvelope(a.Status, nil, now)
		}
	}
	switch classify(a.Status, failure) {
	case authRow:
		if !a.Refreshed {
			return Decision{Retry: true, RefreshToken: true}
		}
		return Decision{Final: authFailed(failure, now)}
	case rateRow:
		if a.N >= p.MaxAttempts {
			return Decision{Final: failure}
		}
		wait := p.serverWait(failure, a.RetryAfterHeader)
		if wait <= 0 {
			wait = p.Backoff(a.N)
		}
		d := Decision{Retry: true, Wait: wait}
		if !a.Reported && now.Add(wait).Sub(first) > p.ReportWithin {
			d.ReportNow, d.Final = true, failure
		}
		return d
	case transientRow:
		wait := p.Backoff(a.N)
		end := first.Add(p.ReportWithin)
		if a.N < p.MaxAttempts {
			if w, ok := p.fit(now, wait, end); ok {
				return Decision{Retry: true, Wait: w, Deadline: end}
			}
		}
		if p.Background > 0 {
			end = end.Add(p.Background)
			if w, ok := p.fit(now, wait, end); ok {
				d := Decision{Retry: true, Wait: w, Deadline: end}
				if !a.Reported {
					d.ReportNow, d.Final = true, failure
				}
				return d
			}
		}
		return Decision{Final: failure}
	default:
		return Decision{Final: failure}
	}
}

// fit shortens wait so that a try starting after it still has a useful window before
// end (a second, or a tenth of ReportWithin if that is less); false when so little time
// is left that the try would follow the last one at once (less than BaseDelay/2, the
// shortest backoff) or could not run at all.
func (p Policy) fit(now time.Time, wait time.Duration, end time.Time) (time.Duration, bool) {
	window := min(time.Second, p.ReportWithin/10)
	room := end.Sub(now) - window
	if room <= 0 || (room < wait && room < p.BaseDelay/2) {
		return 0, false
	}
	return min(wait, room), true
}

// serverWait is the wait the server asked for: the larger of details.retry_after
// (seconds) and the Retry-After header, capped; 0 when neither is given.
func (p Policy) serverWait(e *catalog.Error, header time.Duration) time.Duration {
	wait := max(header, 0)
	if secs, ok := seconds(e.Details["retry_after"]); ok {
		wait = max(wait, secs)
	}
	return min(wait, p.MaxRetryAfter)
}

// seconds reads a JSON number of seconds (or a numeric string) as a duration.
func seconds(v any) (time.Duration, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if !(f > 0) || math.IsInf(f, 0) {
		return 0, false
	}
	if f > float64(math.MaxInt64/int64(time.Second)) {
		f = float64(math.MaxInt64 / int64(time.Second))
	}
	return time.Duration(f * float64(time.Second)), true
}

type row int

const (
	otherRow row = iota
	authRow
	rateRow
	transientRow
)

// classify finds an answer's row of docs/sdk.md's table: by the API's code where the answer
// had one, by the HTTP status otherwise.
func classify(status int, e *catalog.Error) row {
	switch e.APICode {
	case 1001, 1002:
		return authRow
	case 4003:
		return rateRow
	case 5001, 5002:
		return transientRow
	}
	switch {
	case status == 0:
		return transientRow
	case status == 429:
		return rateRow
	case status == 500 || status == 502 || status == 503 || status == 504:
		return transientRow
	case status == 401 && e.APICode == 0:
		return authRow
	}
	return otherRow
}

// authFailed is AUTHENTICATION_FAILED after a refreshed token was refused too, with the
// API's apiCode, status and details.
func authFailed(api *catalog.Error, now time.Time) *catalog.Error {
	e := catalog.New(catalog.AuthenticationFailed, api.Details, now)
	e.Message = "the API refused a freshly fetched token: " + api.Message
	e.APICode, e.Status = api.APICode, api.Status
	return e
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date. It answers
// 0 for an absent, malformed or past value.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if d, ok := seconds(value); ok {
		if strings.ContainsAny(value, ".eE+-") { // delay-seconds is digits only
			return 0
		}
		return d
	}
	for _, layout := range []string{time.RFC1123, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, value); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	return 0
}

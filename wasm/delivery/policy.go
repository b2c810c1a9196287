package delivery

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// Failure is one attempt that did not store the recording, with what the delivery
// knew when it was made.
type Failure struct {
	N          int            // the attempt's number in this delivery, 1 for the first
	Status     int            // HTTP status, 0 when there was no response (network failure, timeout)
	Err        *catalog.Error // the API's error, or NETWORK_ERROR / AUTHENTICATION_FAILED of the token or transport
	RetryAfter time.Duration  // the Retry-After header, 0 if absent
	Refreshed  bool           // the token was already refreshed once since the page last heard
	// Stale: a presigned URL was refused or had expired, or its upload session is gone
	// (the PUT step's 403 / 404): a new session is the remedy, not an error for the page.
	Stale bool
	// Renewed: a new session was already asked for after a stale one, and no part went in
	// since.
	Renewed  bool
	First    time.Time // when the first failure of this delivery happened; zero: this one
	Warned   bool      // the page heard a warning (a long rate-limit wait) already
	Reported bool      // the page heard the outcome already: what follows is background
}

// Decision is what a delivery does after a failed attempt.
type Decision struct {
	// Retry is false when the recording is refused: the API said no, and trying the same
	// bytes again would only repeat the answer. It waits for retryPending().
	Retry        bool
	Wait         time.Duration // before the next attempt
	RefreshToken bool          // drop the cached token: the next attempt fetches a new one
	// Report is what the page hears now (nil: nothing). With Final it is the upload's
	// outcome (the control leaves "uploading" for "error") while the recording stays in
	// the outbox; without, a warning while the same upload goes on (a long rate-limit wait).
	Report *catalog.Error
	Final  bool
	// Deadline, when not zero, is when the next attempt must have ended: the page must
	// hear the outcome by then. The delivery cuts an attempt that runs past it.
	Deadline time.Time
}

// Policy is the schedule of a recording's delivery with its numbers (the README's
// delivery table). Zero fields take the values of DefaultPolicy; a nil Jitter means
// no randomness (the midpoint).
type Policy struct {
	BaseDelay time.Duration // the first backoff step
	MaxDelay  time.Duration // the largest backoff step
	// ReportAfter is how many tries of a run of transient failures come before the page
	// hears the outcome; ReportWithin bounds the same in time, after the first failure.
	ReportAfter   int
	ReportWithin  time.Duration
	MaxRetryAfter time.Duration // cap on a wait the server asks for (retry_after, Retry-After)
	Jitter        func() float64
}

// DefaultPolicy is the SDK's schedule.
//
// Every wait of a delivery comes from one curve: exponential with "equal jitter", the
// n-th wait d/2 + jitter·d/2 with d = min(MaxDelay, BaseDelay·2^(n-1)): 0.25–0.5 s,
// 0.5–1 s, 1–2 s, 2–4 s, 4–8 s, … up to 2.5–5 min. Equal rather than full jitter keeps a
// floor under every wait, so the waits really grow and a struggling server is never hit
// twice at once, while clients still spread apart. The first six tries take 7.75–15.5 s
// of waiting, inside the 20 s in which the page must hear NETWORK_ERROR; after that the
// same curve goes on in the background for as long as the page is open.
func DefaultPolicy() Policy {
	return Policy{
		BaseDelay:     500 * time.Millisecond,
		MaxDelay:      5 * time.Minute,
		ReportAfter:   6,
		ReportWithin:  20 * time.Second,
		MaxRetryAfter: 120 * time.Second,
		Jitter:        rand.Float64,
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
	if p.ReportAfter <= 0 {
		p.ReportAfter = d.ReportAfter
	}
	if p.ReportWithin <= 0 {
		p.ReportWithin = d.ReportWithin
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	return p
}

// Backoff is the wait after the n-th try (n ≥ 1): d/2 + j·d/2, d = min(MaxDelay, BaseDelay·2^(n-1)).
func (p Policy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := p.MaxDelay
	n = max(n, 1)
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
		j = 1 - 0x1p-53 // the float64 just below 1
	}
	half := d / 2
	return half + time.Duration(j*float64(d-half))
}

// Decide applies the delivery table (docs/sdk.md's retry table, and what follows it) to
// a failed attempt at time now.
//
//   - a stale session (a presigned URL refused, expired or gone): a new session (the
//     courier POSTs again with the same key) and an immediate retry; stale again before
//     any part went in, the page hears it and the same goes on on the backoff curve.
//   - 1001/1002 (or a bare 401): a new token and one immediate retry; refused again, the
//     page hears AUTHENTICATION_FAILED (with the API's apiCode and status) and the
//     recording is tried again on the backoff curve, each time with a new token.
//   - 4003 or HTTP 429: the larger of details.retry_after and Retry-After (capped at
//     MaxRetryAfter; the backoff when neither is given). A wait that would end more than
//     ReportWithin after the first failure is a warning to the page when it starts; after
//     ReportAfter tries the page hears RATE_LIMIT_EXCEEDED as the outcome; the waits go on.
//   - 5001, 5002, HTTP 500/502/503/504, no response, an unreachable token endpoint: the
//     backoff curve, never past ReportWithin after the first failure (the last wait is
//     shortened, and the try after it is cut at that deadline); after ReportAfter tries,
//     or at the deadline, the page hears the outcome (NETWORK_ERROR when the last try had
//     no response, else the API's code), and the curve goes on in the background.
//   - anything else (2001–2006, 3004, 6001, a 409 conflict, other 4xx): the page hears the
//     API's code (2006 as DURATION_EXCEEDED) and the recording is kept, refused, for retryPending(),
//     unless the error itself says a later try may help (an unknown 5xx, a token endpoint
//     that refused, a bug of the SDK's own).
func (p Policy) Decide(f Failure, now time.Time) Decision {
	p = p.withDefaults()
	first := f.First
	if first.IsZero() || first.After(now) {
		first = now
	}
	failure := f.Err
	if failure == nil {
		failure = catalog.FromAPI(f.Status, nil, "", now)
	}
	backoff := Decision{Retry: true, Wait: p.Backoff(f.N)}
	// The page hears the outcome once; every decision after that is background.
	outcome := func(d Decision) Decision {
		if !f.Reported {
			d.Report, d.Final = failure, true
		}
		return d
	}
	if f.Stale {
		if !f.Renewed {
			return Decision{Retry: true}
		}
		if !f.Reported && (failure.APICode == 1001 || failure.APICode == 1002) {
			failure = authFailed(failure, now)
		}
		return outcome(backoff)
	}
	switch classify(f.Status, failure) {
	case authRow:
		if !f.Refreshed {
			return Decision{Retry: true, RefreshToken: true}
		}
		if !f.Reported {
			failure = authFailed(failure, now)
		}
		backoff.RefreshToken = true
		return outcome(backoff)
	case rateRow:
		wait := p.serverWait(failure, f.RetryAfter)
		if wait <= 0 {
			wait = p.Backoff(f.N)
		}
		d := Decision{Retry: true, Wait: wait}
		if f.Reported {
			return d
		}
		if f.N >= p.ReportAfter {
			return outcome(d)
		}
		if !f.Warned && now.Add(wait).Sub(first) > p.ReportWithin {
			d.Report = failure
		}
		return d
	case transientRow:
		if f.Reported {
			return backoff
		}
		end := first.Add(p.ReportWithin)
		if f.N < p.ReportAfter {
			if w, ok := p.fit(now, backoff.Wait, end); ok {
				return Decision{Retry: true, Wait: w, Deadline: end}
			}
		}
		return outcome(backoff)
	default:
		if !laterMayHelp(failure) {
			return outcome(Decision{})
		}
		return outcome(backoff)
	}
}

// laterMayHelp: whether the same bytes may be taken later although the API refused them
// now. A 409 is a real conflict (the id was used for other bytes) and the other 4xx a
// refusal of the recording, so those wait for retryPending().
func laterMayHelp(e *catalog.Error) bool {
	if e.Status == 409 {
		return false
	}
	return e.Retryable || e.Code == catalog.AuthenticationFailed || e.Code == catalog.InternalError
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

// seconds reads a JSON number of seconds as a duration.
func seconds(v any) (time.Duration, bool) {
	f, ok := v.(float64)
	if !ok || !(f > 0) || math.IsInf(f, 0) {
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

// classify finds an answer's row of the table: by the API's code where the answer had
// one, by the HTTP status otherwise.
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
	case status == 0 && e.Code == catalog.NetworkError:
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
	if api.Code == catalog.AuthenticationFailed && api.APICode == 0 {
		return api // the token endpoint's own refusal
	}
	e := catalog.New(catalog.AuthenticationFailed, api.Details, now)
	e.Message = "the API refused a freshly fetched token: " + api.Message
	e.APICode, e.Status = api.APICode, api.Status
	return e
}

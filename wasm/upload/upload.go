package upload

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// Request is one attempt at sending a recording. The Uploader fills Token and URL on
// every attempt; the rest is the caller's.
type Request struct {
	ID          string // the recording's UUID, the same on every attempt: the server is idempotent by id
	ContentType string // the recording's MIME type, codec parameters allowed
	Size        int64  // bytes
	Metadata    string // JSON for X-VocaFuse-Metadata, or ""
	Token       string // the bearer token; never log it
	URL         string // BaseURL + "/v1/voicenotes/" + the path-escaped ID
}

// Response is the API's answer to one attempt.
type Response struct {
	Status     int
	Body       []byte
	RetryAfter time.Duration // the Retry-After header (see ParseRetryAfter), 0 if absent
}

// Transport sends one attempt; the glue implements it with XMLHttpRequest.
type Transport interface {
	// Put sends the recording (the glue keeps the bytes in JavaScript) with
	// "Authorization: Bearer <r.Token>", the recording's Content-Type and, where
	// r.Metadata is not empty, X-VocaFuse-Metadata. err non-nil means no response
	// (network failure, timeout, ctx ended). progress may be called from any goroutine
	// but not after Put returns.
	Put(ctx context.Context, r Request, progress func(sent, total int64)) (Response, error)
}

// Sleeper waits d, or less when ctx ends (then it answers ctx.Err()).
type Sleeper func(ctx context.Context, d time.Duration) error

// RealSleep is the Sleeper of the browser: a timer.
func RealSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Uploader sends recordings following a Policy. It holds no state of its own between
// uploads, so one Uploader may run many uploads at once; they share the token cache.
type Uploader struct {
	Tokens    *Cache
	Transport Transport
	Policy    Policy  // zero fields as in DefaultPolicy; Policy.Now is also the Uploader's clock
	Sleep     Sleeper // nil means RealSleep
	BaseURL   string  // where the API lives, without /v1; "" gives relative URLs
}

// Upload sends the recording, following the policy, until it is stored (a 2xx answer:
// 201 or, for the same bytes again, 200; the body, the voice-note JSON, is returned
// raw) or a final error. The id is the same on every attempt.
//
// The error is a *catalog.Error (AUTHENTICATION_FAILED, NETWORK_ERROR, or the API's own
// code with apiCode, status and details), except when ctx ends: then ctx.Err(). A token
// source that fails with anything but NETWORK_ERROR ends the upload before any Put; an
// unreachable token endpoint is retried like an unreachable API.
//
// onError (may be nil) is called at most once, from Upload's goroutine, with an error the
// page should hear now while the retries go on (Decision.ReportNow); the returned error
// may repeat it. progress (may be nil) passes the transport's reports on, restarting
// from 0 on a retry, and always ends with (total, total) once the recording is stored.
func (u *Uploader) Upload(ctx context.Context, r Request, progress func(sent, total int64),
	onError func(*catalog.Error)) ([]byte, error) {
	p := u.Policy.withDefaults()
	if u.Tokens == nil || u.Transport == nil {
		return nil, catalog.Newf(catalog.InternalError, nil, p.Now(), "the uploader has no token cache or no transport")
	}
	if r.ID == "" {
		return nil, catalog.Newf(catalog.InvalidOption, map[string]any{"option": "id", "reason": "must not be empty"},
			p.Now(), "a recording to upload needs an id")
	}
	sleep := u.Sleep
	if sleep == nil {
		sleep = RealSleep
	}
	r.Token = ""
	r.URL = strings.TrimRight(u.BaseURL, "/") + "/v1/voicenotes/" + pathSegment(r.ID)

	var (
		first     time.Time // of the first failure
		deadline  time.Time // by which the next attempt must end; zero: none
		refreshed bool
		reported  bool
	)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a := Attempt{N: n, Refreshed: refreshed, Reported: reported}
		token, err := u.Tokens.Get(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ce *catalog.Error
			if !errors.As(err, &ce) {
				ce = catalog.Newf(catalog.AuthenticationFailed, map[string]any{"reason": err.Error()}, p.Now(),
					"no token could be had")
			}
			if ce.Code != catalog.NetworkError {
				return nil, ce
			}
			a.Err = ce // the token endpoint is unreachable: retried like the API
		default:
			req := r
			req.Token = token
			resp, sent, total, err := u.put(ctx, req, deadline, p.Now, progress)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, ctx.Err()
			case err != nil:
				a.Err = noResponse(err, token, p.Now())
			case resp.Status >= 200 && resp.Status < 300:
				if total <= 0 {
					total = r.Size
				}
				if progress != nil && total > 0 && sent != total {
					progress(total, total)
				}
				return resp.Body, nil
			default:
				a.Status, a.RetryAfterHeader = resp.Status, resp.RetryAfter
				a.Err = scrub(catalog.ParseEnvelope(resp.Status, resp.Body, p.Now()), token)
			}
		}
		if first.IsZero() {
			first = p.Now()
		}
		a.FirstFailure = first
		d := p.Decide(a)
		final := scrub(d.Final, token)
		if final == nil {
			final = a.Err
		}
		if d.ReportNow && !reported {
			reported = true
			if onError != nil {
				onError(final)
			}
		}
		if !d.Retry {
			return nil, final
		}
		if d.RefreshToken && token != "" {
			u.Tokens.Invalidate(token)
			refreshed = true
		}
		deadline = d.Deadline
		if d.Wait > 0 {
			if err := sleep(ctx, d.Wait); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, err
			}
		}
	}
}

// put runs one attempt, cut at deadline when there is one, and answers the last progress
// report with the response.
func (u *Uploader) put(ctx context.Context, r Request, deadline time.Time, now func() time.Time,
	progress func(sent, total int64)) (resp Response, sent, total int64, err error) {
	if !deadline.IsZero() {
		// The policy's clock may be a fake one: the timer gets the time left by that clock.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, deadline.Sub(now()), errAttemptDeadline)
		defer cancel()
	}
	var lastSent, lastTotal atomic.Int64
	report := func(s, t int64) {
		lastSent.Store(s)
		lastTotal.Store(t)
		if progress != nil {
			progress(s, t)
		}
	}
	resp, err = u.Transport.Put(ctx, r, report)
	if err != nil && errors.Is(context.Cause(ctx), errAttemptDeadline) {
		err = errAttemptDeadline // a timeout of ours, not the caller giving up
	}
	return resp, lastSent.Load(), lastTotal.Load(), err
}

// pathSegment escapes an id as one path segment, dot segments included (a URL parser
// would resolve "/v1/voicenotes/.." to "/v1/"): the API then refuses the id (2003).
// Everything but unreserved characters is percent-encoded; written out here because
// net/url costs the wasm tens of kilobytes for this one call.
func pathSegment(id string) string {
	if id == "." || id == ".." {
		return replaceAll(id, ".", "%2E")
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

var errAttemptDeadline = errors.New("no answer before the retry deadline")

// noResponse is the NETWORK_ERROR of an attempt without an answer.
func noResponse(err error, token string, now time.Time) *catalog.Error {
	var ce *catalog.Error
	if errors.As(err, &ce) && ce.Code == catalog.NetworkError {
		return scrub(ce, token)
	}
	reason := err.Error()
	if ce != nil {
		reason = ce.Message
	}
	e := catalog.New(catalog.NetworkError, map[string]any{"reason": reason}, now)
	return scrub(e, token)
}

// Package upload sends one recording to the VocaFuse API the way docs/sdk.md says: a
// bearer token from the page's backend, cached in memory and refreshed before it
// expires; the retry table of docs/sdk.md (one token refresh on 1001/1002, retry_after
// honoured on 4003/429, exponential backoff with jitter on 5xx, timeouts and network
// failures, nothing else retried); and the error the page hears.
//
// The package is pure Go and free of any browser API: the glue supplies the token
// source, the transport (XMLHttpRequest, which keeps the bytes in JavaScript) and the
// sleeper, so everything here runs natively under a fake clock. It logs nothing, and a
// token never appears in an error's message or details.
package upload

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// Token is a bearer token and when it stops being valid.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// String hides the value, so a Token printed by mistake (%v, %s) leaks nothing. There
// is no GoString: %#v is for debugging Go syntax, and it costs the wasm a kilobyte.
func (t Token) String() string {
	// Unix seconds, not Format: time's formatting tables would cost the wasm ~40 KB.
	return "upload.Token{Value: [redacted], ExpiresAt: " + strconv.FormatInt(t.ExpiresAt.Unix(), 10) + "}"
}

// Source asks the page's backend for a token: its tokenEndpoint or its getToken. It
// answers the token and its lifetime (expires_in); a lifetime of 0 (or less) means
// unknown, which the cache takes as DefaultLifetime.
//
// A Source may fail with a *catalog.Error of NETWORK_ERROR when the token endpoint
// could not be reached; the cache passes that on. Any other failure becomes
// AUTHENTICATION_FAILED.
type Source func(ctx context.Context) (value string, expiresIn time.Duration, err error)

const (
	// DefaultLifetime is assumed for a token whose lifetime the source did not say: the
	// shortest expires_in the API issues (docs/api.md allows 60..86400 s), so the guess can only
	// be too cautious.
	DefaultLifetime = 60 * time.Second

	// FetchTimeout bounds one call of the Source. A token endpoint that does not answer in
	// time counts as unreachable (NETWORK_ERROR), so a hung request cannot hold up every
	// upload that waits for it.
	FetchTimeout = 30 * time.Second

	// The refresh margin is marginFraction of a token's lifetime, at least minMargin and at
	// most maxMargin, and never more than half the lifetime (so a very short-lived token is
	// still used rather than refetched on every call).
	marginFraction = 5 // 1/5 = 20 %
	minMargin      = 5 * time.Second
	maxMargin      = 5 * time.Minute
)

// RefreshMargin is how long before its expiry a token of the given lifetime is
// replaced: 20 % of the lifetime, at least 5 s, at most 5 min, at most half the
// lifetime. A 60 s token is refreshed after 48 s; a one-hour token after 55 min.
func RefreshMargin(lifetime time.Duration) time.Duration {
	m := min(max(lifetime/marginFraction, minMargin), maxMargin)
	return min(m, lifetime/2)
}

// Cache holds the token of one SDK instance in memory (never in storage) and shares it
// between that instance's uploads. It is safe for concurrent use.
type Cache struct {
	src          Source
	now          func() time.Time
	fetchTimeout time.Duration

	mu       sync.Mutex
	tok      Token
	margin   time.Duration
	inflight *fetch // the fetch under way, shared by every Get that waits for it
	waiting  int    // Gets waiting for a fetch (tests watch it)
}

// fetch is one call of the Source; done is closed once value and err are set.
type fetch struct {
	done  chan struct{}
	value string
	err   error
}

// NewCache makes an empty cache over a token source. now is the clock (time.Now in the
// browser, a fake one in tests).
func NewCache(src Source, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{src: src, now: now, fetchTimeout: FetchTimeout}
}

// Get returns a token valid for at least the refresh margin, fetching one when there is
// none or the cached one is within its margin of expiry.
//
// Concurrent Gets while a fetch is under way share that fetch: the token endpoint sees
// one request. The fetch runs on a goroutine of its own, detached from the caller's
// context (bounded by FetchTimeout instead), so a caller that gives up does not fail the
// others; that caller gets ctx.Err() unchanged. Every other failure is a *catalog.Error:
// NETWORK_ERROR when the token endpoint could not be reached, AUTHENTICATION_FAILED
// (details: { reason }) otherwise. When a refresh fails while the cached token has not
// yet actually expired, that token is still answered.
func (c *Cache) Get(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.tok.Value != "" && c.now().Before(c.tok.ExpiresAt.Add(-c.margin)) {
		v := c.tok.Value
		c.mu.Unlock()
		return v, nil
	}
	f := c.inflight
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		c.inflight = f
		go c.run(context.WithoutCancel(ctx), f)
	}
	c.waiting++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}()
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run calls the source once and settles f.
func (c *Cache) run(ctx context.Context, f *fetch) {
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	asked := c.now()
	value, expiresIn, err := c.call(ctx)
	if err == nil && value == "" {
		err = errors.New("the token source answered an empty token")
	}

	c.mu.Lock()
	defer func() {
		c.inflight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	if err == nil {
		lifetime := expiresIn
		if lifetime <= 0 {
			lifetime = DefaultLifetime
		}
		// Counted from when the token was asked for: it cannot have been minted earlier.
		c.tok = Token{Value: value, ExpiresAt: asked.Add(lifetime)}
		c.margin = RefreshMargin(lifetime)
		f.value = value
		return
	}
	now := c.now()
	if c.tok.Value != "" && now.Before(c.tok.ExpiresAt) {
		f.value = c.tok.Value // still valid, if only just: better than failing the upload
		return
	}
	// A source that failed may still have answered a value; keep it out of the error too.
	f.err = scrub(c.sourceError(err, ctx.Err() != nil, now), value)
}

// call runs the source, turning a panic in it into an error.
func (c *Cache) call(ctx context.Context) (value string, expiresIn time.Duration, err error) {
	defer func() {
		if p := recover(); p != nil {
			value, expiresIn, err = "", 0, errors.New("the token source panicked")
		}
	}()
	if c.src == nil {
		return "", 0, errors.New("no token source: set tokenEndpoint or getToken")
	}
	return c.src(ctx)
}

// sourceError is the error the page hears for a failed fetch. Called with c.mu held.
func (c *Cache) sourceError(err error, timedOut bool, now time.Time) *catalog.Error {
	var ce *catalog.Error
	if errors.As(err, &ce) && ce.Code == catalog.NetworkError {
		return scrub(ce, c.tok.Value)
	}
	if timedOut && errors.Is(err, context.DeadlineExceeded) {
		return catalog.Newf(catalog.NetworkError,
			map[string]any{"reason": "the token endpoint did not answer within " + c.fetchTimeout.String()},
			now, "the token endpoint did not answer in time")
	}
	details := map[string]any{}
	reason := err.Error()
	if ce != nil {
		for k, v := range ce.Details {
			details[k] = v
		}
		reason = ce.Message
	}
	details["reason"] = reason
	return scrub(catalog.New(catalog.AuthenticationFailed, details, now), c.tok.Value)
}

// Invalidate drops the cached token after the API refused it (1001/1002), so the next
// Get fetches a new one. It does so only while token is still the cached one: two
// uploads refused with the same token cause one refresh, not two.
func (c *Cache) Invalidate(token string) {
	if token == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Value == token {
		c.tok = Token{}
	}
}

// redacted replaces a token wherever one turns up in text meant for a page.
const redacted = "[redacted]"

// minScrub is the shortest value scrubbed: a real token is far longer, and replacing a
// one-letter "token" would only mangle the message.
const minScrub = 4

// scrub returns e, or a copy of e without any trace of token in its message, user
// message or string details.
func scrub(e *catalog.Error, token string) *catalog.Error {
	if e == nil || len(token) < minScrub || !mentions(e, token) {
		return e
	}
	c := *e
	c.Message = replaceAll(c.Message, token, redacted)
	c.UserMessage = replaceAll(c.UserMessage, token, redacted)
	if e.Details != nil {
		c.Details = make(map[string]any, len(e.Details))
		for k, v := range e.Details {
			if s, ok := v.(string); ok {
				v = replaceAll(s, token, redacted)
			}
			c.Details[k] = v
		}
	}
	return &c
}

func mentions(e *catalog.Error, token string) bool {
	if strings.Contains(e.Message, token) || strings.Contains(e.UserMessage, token) {
		return true
	}
	for _, v := range e.Details {
		if s, ok := v.(string); ok && strings.Contains(s, token) {
			return true
		}
	}
	return false
}

// replaceAll is strings.ReplaceAll for a non-empty old, written out because the
// library's version costs the wasm 5 KB.
func replaceAll(s, old, new string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(new)
		s = s[i+len(old):]
	}
}

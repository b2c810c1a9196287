// Package delivery carries a recording from stop to stored, the way docs/sdk.md says,
// and is the one owner of that journey: the recording is kept in the outbox (a Store)
// under its lock (Locks) before the first attempt; each attempt takes a bearer token
// from the Cache and sends the bytes through the Network; the Policy decides what each
// answer means, when the next attempt comes and when the page hears about it; and the
// same code runs the first attempt, the background retries, a reload, `online` and
// retryPending().
//
// The package is pure Go and free of any browser API: the glue supplies the store
// (IndexedDB), the locks (Web Locks) and the network (fetch and XMLHttpRequest, which
// keep the bytes in JavaScript), so everything here runs natively, under
// testing/synctest's fake clock. It logs nothing, and a token never appears in an
// error's message or details.
package delivery

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// origin is what token expiries are measured from: a duration since it, not a
// time.Time, since the cache sits behind interfaces and a time.Time there would keep
// time's formatting code (90 KB) in the wasm.
var origin = time.Now()

func since() time.Duration { return time.Since(origin) }

// Source asks the page's backend for a token: its tokenEndpoint or its getToken. It
// answers the token and its lifetime (expires_in); a lifetime of 0 (or less) means
// unknown, which the cache takes as DefaultLifetime.
//
// A Source may fail with a *catalog.Error of NETWORK_ERROR when the token endpoint
// could not be reached; the cache passes that on. Any other failure becomes
// AUTHENTICATION_FAILED.
type Source func() (value string, expiresIn time.Duration, err error)

const (
	// DefaultLifetime is assumed for a token whose lifetime the source did not say: the
	// shortest expires_in the API issues (docs/api.md allows 60..86400 s), so the guess
	// can only be too cautious.
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
	src Source

	mu       sync.Mutex
	token    string        // in memory only: never in storage, a URL or a log
	expires  time.Duration // since origin
	margin   time.Duration
	inflight *fetch // the fetch under way, shared by every Get that waits for it
}

// fetch is one call of the Source; done is closed once value and err are set.
type fetch struct {
	done  chan struct{}
	value string
	err   error
}

// NewCache makes an empty cache over a token source.
func NewCache(src Source) *Cache {
	return &Cache{src: src}
}

// Get returns a token valid for at least the refresh margin, fetching one when there is
// none or the cached one is within its margin of expiry.
//
// Concurrent Gets while a fetch is under way share that fetch: the token endpoint sees
// one request. A fetch that takes longer than FetchTimeout fails as NETWORK_ERROR.
// Every failure is a *catalog.Error: NETWORK_ERROR when the token endpoint could not be
// reached, AUTHENTICATION_FAILED (details: { reason }) otherwise. When a refresh fails
// while the cached token has not yet actually expired, that token is still answered.
func (c *Cache) Get() (string, error) {
	c.mu.Lock()
	if c.token != "" && since() < c.expires-c.margin {
		v := c.token
		c.mu.Unlock()
		return v, nil
	}
	f := c.inflight
	if f == nil {
		f = &fetch{done: make(chan struct{})}
		c.inflight = f
		go c.run(f)
	}
	c.mu.Unlock()
	<-f.done
	return f.value, f.err
}

// Peek is the token in hand, even one past its refresh margin, without fetching: ""
// when there is none.
func (c *Cache) Peek() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

type answer struct {
	value     string
	expiresIn time.Duration
	err       error
	timedOut  bool
}

// run calls the source once, bounded by FetchTimeout, and settles f.
func (c *Cache) run(f *fetch) {
	asked := since()
	// The source's answer and the timeout race to one channel (a select would bring
	// the runtime's selectgo, 13 KB, into the wasm); the loser's send is dropped.
	got := make(chan answer, 2)
	go func() { got <- c.call() }()
	timer := time.AfterFunc(FetchTimeout, func() { got <- answer{timedOut: true} })
	a := <-got
	timer.Stop()
	timedOut := a.timedOut
	if a.err == nil && a.value == "" && !timedOut {
		a.err = errors.New("the token source answered an empty token")
	}

	c.mu.Lock()
	defer func() {
		c.inflight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	if a.err == nil && !timedOut {
		lifetime := a.expiresIn
		if lifetime <= 0 {
			lifetime = DefaultLifetime
		}
		// Counted from when the token was asked for: it cannot have been minted earlier.
		c.token, c.expires = a.value, asked+lifetime
		c.margin = RefreshMargin(lifetime)
		f.value = a.value
		return
	}
	now := time.Now()
	if c.token != "" && since() < c.expires {
		f.value = c.token // still valid, if only just: better than failing the upload
		return
	}
	// A source that failed may still have answered a value; keep it out of the error too.
	f.err = scrub(c.sourceError(a.err, timedOut, now), a.value)
}

// call runs the source, turning a panic in it into an error.
func (c *Cache) call() (a answer) {
	defer func() {
		if p := recover(); p != nil {
			a = answer{err: errors.New("the token source panicked")}
		}
	}()
	if c.src == nil {
		return answer{err: errors.New("no token source: set tokenEndpoint or getToken")}
	}
	v, exp, err := c.src()
	return answer{value: v, expiresIn: exp, err: err}
}

// sourceError is the error the page hears for a failed fetch. Called with c.mu held.
func (c *Cache) sourceError(err error, timedOut bool, now time.Time) *catalog.Error {
	if timedOut {
		return catalog.Newf(catalog.NetworkError,
			map[string]any{"reason": "the token endpoint did not answer within " +
				strconv.Itoa(int(FetchTimeout/time.Second)) + " s"},
			now, "the token endpoint did not answer in time")
	}
	ce, _ := err.(*catalog.Error)
	if ce != nil && ce.Code == catalog.NetworkError {
		return scrub(ce, c.token)
	}
	details := map[string]any{}
	reason := err.Error()
	if ce != nil {
		for k, v := range ce.Details {
			details[k] = v
		}
		reason = ce.Message
	}
	if _, said := details["reason"]; !said {
		details["reason"] = reason
	}
	e := catalog.New(catalog.AuthenticationFailed, details, now)
	if ce != nil && ce.Code == catalog.AuthenticationFailed {
		// The source's own words: what the developer must fix, and what the person is told.
		e.Message, e.Status = ce.Message, ce.Status
		if ce.UserMessage != "" {
			e.UserMessage = ce.UserMessage
		}
	}
	return scrub(e, c.token)
}

// TokenAnswer is what the page's token source gave, as the glue found it: the token
// endpoint's answer (its status, and its body parsed as JSON) or getToken's value.
type TokenAnswer struct {
	Endpoint    string // the tokenEndpoint asked; "" for getToken
	Status      int    // the endpoint's HTTP status; 0 for getToken
	Doc         any    // the JSON body in plain values, or getToken's value (a string or an object); nil when not JSON
	Unreachable string // the endpoint could not be reached (fetch failed): why
	Thrown      string // getToken threw or rejected: why
}

// configurationTrouble is what a person is told when the page's own token endpoint
// fails: not their session, and nothing they can fix but waiting.
const configurationTrouble = "Recordings can't be sent right now: this site has a connection problem. Please try again later."

// ReadToken reads a token answer in any of the shapes in use: { token, expires_in },
// { success: true, data: { id_token, expires_in } } (VocaFuse's browser SDK),
// { data: { jwt_token, expires_in } } (vocafuse-node's generate() passed through), or
// getToken's bare string. Anything else is an error whose details.reason says what was
// wrong: NETWORK_ERROR when the endpoint could not be reached; AUTHENTICATION_FAILED
// otherwise, whose message calls a failing endpoint (404, a proxy's 403, 5xx) what it
// is, a configuration problem, and whose userMessage is a connection problem for the
// person (only a 401, credentials refused, says the session expired).
func ReadToken(a TokenAnswer, now time.Time) (token string, expiresIn time.Duration, err *catalog.Error) {
	token, expiresIn, reason, config := readToken(a)
	if reason == "" {
		return token, expiresIn, nil
	}
	code := catalog.AuthenticationFailed
	if a.Unreachable != "" {
		code = catalog.NetworkError
	}
	details := map[string]any{"reason": reason}
	if a.Status != 0 {
		details["status"] = a.Status
	}
	err = catalog.New(code, details, now)
	err.Message = reason
	if config {
		err.Message += " (a configuration problem of the page: check tokenEndpoint and the backend behind it)"
		err.UserMessage = configurationTrouble
	}
	return "", 0, err
}

// readToken is ReadToken's decision: the token, or why there is none and whether that
// is the page's configuration rather than the visitor's credentials.
func readToken(a TokenAnswer) (token string, expiresIn time.Duration, reason string, config bool) {
	where := "the token endpoint " + a.Endpoint
	if a.Endpoint == "" {
		where = "getToken"
	}
	switch {
	case a.Unreachable != "":
		return "", 0, where + " could not be reached: " + a.Unreachable, true
	case a.Thrown != "":
		return "", 0, "getToken failed: " + a.Thrown, false
	case a.Status == 401:
		return "", 0, where + " answered HTTP 401: the visitor's credentials were refused", false
	case a.Status != 0 && (a.Status < 200 || a.Status > 299):
		return "", 0, where + " answered HTTP " + strconv.Itoa(a.Status), true
	}
	if s, ok := a.Doc.(string); ok && s != "" {
		return s, 0, "", false
	}
	root, ok := a.Doc.(map[string]any)
	if !ok {
		return "", 0, where + " did not answer a JSON object", true
	}
	if success, said := root["success"].(bool); said && !success {
		return "", 0, where + " answered success: false", true
	}
	if v, _ := root["token"].(string); v != "" {
		secs, _ := seconds(root["expires_in"])
		return v, secs, "", false
	}
	data, _ := root["data"].(map[string]any)
	for _, name := range [...]string{"id_token", "jwt_token"} {
		if v, _ := data[name].(string); v != "" {
			secs, _ := seconds(data["expires_in"])
			return v, secs, "", false
		}
	}
	return "", 0, where + " answered no token: expected token, data.id_token or data.jwt_token (a non-empty string)", true
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
	if c.token == token {
		c.token = ""
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

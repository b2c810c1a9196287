package vocafuse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is where the client sends requests unless WithBaseURL says otherwise:
// the hosted API. For the project's local server, use its address
// (WithBaseURL("http://127.0.0.1:8080")).
const DefaultBaseURL = "https://api.vocafuse.com"

// Defaults of the retry policy (see WithRetries and WithBackoff).
const (
	DefaultRetries     = 3                      // retries after the first attempt: four attempts in all
	DefaultBackoff     = 500 * time.Millisecond // the first backoff; it doubles on each retry
	DefaultMaxBackoff  = 30 * time.Second       // no backoff is longer
	defaultMaxBodySize = 8 << 20                // an API answer (not audio) larger than this is refused
)

// Client calls the VocaFuse API on behalf of a backend, with its API key and secret.
// It is safe for concurrent use; make one and share it.
type Client struct {
	// Tokens mints tokens for the browser SDK (POST /v1/token, and the older
	// POST /v1/tokens).
	Tokens *Tokens
	// Webhooks manages the account's webhooks (/v1/webhooks).
	Webhooks *Webhooks
	// Account reads and updates the account (/v1/account).
	Account *AccountService
	// APIKeys manages the account's API keys (/v1/account/api-keys).
	APIKeys *APIKeys

	key, secret string
	base        *url.URL
	http        *http.Client // as WithHTTPClient gave it
	keyHTTP     *http.Client // http, keeping the key and secret from another host on a redirect
	log         *slog.Logger
	retries     int
	backoff     time.Duration
	maxBackoff  time.Duration
	sleep       func(ctx context.Context, d time.Duration) error // tests may replace it

	mu     sync.Mutex
	tokens map[string]cachedToken // identity → a token for voice-note calls
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets where the API is: "https://api.vocafuse.com" (the default) or the
// local server's "http://127.0.0.1:8080". A path in it is kept as a prefix.
func WithBaseURL(u string) Option {
	return func(c *Client) {
		parsed, err := url.Parse(strings.TrimRight(u, "/"))
		if err == nil && parsed.Scheme != "" && parsed.Host != "" {
			c.base = parsed
		} else {
			c.base = &url.URL{Scheme: "invalid", Opaque: u} // every call fails, saying why
		}
	}
}

// WithHTTPClient sets the http.Client requests go through (its Transport, Timeout,
// proxies). The default is a client with a 30-second timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRetries sets how many times a failed request is tried again (default
// DefaultRetries; 0 never retries). See the package documentation for what is retried.
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// WithBackoff sets the exponential backoff between retries of transient failures: the
// first waits about first, each next one twice as long, none longer than maxWait
// (defaults DefaultBackoff and DefaultMaxBackoff). Each wait is drawn at random
// between half and all of its nominal length (jitter), so clients that failed together
// do not retry together. A 4003's retry_after, or a Retry-After header, replaces it.
func WithBackoff(first, maxWait time.Duration) Option {
	return func(c *Client) {
		if first > 0 {
			c.backoff = first
		}
		if maxWait > 0 {
			c.maxBackoff = maxWait
		}
	}
}

// WithLogger sets where the client tells about retries (at Warn level) and calls (at
// Debug level). The default discards. Keys, secrets and tokens are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// NewClient returns a client that authenticates with an API key and its secret
// (sk_test_… or sk_live_…). Keep both on the server: they must never reach a browser.
func NewClient(apiKey, apiSecret string, opts ...Option) *Client {
	base, _ := url.Parse(DefaultBaseURL)
	c := &Client{
		key: apiKey, secret: apiSecret,
		base:       base,
		http:       &http.Client{Timeout: 30 * time.Second},
		log:        slog.New(slog.DiscardHandler),
		retries:    DefaultRetries,
		backoff:    DefaultBackoff,
		maxBackoff: DefaultMaxBackoff,
		sleep:      sleepContext,
		tokens:     map[string]cachedToken{},
	}
	for _, o := range opts {
		o(c)
	}
	c.Tokens = &Tokens{c: c}
	c.Webhooks = &Webhooks{c: c}
	c.Account = &AccountService{c: c}
	c.APIKeys = &APIKeys{c: c}
	c.keyHTTP = keepCredentialsHome(c.http)
	return c
}

// The headers VocaFuse's own SDKs send the API key and secret in.
const (
	headerAPIKey    = "X-VocaFuse-API-Key"
	headerAPISecret = "X-VocaFuse-API-Secret"
)

// keepCredentialsHome returns a copy of hc whose redirects to another host drop the
// API key and secret headers, as net/http drops an Authorization header: a redirect
// (to a storage host for audio, say) must not carry the secret away. The caller's
// own CheckRedirect, if any, still decides whether to follow.
func keepCredentialsHome(hc *http.Client) *http.Client {
	cp := *hc
	next := hc.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && req.URL.Host != via[0].URL.Host {
			req.Header.Del(headerAPIKey)
			req.Header.Del(headerAPISecret)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cp
}

// auth is how a request proves who sends it.
type auth struct {
	// identity "": the API key and secret, in the X-VocaFuse-API-Key and
	// X-VocaFuse-API-Secret headers; else a token for this identity.
	identity string
}

// call is one API request as the client makes it, possibly more than once.
type call struct {
	method, path string
	query        url.Values
	body         any  // marshalled to JSON; nil: no body
	auth         auth // whose credentials
	// repeatable says the request may be sent again after a failure that may have
	// reached the server (a 5001, a 503, a cut connection): GET, PUT, DELETE, and
	// minting a token (POST /v1/token, /v1/tokens), which changes nothing. A 4003 is retried whatever the request:
	// a rate-limited request was refused before anything happened.
	repeatable bool
	stream     bool // keep the answer's body open for the caller (audio)
}

// do makes a call, retrying as the package documentation says, and decodes a 2xx JSON
// answer into out (when not nil). With stream it returns the open answer instead.
func (c *Client) do(ctx context.Context, cl call, out any) (*http.Response, error) {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("vocafuse: encode request: %w", err)
		}
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, cl, body)
		if err == nil {
			if cl.stream {
				return resp, nil
			}
			return nil, c.decode(cl, resp, out)
		}
		var apiErr *Error
		if !errors.As(err, &apiErr) {
			return nil, err // the context ended, or the request could not be made
		}
		// A cached token the server no longer takes: mint a fresh one, once.
		if cl.auth.identity != "" && !refreshed && apiErr.Path == cl.path &&
			(apiErr.Code == CodeInvalidToken || apiErr.Code == CodeTokenExpired) {
			refreshed = true
			c.forgetToken(cl.auth.identity)
			attempt--
			continue
		}
		wait, retry := c.shouldRetry(cl, apiErr, attempt)
		if !retry {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would outlive the caller's context: give up now, with the answer we have.
			return nil, err
		}
		c.log.WarnContext(ctx, "vocafuse: retrying", "method", cl.method, "path", cl.path,
			"attempt", attempt+1, "wait", wait, "error", apiErr)
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, errors.Join(serr, err)
		}
	}
}

// shouldRetry decides whether a failed attempt is tried again and after how long.
func (c *Client) shouldRetry(cl call, e *Error, attempt int) (time.Duration, bool) {
	if attempt >= c.retries {
		return 0, false
	}
	switch {
	case e.Code == CodeRateLimitExceeded || (e.Code == 0 && e.StatusCode == http.StatusTooManyRequests):
		if e.RetryAfter > 0 {
			return e.RetryAfter, true
		}
		return c.backoffFor(attempt), true
	case !cl.repeatable || !e.Temporary():
		return 0, false
	case e.RetryAfter > 0:
		return e.RetryAfter, true
	}
	return c.backoffFor(attempt), true
}

// backoffFor is the wait before retry number attempt+1: exponential, capped, with jitter.
func (c *Client) backoffFor(attempt int) time.Duration {
	d := c.backoff
	for i := 0; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt sends the request once. A non-2xx answer is returned as an *Error, and so
// is a failure to get an answer.
func (c *Client) attempt(ctx context.Context, cl call, body []byte) (*http.Response, error) {
	u := *c.base
	if u.Scheme == "invalid" {
		return nil, fmt.Errorf("vocafuse: invalid base URL %q", u.Opaque)
	}
	u.Path = strings.TrimRight(u.Path, "/") + cl.path
	u.RawQuery = cl.query.Encode()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), reader)
	if err != nil {
		return nil, fmt.Errorf("vocafuse: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vocafuse-go/"+Version)
	hc := c.http
	if cl.auth.identity == "" {
		// As VocaFuse's SDKs send them; the local API takes HTTP Basic as well.
		req.Header.Set(headerAPIKey, c.key)
		req.Header.Set(headerAPISecret, c.secret)
		hc = c.keyHTTP
	} else {
		token, err := c.tokenFor(ctx, cl.auth.identity)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c.log.DebugContext(ctx, "vocafuse: request", "method", cl.method, "path", cl.path)
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller's context ended: not a failure to retry
		}
		return nil, &Error{Message: "no answer from the API", Method: cl.method, Path: cl.path, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, errorFrom(cl, resp)
}

// errorFrom reads an error answer: the API's envelope where there is one, otherwise an
// *Error that says what came instead.
func errorFrom(cl call, resp *http.Response) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"),
		Method: cl.method, Path: cl.path}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		e.Message, e.Err = "the error answer could not be read", err
		return e
	}
	var envelope struct {
		Error *struct {
			Code    json.Number    `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	switch {
	case len(bytes.TrimSpace(raw)) == 0:
		e.Message = fmt.Sprintf("empty answer with HTTP status %d", resp.StatusCode)
	case json.Unmarshal(raw, &envelope) != nil || envelope.Error == nil:
		e.Message = fmt.Sprintf("answer is not the API's error envelope (%s): %s",
			contentType(resp), snippet(raw))
	default:
		code, _ := envelope.Error.Code.Int64()
		e.Code, e.Message, e.Details = int(code), envelope.Error.Message, envelope.Error.Details
		e.Name = CodeName(e.Code)
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	if n, ok := e.Details["retry_after"].(float64); ok && n > 0 {
		e.RetryAfter = time.Duration(n * float64(time.Second))
	} else {
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return e
}

// inData decodes a single resource into v from { "data": { … } }, as the API wraps
// it, or from the answer itself where there is no "data" object (older answers).
type inData struct{ v any }

func (d inData) UnmarshalJSON(raw []byte) error {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil && len(env.Data) > 0 && env.Data[0] == '{' {
		return json.Unmarshal(env.Data, d.v)
	}
	return json.Unmarshal(raw, d.v)
}

// decode reads a 2xx answer into out.
func (c *Client) decode(cl call, resp *http.Response, out any) error {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, defaultMaxBodySize))
	if err != nil {
		return &Error{Message: "the answer could not be read", Method: cl.method, Path: cl.path, Err: err}
	}
	if out == nil {
		return nil
	}
	fail := func(msg string, err error) error {
		return &Error{Message: msg, StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"),
			Method: cl.method, Path: cl.path, Err: err}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return fail(fmt.Sprintf("empty answer with HTTP status %d where JSON was expected", resp.StatusCode), nil)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fail(fmt.Sprintf("answer is not JSON (%s): %s", contentType(resp), snippet(raw)), err)
	}
	return nil
}

func contentType(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	if ct == "" {
		return "no Content-Type"
	}
	return ct
}

// snippet is the start of a body, for an error message.
func snippet(raw []byte) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// Version is this package's version, sent in the User-Agent header.
const Version = "0.1.0"

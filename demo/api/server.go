// Package api is the local VocaFuse API server's HTTP layer: the routes of docs/api.md and the
// middleware every request passes through (request id, log line and recovery, CORS,
// draining, planned faults, and per route the token and the rate limit).
package api

import (
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/vocafuse"
)

// Config is what the handler needs from main (or a test).
type Config struct {
	Log         *slog.Logger
	Pages       http.Handler // the demo page and the SDK's files
	Store       *store.Store
	Credentials auth.Credentials

	Deliveries     Waker       // told when webhook deliveries were recorded (the dispatcher); may be nil
	Transcripts    Transcriber // told of new and deleted voice notes (the transcription queue); may be nil
	AllowOrigins   []string    // CORS: origins whose scripts may call the API ("*" for any)
	FaultInjection bool        // serve /_faults (tests only)
	// WebhookAllowPrivate lets a webhook's URL be a private or loopback address
	// (--webhook-allow-private); without it such a URL is refused with 2003.
	WebhookAllowPrivate bool
	// PresignVia (tests only, honoured with FaultInjection): the base URL that presigned
	// upload URLs point at instead of PublicURL, a stand-in for object storage that
	// forwards each PUT here with the same path and query (js/test/s3-standin.mjs).
	PresignVia string

	// PublicURL is the server's address as clients reach it ("http://127.0.0.1:8080"):
	// audio_url is built from it, never from a request's Host, and it is the origin the
	// demo's token route and /_faults take requests from. Default http://localhost.
	PublicURL string
	// SecureCookie marks the visitor cookie Secure on every answer (it is anyway over
	// TLS, when PublicURL is https, and when TrustProxy and X-Forwarded-Proto: https).
	SecureCookie bool
	// TrustProxy believes X-Forwarded-Proto from the proxy in front of the server.
	TrustProxy bool

	// The rest have defaults; tests change them.
	Now             func() time.Time // the clock for tokens, signed URLs and rate limits
	RateLimit       int              // requests per RateWindow per identity or client; default 100
	RateWindow      time.Duration    // default one minute
	AudioURLTTL     time.Duration    // how long a resource's audio_url plays; default 15 minutes
	DrainRetryAfter time.Duration    // Retry-After while draining; default 5 s

	MaxConns              int           // connections open at once (Listener); default DefaultMaxConns
	MaxConnsPerClient     int           // of them from one client address; default DefaultMaxConnsPerClient
	MaxUploads            int           // uploads under way at once; default DefaultMaxUploads
	MaxUploadsPerIdentity int           // uploads under way at once per identity; default DefaultMaxUploadsPerIdentity
	MaxUploadsPerClient   int           // uploads under way at once per client address; default MaxUploads
	QuotaPerIdentity      int64         // bytes of audio one identity may keep; default DefaultQuotaPerIdentity
	UploadMinRate         int           // bytes per second an upload's body must keep up; default DefaultUploadMinRate
	UploadGrace           time.Duration // before the minimum rate applies; default 10 s
	UploadTimeout         time.Duration // an upload's whole body; default DefaultUploadTimeout
	NewVisitorLimit       int           // identities POST /api/token makes per RateWindow per client address; default DefaultNewVisitorLimit
	AudioRateLimit        int           // signed-URL reads per RateWindow per client address; default 600
	// TestRoutes adds routes (ServeMux patterns) behind the same middleware, for tests
	// only: a handler that panics, say.
	TestRoutes map[string]http.HandlerFunc
}

// Server is the whole server: the API under /v1, the demo's /api/token, the pages at /.
type Server struct {
	log         *slog.Logger
	store       *store.Store
	creds       auth.Credentials
	issuer      *auth.Issuer
	urls        *auth.URLSigner
	limiter     *rateLimiter
	faults      *faultPlan // nil without --fault-injection
	drain       *drainer
	now         func() time.Time
	audioURLTTL time.Duration
	handler     http.Handler

	publicURL, publicOrigin, publicHost string
	secureCookie, trustProxy            bool
	visitors                            *rateLimiter // new identities from /api/token, per client
	audioLimiter                        *rateLimiter // signed-URL reads, per client
	uploads                             *uploadSlots
	quota                               *storageQuota // quota.go
	visitorKeys                         visitorSigner // visitor.go
	uploadMinRate                       float64
	uploadGrace, uploadTimeout          time.Duration
	maxConns, maxConnsPerClient         int
	cursors                             cursors
	deliveries                          Waker                   // webhooks.go
	transcripts                         Transcriber             // transcription.go
	webhookAllowPrivate                 bool                    // webhooks.go
	demoTokens                          *vocafuse.TokenEndpoint // demotoken.go
	keys                                *apiKeys                // apikeys.go: the account's API keys
	sessions                            *uploadSessions         // presign.go: VocaFuse's two-step upload
}

// NewHandler builds the server from c.
func NewHandler(c Config) *Server {
	c = withDefaults(c)
	s := &Server{
		log:         c.Log,
		store:       c.Store,
		creds:       c.Credentials,
		issuer:      auth.NewIssuer([]byte(c.Credentials.TokenSecret), c.Now),
		urls:        auth.NewURLSigner([]byte(c.Credentials.TokenSecret), c.Now),
		limiter:     newRateLimiter(c.RateLimit, c.RateWindow, c.Now),
		drain:       &drainer{retryAfter: c.DrainRetryAfter},
		now:         c.Now,
		audioURLTTL: c.AudioURLTTL,

		secureCookie:  c.SecureCookie,
		trustProxy:    c.TrustProxy,
		visitors:      newRateLimiter(c.NewVisitorLimit, c.RateWindow, c.Now),
		audioLimiter:  newRateLimiter(c.AudioRateLimit, c.RateWindow, c.Now),
		uploads:       newUploadSlots(c.MaxUploads, c.MaxUploadsPerIdentity, c.MaxUploadsPerClient),
		quota:         newStorageQuota(c.QuotaPerIdentity, c.Store),
		visitorKeys:   newVisitorSigner([]byte(c.Credentials.TokenSecret)),
		uploadMinRate: float64(c.UploadMinRate),
		uploadGrace:   c.UploadGrace,
		uploadTimeout: c.UploadTimeout,
		maxConns:      c.MaxConns,
		cursors:       newCursors(c.Credentials.TokenSecret),
		deliveries:    c.Deliveries,
		transcripts:   c.Transcripts,

		webhookAllowPrivate: c.WebhookAllowPrivate,
	}
	u, err := url.Parse(strings.TrimRight(c.PublicURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		u, _ = url.Parse("http://localhost")
	}
	s.publicURL = u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/")
	s.publicOrigin = u.Scheme + "://" + u.Host
	s.publicHost = u.Host
	s.secureCookie = s.secureCookie || u.Scheme == "https"
	s.demoTokens = s.newDemoTokens()
	s.maxConnsPerClient = c.MaxConnsPerClient
	s.keys = newAPIKeys(c)
	s.sessions = newUploadSessions(s, c)
	if c.FaultInjection {
		s.faults = &faultPlan{rateDetails: s.rateDetails}
	}
	mux := http.NewServeMux()
	s.routes(mux, c)
	var h http.Handler = mux
	if s.faults != nil {
		h = s.faults.middleware(h)
	}
	h = s.drain.middleware(h)
	h = withCORS(c.AllowOrigins, h)
	h = s.withSafeHeaders(h)
	s.handler = withRequestLog(c.Log, h)
	return s
}

// The defaults of the limits the command line may set: main's flags show them, and a
// Config that leaves one at zero gets it.
const (
	DefaultMaxConns              = 4096
	DefaultMaxUploads            = 256
	DefaultMaxUploadsPerIdentity = 8
	DefaultQuotaPerIdentity      = 500 << 20 // bytes: 500 MB
	DefaultUploadMinRate         = 4096      // bytes per second
	DefaultUploadTimeout         = 5 * time.Minute
	DefaultNewVisitorLimit       = 20
)

func withDefaults(c Config) Config {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Pages == nil {
		c.Pages = http.NotFoundHandler()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RateLimit <= 0 {
		c.RateLimit = 100
	}
	if c.RateWindow <= 0 {
		c.RateWindow = time.Minute
	}
	if c.AudioURLTTL <= 0 {
		c.AudioURLTTL = 15 * time.Minute
	}
	if c.DrainRetryAfter <= 0 {
		c.DrainRetryAfter = 5 * time.Second
	}
	defaults := []struct {
		field *int
		value int
	}{{&c.MaxConns, DefaultMaxConns}, {&c.MaxUploads, DefaultMaxUploads}, {&c.MaxUploadsPerIdentity, DefaultMaxUploadsPerIdentity},
		{&c.UploadMinRate, DefaultUploadMinRate}, {&c.NewVisitorLimit, DefaultNewVisitorLimit}, {&c.AudioRateLimit, 600}}
	for _, d := range defaults {
		if *d.field <= 0 {
			*d.field = d.value
		}
	}
	if c.UploadGrace <= 0 {
		c.UploadGrace = 10 * time.Second
	}
	if c.UploadTimeout <= 0 {
		c.UploadTimeout = DefaultUploadTimeout
	}
	if c.MaxUploadsPerClient <= 0 {
		c.MaxUploadsPerClient = c.MaxUploads
	}
	if c.QuotaPerIdentity <= 0 {
		c.QuotaPerIdentity = DefaultQuotaPerIdentity
	}
	return c
}

func (s *Server) routes(mux *http.ServeMux, c Config) {
	mux.HandleFunc("GET /v1/health", s.health)
	mux.HandleFunc("POST /v1/tokens", s.createToken)
	mux.HandleFunc("POST /v1/token", s.createAccessToken)
	mux.HandleFunc("POST /api/token", s.demoToken)
	mux.HandleFunc("GET /v1/voicenotes", s.tokenOrKey(auth.ScopeRead, s.listVoiceNotes))
	mux.HandleFunc("PUT /v1/voicenotes/{id}", s.authed(auth.ScopeWrite, s.putVoiceNote))
	mux.HandleFunc("GET /v1/voicenotes/{id}", s.tokenOrKey(auth.ScopeRead, s.getVoiceNote))
	mux.HandleFunc("DELETE /v1/voicenotes/{id}", s.tokenOrKey(auth.ScopeWrite, s.deleteVoiceNote))
	mux.HandleFunc("GET /v1/voicenotes/{id}/audio", s.audio) // a token or a signed URL (and HEAD)
	mux.HandleFunc("GET /v1/voicenotes/{id}/transcription", s.tokenOrKey(auth.ScopeRead, s.transcription))
	mux.HandleFunc("POST /v1/webhooks", s.keyed(s.createWebhook))
	mux.HandleFunc("GET /v1/webhooks", s.keyed(s.listWebhooks))
	mux.HandleFunc("GET /v1/webhooks/{id}", s.keyed(s.getWebhook))
	mux.HandleFunc("PUT /v1/webhooks/{id}", s.keyed(s.updateWebhook))
	mux.HandleFunc("DELETE /v1/webhooks/{id}", s.keyed(s.deleteWebhook))
	s.accountRoutes(mux)
	s.uploadRoutes(mux)
	// Anything else under the API's prefixes is an envelope, never the page server's 404.
	mux.HandleFunc("/v1/", notFound)
	mux.HandleFunc("/api/", notFound)
	if s.faults != nil {
		mux.HandleFunc("GET /_faults", s.sameOrigin(s.faults.list))
		mux.HandleFunc("POST /_faults", s.sameOrigin(s.faults.add))
		mux.HandleFunc("DELETE /_faults", s.sameOrigin(s.faults.clear))
	}
	mux.HandleFunc("/_faults", notFound) // without the flag, or with another method
	for pattern, h := range c.TestRoutes {
		mux.HandleFunc(pattern, h)
	}
	mux.Handle("/", jsonPageErrors(s.withPageCSP(c.Pages)))
}

// The demo page's Content-Security-Policy: its module script, the SDK's wasm
// ('wasm-unsafe-eval') and AudioWorklet module, all from the server itself; fetches of
// /api/token and /v1; audio from /v1 (or the public URL) and from blob: (the local
// preview of a recording). No inline script or style, no frames, no forms, no plugins.
const pageCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob: %s; connect-src 'self' %s; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// apiCSP is sent with every JSON answer: a document that is an API answer runs nothing.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// withPageCSP gives the demo page (not the SDK's files, not the browser tests' pages)
// its policy.
func (s *Server) withPageCSP(pages http.Handler) http.Handler {
	csp := strings.ReplaceAll(pageCSP, "%s", s.publicOrigin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/sdk/") && !strings.HasPrefix(r.URL.Path, "/test/") {
			w.Header().Set("Content-Security-Policy", csp)
		}
		pages.ServeHTTP(w, r)
	})
}

// withSafeHeaders: nosniff on every answer (a browser never guesses a type other than
// the one sent), a path that is not in its clean form (//, /./, /../) is an unknown route
// rather than net/http's HTML redirect, and an answer of the API carries apiCSP.
func (s *Server) withSafeHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		p := r.URL.Path
		if ep := r.URL.EscapedPath(); ep == "" || ep[0] != '/' || (path.Clean(ep) != ep && path.Clean(ep)+"/" != ep) {
			notFound(w, r)
			return
		}
		if !strings.HasPrefix(p, "/sdk/") && !strings.HasPrefix(p, "/test/") && (strings.HasPrefix(p, "/v1/") ||
			strings.HasPrefix(p, "/api/") || p == "/_faults") {
			h.Set("Content-Security-Policy", apiCSP)
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin guards a route with sameOriginOnly.
func (s *Server) sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.sameOriginOnly(w, r) {
			next(w, r)
		}
	}
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// health is GET /v1/health. While draining, the drain middleware answers 503 / 5002
// instead, which is what a load balancer wants to hear.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok"}
	if s.transcripts != nil {
		running, workers := s.transcripts.Load()
		body["transcription"] = map[string]any{"running": running, "workers": workers}
	}
	writeJSON(w, http.StatusOK, body)
}

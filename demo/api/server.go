// Package api is the local VocaFuse API server's HTTP layer: the routes of docs/api.md and the
// middleware every request passes through (request id, log line and recovery, CORS,
// draining, planned faults, and per route the token and the rate limit).
package api

import (
	"log/slog"
	"net/http"
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

	Deliveries     Waker    // told when webhook deliveries were recorded (the dispatcher); may be nil
	AllowOrigins   []string // CORS: origins whose scripts may call the API ("*" for any)
	FaultInjection bool     // serve /_faults (tests only)

	// The rest have defaults; tests change them.
	Now             func() time.Time // the clock for tokens, signed URLs and rate limits
	RateLimit       int              // requests per RateWindow per identity or client; default 100
	RateWindow      time.Duration    // default one minute
	AudioURLTTL     time.Duration    // how long a resource's audio_url plays; default 15 minutes
	DrainRetryAfter time.Duration    // Retry-After while draining; default 5 s
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
	deliveries  Waker                   // webhooks.go
	demoTokens  *vocafuse.TokenEndpoint // demotoken.go
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
		deliveries:  c.Deliveries,
	}
	s.demoTokens = s.newDemoTokens()
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
	s.handler = withRequestLog(c.Log, h)
	return s
}

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
	return c
}

func (s *Server) routes(mux *http.ServeMux, c Config) {
	mux.HandleFunc("GET /v1/health", s.health)
	mux.HandleFunc("POST /v1/tokens", s.createToken)
	mux.HandleFunc("POST /api/token", s.demoToken)
	mux.HandleFunc("GET /v1/voicenotes", s.authed(auth.ScopeRead, s.listVoiceNotes))
	mux.HandleFunc("PUT /v1/voicenotes/{id}", s.authed(auth.ScopeWrite, s.putVoiceNote))
	mux.HandleFunc("GET /v1/voicenotes/{id}", s.authed(auth.ScopeRead, s.getVoiceNote))
	mux.HandleFunc("DELETE /v1/voicenotes/{id}", s.authed(auth.ScopeWrite, s.deleteVoiceNote))
	mux.HandleFunc("GET /v1/voicenotes/{id}/audio", s.audio) // a token or a signed URL
	mux.HandleFunc("GET /v1/voicenotes/{id}/transcription", s.authed(auth.ScopeRead, s.transcription))
	mux.HandleFunc("POST /v1/webhooks", s.keyed(s.createWebhook))
	mux.HandleFunc("GET /v1/webhooks", s.keyed(s.listWebhooks))
	mux.HandleFunc("GET /v1/webhooks/{id}", s.keyed(s.getWebhook))
	mux.HandleFunc("PUT /v1/webhooks/{id}", s.keyed(s.updateWebhook))
	mux.HandleFunc("DELETE /v1/webhooks/{id}", s.keyed(s.deleteWebhook))
	// Anything else under the API's prefixes is an envelope, never the page server's 404.
	mux.HandleFunc("/v1/", notFound)
	mux.HandleFunc("/api/", notFound)
	if s.faults != nil {
		mux.HandleFunc("GET /_faults", s.faults.list)
		mux.HandleFunc("POST /_faults", s.faults.add)
		mux.HandleFunc("DELETE /_faults", s.faults.clear)
	}
	mux.HandleFunc("/_faults", notFound) // without the flag, or with another method
	for pattern, h := range c.TestRoutes {
		mux.HandleFunc(pattern, h)
	}
	mux.Handle("/", jsonPageErrors(c.Pages))
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// health is GET /v1/health. While draining, the drain middleware answers 503 / 5002
// instead, which is what a load balancer wants to hear.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

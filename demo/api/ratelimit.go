package api

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// rateLimiter counts requests per key in fixed windows: the first request of a key opens
// a window of the configured length, and the limit applies until it closes. A fixed
// window makes retry_after exact: at the window's end a request passes again.
type rateLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	windows   map[string]*rateWindow
	lastSweep time.Time
}

type rateWindow struct {
	start time.Time
	count int
}

// rateDecision is one request's outcome and what the headers say about it.
type rateDecision struct {
	allowed   bool
	remaining int
	reset     time.Time // when the window closes
}

func newRateLimiter(limit int, window time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, now: now, windows: map[string]*rateWindow{}}
}

// take counts a request against key.
func (l *rateLimiter) take(key string) rateDecision {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	win := l.windows[key]
	if win == nil || !now.Before(win.start.Add(l.window)) {
		win = &rateWindow{start: now}
		l.windows[key] = win
	}
	reset := win.start.Add(l.window)
	if win.count >= l.limit {
		return rateDecision{allowed: false, remaining: 0, reset: reset}
	}
	win.count++
	return rateDecision{allowed: true, remaining: l.limit - win.count, reset: reset}
}

// sweep forgets closed windows once per window length, so the map holds only the keys
// seen lately.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for key, win := range l.windows {
		if !now.Before(win.start.Add(l.window)) {
			delete(l.windows, key)
		}
	}
}

// allow counts the request against key, sets the rate-limit headers, and answers 4003
// when the limit is reached. X-RateLimit-Reset is the window's end in Unix seconds (the
// GitHub convention); Retry-After and retry_after are the whole seconds until a request
// passes again, at least 1.
func (s *Server) allow(w http.ResponseWriter, key string) bool {
	return s.allowOn(w, s.limiter, key)
}

// allowOn is allow against another limiter than the per-identity one.
func (s *Server) allowOn(w http.ResponseWriter, l *rateLimiter, key string) bool {
	d := l.take(key)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(d.reset.UnixMilli())/1000)), 10))
	if d.allowed {
		return true
	}
	wait := max(1, int(math.Ceil(d.reset.Sub(s.now()).Seconds())))
	h.Set("Retry-After", strconv.Itoa(wait))
	writeError(w, catalog.RateLimitExceeded, map[string]any{"limit": l.limit, "window": windowLabel(l.window), "retry_after": wait})
	return false
}

// rateDetails are 4003's details.
func (s *Server) rateDetails(retryAfter int) map[string]any {
	return map[string]any{"limit": s.limiter.limit, "window": windowLabel(s.limiter.window), "retry_after": retryAfter}
}

// windowLabel writes a window the reference's way: "1 minute".
func windowLabel(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	if d%time.Minute == 0 {
		n, unit = int64(d/time.Minute), "minute"
	}
	if n != 1 {
		unit += "s"
	}
	return strconv.FormatInt(n, 10) + " " + unit
}

// clientKey is the rate-limit key of a caller without a token: its address. A proxy's
// X-Forwarded-For is not trusted: anyone can write one.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "client:" + host
}

package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// drainer lets a shutdown finish the requests under way (uploads above all) while it
// answers every new one 503 / 5002 with Retry-After, so clients back off and retry
// against the next process instead of seeing a refused connection or a cut upload.
type drainer struct {
	retryAfter time.Duration

	mu       sync.Mutex
	draining bool
	inFlight int
	idle     chan struct{} // closed when draining and nothing is in flight
}

func (d *drainer) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.enter() {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.retryAfter/time.Second)))
			w.Header().Set("Connection", "close")
			writeError(w, catalog.ServiceUnavailable, nil)
			return
		}
		defer d.leave()
		next.ServeHTTP(w, r)
	})
}

func (d *drainer) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return false
	}
	d.inFlight++
	return true
}

func (d *drainer) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight--
	if d.draining && d.inFlight == 0 {
		close(d.idle)
	}
}

// Drain makes every new request answer 5002 and waits until the requests under way
// have finished, or ctx ends. main calls it on SIGTERM before closing the listener.
// When ctx ends first, the uploads still under way are cut: each answers 503 / 5002 and
// removes its temporary file, and Drain waits up to cutGrace for them to do so.
func (s *Server) Drain(ctx context.Context) error {
	err := s.drainWait(ctx)
	if err == nil {
		return nil
	}
	cut := s.uploads.cutAll()
	s.log.Warn("drain time over: cutting the uploads under way", "uploads", cut)
	wait, cancel := context.WithTimeout(context.Background(), cutGrace)
	defer cancel()
	if s.drainWait(wait) != nil {
		return err
	}
	return nil
}

// cutGrace is how long cut uploads have to answer and clean up.
const cutGrace = 5 * time.Second

func (s *Server) drainWait(ctx context.Context) error {
	d := s.drain
	d.mu.Lock()
	if !d.draining {
		d.draining = true
		d.idle = make(chan struct{})
		if d.inFlight == 0 {
			close(d.idle)
		}
	}
	idle := d.idle
	d.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

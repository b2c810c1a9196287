package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/vocafuse/recorder/demo/internal/random"
	"github.com/vocafuse/recorder/internal/catalog"
)

// statusRecorder remembers the status a handler wrote, for the log line.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushing, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func newRequestID() string { return random.Hex(8) }

// requestNotes is what handlers further in tell the log line: who was asking, and
// whether a planned fault answered instead of the route.
type requestNotes struct {
	identity string
	fault    string
}

type notesKey struct{}

// notesOf returns the request's notes; a request that did not come through the log
// middleware (there is none) gets a throwaway.
func notesOf(r *http.Request) *requestNotes {
	if n, ok := r.Context().Value(notesKey{}).(*requestNotes); ok {
		return n
	}
	return &requestNotes{}
}

// withRequestLog gives every response an X-Request-Id, turns a panic into 500 / 5001
// without leaking the stack, and logs one line per request. It never logs a query
// string or a header: that is where tokens, secrets and signed URLs travel.
func withRequestLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		notes := &requestNotes{}
		r = r.WithContext(context.WithValue(r.Context(), notesKey{}, notes))
		logLine := func(dropped bool) {
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status,
				"bytes", rec.bytes, "duration_ms", time.Since(start).Milliseconds(), "request_id", id}
			if notes.identity != "" {
				attrs = append(attrs, "identity", notes.identity)
			}
			if notes.fault != "" {
				attrs = append(attrs, "fault", notes.fault)
			}
			if dropped {
				attrs = append(attrs, "dropped", true)
			}
			log.Info("request", attrs...)
		}
		defer func() {
			p := recover()
			if p == http.ErrAbortHandler {
				logLine(true)
				panic(p) // the handler chose to cut the connection: let net/http do it
			}
			if p != nil {
				log.Error("panic", "request_id", id, "panic", p)
				if rec.status != 0 {
					// Half an answer is out: only a cut connection tells the client so.
					logLine(true)
					panic(http.ErrAbortHandler)
				}
				writeError(rec, catalog.InternalServerError, nil)
			}
			logLine(false)
		}()
		next.ServeHTTP(rec, r)
	})
}

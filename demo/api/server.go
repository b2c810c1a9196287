package api

import (
	"log/slog"
	"net/http"
)

// Config is what the handler needs from main.
type Config struct {
	Log   *slog.Logger
	Pages http.Handler // the demo page and the SDK's files
}

// NewHandler is the whole server: the API under /v1 and the pages at /.
func NewHandler(c Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.Handle("/", c.Pages)
	return withRequestLog(c.Log, mux)
}

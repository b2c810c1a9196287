package api

import (
	"net/http"
	"slices"
)

// The headers a page's script may read from an answer (Retry-After and the rate-limit
// headers drive the SDK's retries) and may send (the token, the recording's type, its
// metadata).
const (
	corsExposed = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"
	corsAllowed = "Authorization, Content-Type, X-VocaFuse-Metadata"
	corsMethods = "GET, HEAD, POST, PUT, DELETE"
)

// withCORS lets pages from the allowed origins (the --allow-origin flag; "*" for any)
// call the API. The server's own pages are same-origin and need nothing. Cookies are
// not allowed across origins: the API authenticates with a bearer token, and the demo's
// visitor cookie is for its own page only.
func withCORS(origins []string, next http.Handler) http.Handler {
	anyOrigin := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		if !anyOrigin && !slices.Contains(origins, origin) {
			next.ServeHTTP(w, r) // same-origin, or a page the browser will refuse the answer to
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposed)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// A preflight: answered here, before draining, faults, tokens and limits.
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowed)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

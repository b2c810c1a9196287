package api

import (
	"net/http"
	"slices"
	"strings"
)

// The headers a page's script may read from an answer (Retry-After and the rate-limit
// headers drive the SDK's retries) and may send (the token, the recording's type, its
// metadata, the Idempotency-Key of POST /v1/upload).
const (
	corsExposed = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"
	corsAllowed = "Authorization, Content-Type, X-VocaFuse-Metadata, Idempotency-Key"
	corsMethods = "GET, HEAD, POST, PUT, DELETE"
)

// The presigned upload URLs (presign.go) answer any origin, as an object store set up for
// browser uploads does: the URL itself is the authority, no cookie or token is involved,
// and the page that uploads is often not the API's origin. Scripts may read ETag.
const (
	presignedPrefix  = "/v1/upload-sessions/"
	presignedExposed = "ETag, " + corsExposed
)

// presignedCORS answers CORS for a presigned URL: "*" (never with credentials), PUT with
// a Content-Type, ETag exposed. A preflight is answered here.
func presignedCORS(w http.ResponseWriter, r *http.Request, next http.Handler) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", presignedExposed)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "PUT")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	next.ServeHTTP(w, r)
}

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
		if strings.HasPrefix(r.URL.Path, presignedPrefix) {
			presignedCORS(w, r, next)
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

package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/wasm/catalog"
)

// authedHandler is a route that needs a valid token; it gets the token's claims.
type authedHandler func(w http.ResponseWriter, r *http.Request, c auth.Claims)

// authed guards a route: a valid bearer token (1001, 1002), the identity's rate limit
// (4003), then the scope the operation needs (1003).
func (s *Server) authed(scope string, next authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c, ok := s.authenticate(w, r, scope); ok {
			next(w, r, c)
		}
	}
}

// authenticate does authed's checks and answers the request itself when one fails.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, scope string) (auth.Claims, bool) {
	token, ok := bearerToken(r)
	if !ok {
		writeError(w, catalog.InvalidToken, nil)
		return auth.Claims{}, false
	}
	c, err := s.issuer.Verify(token)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		writeError(w, catalog.TokenExpired, nil)
		return auth.Claims{}, false
	case err != nil:
		writeError(w, catalog.InvalidToken, nil)
		return auth.Claims{}, false
	}
	notesOf(r).identity = c.Identity
	if !s.allow(w, identityKey(store.OwnerOf(c.Identity))) {
		return auth.Claims{}, false
	}
	if !c.Allows(scope) {
		writeError(w, catalog.InsufficientPermissions, nil)
		return auth.Claims{}, false
	}
	return c, true
}

// identityKey is the rate-limit key of an identity. Reads through a signed audio URL
// never count against it (anyone holding the URL could lock its owner out): they have
// their own limiter, per client address.
func identityKey(o store.Owner) string { return "identity:" + string(o) }

// bearerToken reads "Authorization: Bearer <token>". A token is never taken from the
// query string: URLs end up in logs and histories.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

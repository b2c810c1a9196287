package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/catalog"
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

// caller is who asks for voice notes: a browser, with a token for one identity, or the
// account's backend, with an API key, which sees every identity's (docs/api.md, "Two
// kinds of caller").
type caller struct {
	identity string // the token's; "" for the backend
	keyID    string // the API key's id; "" for a browser
	// identityOwner is the owner a signed audio URL names, where there is no identity.
	identityOwner store.Owner
}

// backend reports whether the caller is the account's backend.
func (c caller) backend() bool { return c.keyID != "" }

// filter is what of the store the caller may see.
func (c caller) filter() store.Filter {
	switch {
	case c.backend():
		return store.Filter{}
	case c.identityOwner != "":
		return store.Filter{Owner: c.identityOwner}
	}
	return store.Filter{Owner: store.OwnerOf(c.identity)}
}

// callerHandler is a route that a browser's token or the backend's key may call.
type callerHandler func(w http.ResponseWriter, r *http.Request, c caller)

// tokenOrKey guards a voice-note route: a bearer token as authed checks it (scope
// included), or else the API key and secret (HTTP Basic or VocaFuse's headers), which
// carry every scope and are rate-limited per key. Neither is 1001.
func (s *Server) tokenOrKey(scope string, next callerHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, isBearer := bearerToken(r); !isBearer {
			if key, secret, ok := apiCredentials(r); ok {
				keyID, ok := s.checkAPIKey(key, secret)
				if !ok {
					writeError(w, catalog.InvalidToken, nil)
					return
				}
				if s.allow(w, "key:"+keyID) {
					next(w, r, caller{keyID: keyID})
				}
				return
			}
		}
		if c, ok := s.authenticate(w, r, scope); ok {
			next(w, r, caller{identity: c.Identity})
		}
	}
}

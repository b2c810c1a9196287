package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/internal/catalog"
)

// Token lifetimes, in seconds (docs/api.md: an integer in 60..86400).
const (
	minTokenTTL         = 60
	maxTokenTTL         = 86400
	defaultTokenTTL     = 3600 // POST /v1/tokens, docs/api.md's example
	defaultDemoTokenTTL = 600  // POST /api/token: a browser's token, so short-lived
	maxIdentityLen      = 128
	maxTokenRequest     = 16 << 10
)

// createToken is POST /v1/tokens: a backend, authenticated with the API key and secret
// (HTTP Basic, or the X-VocaFuse-API-Key and -Secret headers), mints a token for one of
// its users: { identity, expires_in, scope } → { token, identity, expires_in, expires_at }.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	s.mintForBackend(w, r, "identity", func(token string, req tokenRequest, expiresAt string) any {
		return map[string]any{"token": token, "identity": req.identity, "expires_in": req.ttl, "expires_at": expiresAt}
	})
}

// createAccessToken is POST /v1/token, as VocaFuse's Node SDK calls it
// (AccessToken.generate): { user_id, expires_in, scopes } → { data: { jwt_token, … } }.
// id_token is the same JWT under the name VocaFuse's browser SDKs read, so a backend
// that passes this answer through to the page (as vocafuse-node's quickstart does)
// serves those SDKs too.
func (s *Server) createAccessToken(w http.ResponseWriter, r *http.Request) {
	s.mintForBackend(w, r, "user_id", func(token string, req tokenRequest, expiresAt string) any {
		return map[string]any{"data": map[string]any{"jwt_token": token, "id_token": token, "token_type": "Bearer",
			"expires_in": req.ttl, "identity": req.identity, "expires_at": expiresAt}}
	})
}

// mintForBackend is the token routes' common course: the backend's credentials, the
// request (with the identity under identityField), the token, and 201 with answer's shape.
func (s *Server) mintForBackend(w http.ResponseWriter, r *http.Request, identityField string,
	answer func(token string, req tokenRequest, expiresAt string) any) {
	if !s.fromBackend(w, r) {
		return
	}
	req, apiErr := readTokenRequest(w, r, identityField)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	token, expiresAt, err := s.issuer.Mint(req.identity, time.Duration(req.ttl)*time.Second, req.scopes)
	if err != nil {
		s.internal(w, r, "mint token", err)
		return
	}
	notesOf(r).identity = req.identity
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, answer(token, req, expiresAt.UTC().Format(time.RFC3339)))
}

// fromBackend checks that a request is the account's backend's: the client address's
// rate limit, then the API key and secret. It answers itself (4003, 1001) when not. No
// WWW-Authenticate header on the 401: a browser would pop up a login box.
func (s *Server) fromBackend(w http.ResponseWriter, r *http.Request) bool {
	// The demo's /api/token, calling in process, was counted against its browser already.
	if !isInternal(r) && !s.allow(w, clientKey(r)) {
		return false
	}
	key, secret, ok := apiCredentials(r)
	if !ok || !s.keyAccepted(key, secret) {
		writeError(w, catalog.InvalidToken, nil)
		return false
	}
	return true
}

type tokenRequest struct {
	identity string
	ttl      int
	scopes   []string
}

// readTokenRequest reads { <identityField>, expires_in, scope | scopes } in the
// reference's terms: not JSON → 2001, no identity → 2002, a bad value → 2003 with the
// value as sent. An empty body counts as {}, so that a bare POST says which field is
// missing. scope is this API's space-separated string, scopes VocaFuse's array; both
// name this API's scopes or VocaFuse's (vocafuseScopes).
func readTokenRequest(w http.ResponseWriter, r *http.Request, identityField string) (req tokenRequest, apiErr *apiError) {
	req = tokenRequest{ttl: defaultTokenTTL, scopes: auth.AllScopes}
	fields, apiErr := readFields(w, r, maxTokenRequest)
	if apiErr != nil {
		return req, apiErr
	}
	if req.identity, apiErr = readIdentity(fields, identityField); apiErr != nil {
		return req, apiErr
	}
	if raw, ok := present(fields, "expires_in"); ok {
		v, ok := jsonInteger(raw)
		if !ok || v < minTokenTTL || v > maxTokenTTL {
			return req, invalidField("expires_in", raw, "must be an integer between 60 and 86400")
		}
		req.ttl = int(v)
	}
	const scopeReason = "must name scopes among voicenotes:read, voicenotes:write, voice-api.upload_voicenote, voice-api.upload, voice-api.read_voicenote"
	if raw, ok := present(fields, "scope"); ok {
		var scope string
		if json.Unmarshal(raw, &scope) != nil {
			return req, invalidField("scope", raw, scopeReason)
		}
		if req.scopes, ok = grantedScopes(strings.Fields(scope)); !ok {
			return req, invalidField("scope", raw, scopeReason)
		}
	}
	if raw, ok := present(fields, "scopes"); ok {
		var scopes []string
		if json.Unmarshal(raw, &scopes) != nil {
			return req, invalidField("scopes", raw, scopeReason)
		}
		if req.scopes, ok = grantedScopes(scopes); !ok {
			return req, invalidField("scopes", raw, scopeReason)
		}
	}
	return req, nil
}

// vocafuseScopes are VocaFuse's scope names (its Node SDK asks for
// voice-api.upload_voicenote, its browser SDKs' token endpoints for voice-api.upload)
// as this API's scopes: uploading is writing; reading is reading.
var vocafuseScopes = map[string]string{
	"voice-api.upload_voicenote": auth.ScopeWrite,
	"voice-api.upload":           auth.ScopeWrite,
	"voice-api.upload_recording": auth.ScopeWrite,
	"voice-api.read_voicenote":   auth.ScopeRead,
	"voice-api.read_recording":   auth.ScopeRead,
}

// grantedScopes maps the scopes asked for to this API's, refusing an unknown one and
// an empty list.
func grantedScopes(asked []string) ([]string, bool) {
	var granted []string
	for _, a := range asked {
		scope := a
		if mapped, ok := vocafuseScopes[a]; ok {
			scope = mapped
		}
		if !auth.KnownScope(scope) {
			return nil, false
		}
		if !slices.Contains(granted, scope) {
			granted = append(granted, scope)
		}
	}
	return granted, len(granted) > 0
}

// readIdentity reads the identity a token is for: absent, null or "" is missing (2002).
func readIdentity(fields map[string]json.RawMessage, field string) (string, *apiError) {
	raw, ok := present(fields, field)
	if !ok || string(raw) == `""` {
		return "", missingField(field)
	}
	var identity string
	if json.Unmarshal(raw, &identity) != nil || !validIdentity(identity) {
		return "", invalidField(field, raw, "must be a string of 1 to 128 characters, not only spaces")
	}
	return identity, nil
}

// jsonInteger reads a JSON number without a fraction or exponent; "60" in quotes is a
// string, not an integer.
func jsonInteger(raw json.RawMessage) (int64, bool) {
	n, ok := asSent(raw).(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// present returns a field that is there and not null.
func present(fields map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := fields[name]
	return raw, ok && string(raw) != "null"
}

// validIdentity allows what fits in a log line and a JWT subject without surprises, and
// names someone: not only spaces or invisible characters.
func validIdentity(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxIdentityLen {
		return false
	}
	if strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsGraphic(r) }) == "" {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

// readFields reads a request body of at most max bytes as one JSON object's fields. An
// empty body counts as {}, so that a bare POST says which field is missing; anything
// that is not a JSON object is 2001.
func readFields(w http.ResponseWriter, r *http.Request, max int64) (map[string]json.RawMessage, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		return nil, &apiError{code: catalog.InvalidRequestFormat}
	}
	var fields map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &fields); err != nil {
			return nil, &apiError{code: catalog.InvalidRequestFormat}
		}
	}
	return fields, nil
}

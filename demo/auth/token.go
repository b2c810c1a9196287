// Package auth holds the server's credentials and what is made from them: the API key
// and secret that mint tokens, the JWTs themselves (HS256 only), and the signed audio
// URLs an <audio> element uses instead of a token.
package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vocafuse/recorder/demo/internal/random"
)

// The scopes a token may carry; a token without the one an operation needs gets 1003.
const (
	ScopeRead  = "voicenotes:read"
	ScopeWrite = "voicenotes:write"
)

// AllScopes is what a token gets when no scope is asked for.
var AllScopes = []string{ScopeRead, ScopeWrite}

// KnownScope reports whether s is a scope the API knows.
func KnownScope(s string) bool { return slices.Contains(AllScopes, s) }

// Verify's errors: the API answers 1001 and 1002.
var (
	ErrInvalidToken = errors.New("auth: invalid or malformed token")
	ErrTokenExpired = errors.New("auth: token has expired")
)

// Claims is what a verified token says.
type Claims struct {
	Identity  string
	Scopes    []string
	ExpiresAt time.Time
}

// Allows reports whether the token carries scope.
func (c Claims) Allows(scope string) bool { return slices.Contains(c.Scopes, scope) }

// jwtClaims is the token's payload: sub, iat, exp, jti and a space-separated scope.
type jwtClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
}

// Issuer mints and verifies tokens with one HS256 key.
type Issuer struct {
	key    []byte
	now    func() time.Time
	parser *jwt.Parser
}

// NewIssuer returns an Issuer signing with key and reading the time from now.
func NewIssuer(key []byte, now func() time.Time) *Issuer {
	return &Issuer{
		key: key,
		now: now,
		// Only HS256: "none", RS256 with the HMAC key as a "public key", and the rest are
		// refused before the signature is looked at.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithTimeFunc(now),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
	}
}

// Mint returns a token for identity, valid for ttl, with the given scopes.
func (i *Issuer) Mint(identity string, ttl time.Duration, scopes []string) (token string, expiresAt time.Time, err error) {
	now := i.now().Truncate(time.Second) // JWT times are whole seconds
	expiresAt = now.Add(ttl)
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   identity,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(expiresAt),
			ID:        random.Hex(16),
		},
		Scope: strings.Join(scopes, " "),
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.key)
	return token, expiresAt, err
}

// Verify checks a token's signature first, then its times: a token that is both forged
// and expired is ErrInvalidToken, so that "expired" is said only of the server's own tokens.
func (i *Issuer) Verify(token string) (Claims, error) {
	if !strictShape(token) {
		return Claims{}, ErrInvalidToken
	}
	var c jwtClaims
	_, err := i.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.key, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrTokenExpired
	case err != nil, c.Subject == "":
		return Claims{}, ErrInvalidToken
	}
	return Claims{Identity: c.Subject, Scopes: strings.Fields(c.Scope), ExpiresAt: c.ExpiresAt.Time}, nil
}

// strictShape refuses what the JWT library lets through but this server never issues:
// a segment in any but its one canonical base64url spelling (see canonicalSegment), a
// "crit" header (RFC 7515 4.1.11: extensions the server does not understand must be
// refused, and it understands none), and times that are not JSON numbers (RFC 7519
// NumericDate; the library also takes "exp": "1893456000").
func strictShape(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !canonicalSegment(parts[0]) || !canonicalSegment(parts[1]) || !canonicalSegment(parts[2]) {
		return false
	}
	var header, payload map[string]json.RawMessage
	if !decodeSegment(parts[0], &header) || !decodeSegment(parts[1], &payload) {
		return false
	}
	if _, ok := header["crit"]; ok {
		return false
	}
	for _, name := range []string{"exp", "iat", "nbf"} {
		raw, ok := payload[name]
		if !ok {
			continue
		}
		var n json.Number
		if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
			return false
		}
	}
	if sub, ok := payload["sub"]; ok {
		var s string
		if json.Unmarshal(sub, &s) != nil || strings.TrimSpace(s) == "" {
			return false
		}
	}
	return true
}

// canonicalSegment reports whether seg is the unpadded base64url encoding of the bytes
// it decodes to, spelled the one way an encoder writes them. A decoder alone also takes
// a last character with non-zero unused bits ("…R" for "…Q") and ignores CR and LF, so
// that one token would have several spellings: each a different string for anything
// that compares or counts tokens as strings.
func canonicalSegment(seg string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && base64.RawURLEncoding.EncodeToString(raw) == seg
}

func decodeSegment(seg string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(raw, v) == nil
}

// Package auth holds the server's credentials and what is made from them: the API key
// and secret that mint tokens, the JWTs themselves (HS256 only), and the signed audio
// URLs an <audio> element uses instead of a token.
package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
			ID:        newJTI(),
		},
		Scope: strings.Join(scopes, " "),
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.key)
	return token, expiresAt, err
}

// Verify checks a token's signature first, then its times: a token that is both forged
// and expired is ErrInvalidToken, so that "expired" is said only of the server's own tokens.
func (i *Issuer) Verify(token string) (Claims, error) {
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

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

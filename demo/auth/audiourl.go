package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"
)

// URLSigner signs audio URLs: an <audio> element cannot send an Authorization header, so
// the voice note's audio_url carries its own short-lived proof instead of the token.
// The signature is an HMAC over the owner, the id and the expiry; changing any of them,
// or waiting past the expiry, makes the URL worthless.
type URLSigner struct {
	key []byte
	now func() time.Time
}

// NewURLSigner derives the URL key from the token key, so the two are never the same
// key used for two purposes, and no further secret needs keeping.
func NewURLSigner(tokenKey []byte, now func() time.Time) *URLSigner {
	mac := hmac.New(sha256.New, tokenKey)
	mac.Write([]byte("vocafuse audio url v1"))
	return &URLSigner{key: mac.Sum(nil), now: now}
}

// The query parameters of a signed URL.
const (
	ParamOwner     = "owner"
	ParamExpires   = "expires"
	ParamSignature = "signature"
)

// Sign returns the query that makes the audio of (owner, id) readable for ttl.
func (s *URLSigner) Sign(owner, id string, ttl time.Duration) url.Values {
	expires := strconv.FormatInt(s.now().Add(ttl).Unix(), 10)
	return url.Values{
		ParamOwner:     {owner},
		ParamExpires:   {expires},
		ParamSignature: {s.mac(owner, id, expires)},
	}
}

// Verify reports whether signature and expires, from a URL's query, are an unexpired
// signature for the audio of (owner, id).
func (s *URLSigner) Verify(owner, id, expires, signature string) bool {
	if !hmac.Equal([]byte(signature), []byte(s.mac(owner, id, expires))) {
		return false
	}
	unix, err := strconv.ParseInt(expires, 10, 64)
	return err == nil && s.now().Unix() < unix
}

func (s *URLSigner) mac(owner, id, expires string) string {
	m := hmac.New(sha256.New, s.key)
	// Newlines separate the fields: none of them can hold one, so no two inputs collide.
	m.Write([]byte(owner + "\n" + id + "\n" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

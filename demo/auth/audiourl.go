package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// URLSigner signs audio URLs: an <audio> element cannot send an Authorization header, so
// the voice note's audio_url carries its own short-lived proof instead of the token.
// The signature is an HMAC over the owner, the id, the note's version and the expiry;
// changing any of them, or waiting past the expiry, makes the URL worthless. The version
// names the stored note itself (the API's is its sequence number and SHA-256), so that
// a URL made before a delete and a re-upload under the same id does not play the new
// bytes. It is not in the URL: the server reads it from the note it is asked for.
type URLSigner struct {
	key []byte
	now func() time.Time
}

// NewURLSigner signs with a key of its own, derived from the token key.
func NewURLSigner(tokenKey []byte, now func() time.Time) *URLSigner {
	return &URLSigner{key: DeriveKey(tokenKey, "vocafuse audio url v1"), now: now}
}

// The query parameters of a signed URL.
const (
	ParamOwner     = "owner"
	ParamExpires   = "expires"
	ParamSignature = "signature"
)

// Sign returns the query that makes the audio of (owner, id) at version readable for ttl.
func (s *URLSigner) Sign(owner, id, version string, ttl time.Duration) url.Values {
	expires := strconv.FormatInt(s.now().Add(ttl).Unix(), 10)
	return url.Values{
		ParamOwner:     {owner},
		ParamExpires:   {expires},
		ParamSignature: {s.mac(owner, id, version, expires)},
	}
}

// Verify reports whether signature and expires, from a URL's query, are an unexpired
// signature for the audio of (owner, id) at version.
func (s *URLSigner) Verify(owner, id, version, expires, signature string) bool {
	if !hmac.Equal([]byte(signature), []byte(s.mac(owner, id, version, expires))) {
		return false
	}
	unix, err := strconv.ParseInt(expires, 10, 64)
	return err == nil && s.now().Unix() < unix
}

// mac signs the fields (owner, id, version, expires).
func (s *URLSigner) mac(fields ...string) string {
	m := hmac.New(sha256.New, s.key)
	// Newlines separate the fields: none of them can hold one, so no two inputs collide.
	m.Write([]byte(strings.Join(fields, "\n")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

package auth

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DeriveKey makes the key of one purpose from the token key: an HMAC of the purpose's
// label. Each signed thing (audio URLs, upload URLs, list cursors, the visitor cookie)
// has its own, so no key serves two purposes and no further secret needs keeping.
func DeriveKey(tokenKey []byte, label string) []byte {
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Package random makes the server's unguessable ids and secrets.
package random

import (
	"crypto/rand"
	"encoding/hex"
)

// Hex is n random bytes from crypto/rand as 2n lowercase hex digits. crypto/rand's Read
// never fails (the program stops if the system's source does), so there is no error.
func Hex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // documented never to return an error
	return hex.EncodeToString(b)
}

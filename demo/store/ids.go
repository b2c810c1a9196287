package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ParseID accepts a voice note id in the canonical UUID form (8-4-4-4-12 hex digits, any
// case) and returns it in lower case, so that one UUID names one voice note however it
// is spelt. Nothing else gets through: an id becomes a file name, so it must never be
// able to hold a path separator or "..".
func ParseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !isHex(c) {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Owner is the storage key of an identity: the first 128 bits of its SHA-256, in hex.
// Voice notes live in one namespace per owner, so another identity's id is not there at
// all (and a PUT of it makes the caller's own voice note) rather than a conflict that
// would tell the caller someone else has it. It is also what a signed audio URL
// carries, so the identity itself never appears in a URL.
type Owner string

const ownerLen = 32

// OwnerOf returns the owner key of an identity.
func OwnerOf(identity string) Owner {
	sum := sha256.Sum256([]byte(identity))
	return Owner(hex.EncodeToString(sum[:ownerLen/2]))
}

// ParseOwner accepts an owner key as OwnerOf writes it (from a URL or a directory name).
func ParseOwner(s string) (Owner, bool) {
	if len(s) != ownerLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return Owner(s), true
}

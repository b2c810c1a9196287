package api

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
)

// cursors seals a list position (the store's sequence number, which counts every voice
// note of every identity) with AES-GCM, bound to the owner as additional data: a
// cursor reveals nothing, cannot be altered, and is refused from another identity.
type cursors struct{ aead cipher.AEAD }

func newCursors(tokenSecret string) cursors {
	block, _ := aes.NewCipher(auth.DeriveKey([]byte(tokenSecret), "vocafuse list cursor v1"))
	aead, _ := cipher.NewGCM(block)
	return cursors{aead}
}

func (c cursors) encode(owner store.Owner, seq uint64) string {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+8+c.aead.Overhead())
	_, _ = rand.Read(nonce)
	sealed := c.aead.Seal(nonce, nonce, binary.BigEndian.AppendUint64(nil, seq), []byte(owner))
	return base64.RawURLEncoding.EncodeToString(sealed)
}

func (c cursors) decode(owner store.Owner, s string) (uint64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != c.aead.NonceSize()+8+c.aead.Overhead() {
		return 0, false
	}
	plain, err := c.aead.Open(nil, raw[:c.aead.NonceSize()], raw[c.aead.NonceSize():], []byte(owner))
	if err != nil {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(plain)
	return seq, seq != 0
}

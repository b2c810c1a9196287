package random

import (
	"encoding/hex"
	"testing"
)

func TestHex(t *testing.T) {
	for _, n := range []int{0, 8, 12, 16, 32} {
		s := Hex(n)
		if b, err := hex.DecodeString(s); err != nil || len(b) != n || len(s) != 2*n {
			t.Errorf("Hex(%d) = %q", n, s)
		}
	}
	if Hex(16) == Hex(16) {
		t.Error("two calls gave the same 16 bytes")
	}
}

package catalog

import (
	"strings"
	"testing"
)

func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "plain", "caf\xc3\xa9", "cut \xc3", "\xff\xfe bad \x80\x80 runs", "\xed\xa0\x80 surrogate"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validUTF8(b), strings.ToValidUTF8(string(b), "\uFFFD"); got != want {
			t.Fatalf("validUTF8(%q) = %q, want %q", b, got, want)
		}
	})
}

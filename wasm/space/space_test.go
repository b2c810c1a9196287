package space

import (
	"strings"
	"testing"
	"unicode"
)

func TestIsSpace(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune+1; r++ {
		if isSpace(r) != unicode.IsSpace(r) {
			t.Fatalf("isSpace(%U) = %v, unicode.IsSpace says %v", r, isSpace(r), unicode.IsSpace(r))
		}
	}
}

// Trim agrees with strings.TrimSpace on every string.
func FuzzTrim(f *testing.F) {
	for _, s := range []string{"", " ", " a ", "\t\n\v\f\r a b \r\n", "\u00a0x\u3000", "\u2000\u200a\u200b", "\u0085\xff ", " \xe2\x80", "é "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Trim(s), strings.TrimSpace(s); got != want {
			t.Fatalf("Trim(%q) = %q, strings.TrimSpace: %q", s, got, want)
		}
	})
}

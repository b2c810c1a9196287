package delivery

import (
	"strings"
	"testing"
)

func FuzzReplaceAll(f *testing.F) {
	f.Add("a token b token", "token")
	f.Add("tokentoken", "token")
	f.Add("..", ".")
	f.Fuzz(func(t *testing.T, s, old string) {
		if old == "" {
			return // callers never pass an empty old
		}
		if got, want := replaceAll(s, old, "[x]"), strings.ReplaceAll(s, old, "[x]"); got != want {
			t.Fatalf("replaceAll(%q, %q) = %q, want %q", s, old, got, want)
		}
	})
}

package delivery

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"unicode/utf8"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestSubject(t *testing.T) {
	for _, c := range []struct{ token, want string }{
		{jwt(`{"sub":"visitor-1","exp":1}`), "visitor-1"},
		{jwt(` { "iss" : "x", "nested": {"sub": "not me", "a": [1, {"sub": 2}]}, "sub" : "v\"2" } `), `v"2`},
		{jwt(`{"data":"has \"sub\":\"fake\" inside","sub":"real"}`), "real"},
		{jwt(`{"exp":1}`), ""},
		{jwt(`{"sub":7}`), ""},
		{jwt(`not json`), ""},
		{"opaque-token", ""},
		{"a.b", ""},
		{"a.!!!.c", ""},
	} {
		if got := Subject(c.token); got != c.want {
			t.Errorf("Subject(%q) = %q, want %q", c.token, got, c.want)
		}
	}
}

func TestMine(t *testing.T) {
	one, two := jwt(`{"sub":"one"}`), jwt(`{"sub":"two"}`)
	for _, c := range []struct {
		owner, token string
		want         bool
	}{
		{"one", one, true}, {"one", two, false}, {"", two, true}, {"one", "opaque", true},
	} {
		if got := Mine(c.owner, c.token); got != c.want {
			t.Errorf("Mine(%q, %q) = %v", c.owner, c.token, got)
		}
	}
}

// The scanner agrees with encoding/json on every object that parses, and never panics.
func FuzzSubject(f *testing.F) {
	for _, s := range []string{`{"sub":"a"}`, `{"x":{"sub":"b"},"sub":"c"}`, `{"sub":"\n\u00e9"}`, `[1]`, `{"a":[{"b":"}"}],"sub":"d"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		got := topLevelString([]byte(payload), "sub")
		var claims map[string]any
		// encoding/json replaces invalid UTF-8 with U+FFFD; the scanner keeps the bytes,
		// which only ever fail to match an owner.
		if !utf8.ValidString(payload) || json.Unmarshal([]byte(payload), &claims) != nil {
			return
		}
		want, _ := claims["sub"].(string)
		if got != want && !containsUnicodeEscapeOrDup(payload) {
			t.Fatalf("topLevelString(%q) = %q, encoding/json says %q", payload, got, want)
		}
	})
}

// The scanner keeps \u escapes as written, and takes the first of duplicate keys where
// encoding/json takes the last: both only ever fail to match an owner.
func containsUnicodeEscapeOrDup(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\\' && s[i+1] == 'u' {
			return true
		}
	}
	n := 0
	for i := 0; i+5 <= len(s); i++ {
		if s[i:i+5] == `"sub"` {
			n++
		}
	}
	return n > 1
}

// The hand-written decoder agrees with encoding/base64 on every input, as Subject used it.
func FuzzDecodeBase64URL(f *testing.F) {
	for _, s := range []string{"", "e30", "eyJzdWIiOiJhIn0=", "YQ==", "YWI", "YWJj", "Y", "a\nb\rc", "a=b", "-_-_", "!!!", "YQ=\n", "YR"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		got, ok := decodeBase64URL(s)
		if ok != (err == nil) || ok && string(got) != string(want) {
			t.Fatalf("decodeBase64URL(%q) = %q, %v; encoding/base64: %q, %v", s, got, ok, want, err)
		}
	})
}

// A JWT has exactly three parts: more or fewer dots make no subject.
func TestSubjectThreeParts(t *testing.T) {
	one := jwt(`{"sub":"one"}`)
	for _, token := range []string{one + ".x", "x." + one, strings.Replace(one, ".", "", 1), one[:strings.LastIndexByte(one, '.')]} {
		if got := Subject(token); got != "" {
			t.Errorf("Subject(%q) = %q, want none", token, got)
		}
	}
}

// MineNow is Mine with the token in hand, for pending(): no token yet makes every
// recording the page's; once one is in hand, only its identity's and no one's are.
func TestMineNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTab(t, newStore(), newLocks(), &fakeNetwork{sub: "two"})
		if !c.MineNow("one") {
			t.Fatal("no token in hand, yet another identity's")
		}
		if c.Identity() != "two" {
			t.Fatalf("identity %q", c.Identity())
		}
		for owner, want := range map[string]bool{"one": false, "two": true, "": true} {
			if got := c.MineNow(owner); got != want {
				t.Errorf("MineNow(%q) = %v with two's token", owner, got)
			}
		}
	})
}

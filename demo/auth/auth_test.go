package auth

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestCredentialsAreKeptAndEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	none := func(string) string { return "" }
	first, printKey, err := LoadCredentials(dir, none)
	if err != nil || !printKey || len(first.APIKey) < 20 || first.APISecret == "" || first.TokenSecret == "" {
		t.Fatalf("%+v %v %v", first, printKey, err)
	}
	info, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", info.Mode(), err)
	}
	again, _, _ := LoadCredentials(dir, none)
	if again != first {
		t.Error("a restart made new credentials")
	}
	env := map[string]string{EnvAPIKey: "sk_test_env", EnvAPISecret: "env-secret-16byte", EnvTokenSecret: strings.Repeat("s", 32)}
	fromEnv, printKey, _ := LoadCredentials(dir, func(k string) string { return env[k] })
	if printKey || fromEnv != (Credentials{"sk_test_env", "env-secret-16byte", strings.Repeat("s", 32)}) {
		t.Errorf("%+v %v", fromEnv, printKey)
	}
	if !fromEnv.CheckAPIKey("sk_test_env", "env-secret-16byte") || fromEnv.CheckAPIKey("sk_test_env", "env-secret-16bytE") {
		t.Error("CheckAPIKey")
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	i := NewIssuer([]byte("k"), clock)
	tok, exp, err := i.Mint("user_42", time.Minute, []string{ScopeRead})
	if err != nil || !exp.Equal(now.Add(time.Minute)) {
		t.Fatal(err, exp)
	}
	c, err := i.Verify(tok)
	if err != nil || c.Identity != "user_42" || !c.Allows(ScopeRead) || c.Allows(ScopeWrite) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := NewIssuer([]byte("other"), clock).Verify(tok); err != ErrInvalidToken {
		t.Errorf("another key: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := i.Verify(tok); err != ErrTokenExpired {
		t.Errorf("at expiry: %v", err)
	}
}

func TestSignedURLs(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := NewURLSigner([]byte("k"), func() time.Time { return now })
	q := s.Sign("owner", "id", "7", time.Minute)
	if !s.Verify("owner", "id", "7", q.Get(ParamExpires), q.Get(ParamSignature)) {
		t.Fatal("a fresh URL does not verify")
	}
	if s.Verify("owner", "id2", "7", q.Get(ParamExpires), q.Get(ParamSignature)) ||
		s.Verify("owner2", "id", "7", q.Get(ParamExpires), q.Get(ParamSignature)) ||
		s.Verify("owner", "id", "8", q.Get(ParamExpires), q.Get(ParamSignature)) ||
		s.Verify("owner", "id", "7", "1900000000", q.Get(ParamSignature)) {
		t.Error("an altered URL verifies, or one for another version of the note")
	}
	now = now.Add(time.Minute)
	if s.Verify("owner", "id", "7", q.Get(ParamExpires), q.Get(ParamSignature)) {
		t.Error("an expired URL verifies")
	}
}

// Issue 13, point 12: a one-character signing key is refused at start.
func TestShortSecretsAreRefused(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"token secret": {EnvTokenSecret: "x"},
		"API secret":   {EnvAPISecret: "short"},
	} {
		if _, _, err := LoadCredentials(t.TempDir(), func(k string) string { return env[k] }); err == nil {
			t.Errorf("%s: a short one was accepted", name)
		}
	}
}

// Issue 13, point 12: exp as a JSON string and an unknown crit header are refused.
func TestTokensOfAnotherShapeAreRefused(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := []byte("k")
	i := NewIssuer(key, func() time.Time { return now })
	sign := func(header, payload string) string {
		enc := base64.RawURLEncoding.EncodeToString
		unsigned := enc([]byte(header)) + "." + enc([]byte(payload))
		tok, err := jwt.SigningMethodHS256.Sign(unsigned, key)
		if err != nil {
			t.Fatal(err)
		}
		return unsigned + "." + base64.RawURLEncoding.EncodeToString(tok)
	}
	good := `{"sub":"u","iat":1767225600,"exp":1767229200,"scope":"voicenotes:read"}`
	if _, err := i.Verify(sign(`{"alg":"HS256","typ":"JWT"}`, good)); err != nil {
		t.Fatalf("the well-formed token: %v", err)
	}
	for name, tok := range map[string]string{
		"exp as a string": sign(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"u","iat":1767225600,"exp":"1767229200"}`),
		"iat as a string": sign(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"u","iat":"1767225600","exp":1767229200}`),
		"crit header":     sign(`{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}`, good),
		"blank subject":   sign(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"   ","iat":1767225600,"exp":1767229200}`),
	} {
		if _, err := i.Verify(tok); err != ErrInvalidToken {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Issue 24, point 10: a segment whose last character carries non-zero unused bits
// decodes to the same bytes, so each token had up to 4 spellings; only the one the
// server wrote is taken.
func TestTokenSegmentsHaveOneSpelling(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := []byte("k")
	i := NewIssuer(key, func() time.Time { return now })
	enc := base64.RawURLEncoding.EncodeToString
	// A header and a payload whose lengths leave unused bits in their last character
	// (a length that is a multiple of 3 encodes without any); the signature always does.
	header := `{"alg":"HS256","typ":"JWT","kid":"a"}`
	payload := `{"sub":"u","iat":1767225600,"exp":1767229200,"scope":"voicenotes:read"}`
	unsigned := enc([]byte(header)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, key)
	if err != nil {
		t.Fatal(err)
	}
	token := unsigned + "." + enc(sig)
	if _, err := i.Verify(token); err != nil {
		t.Fatalf("the canonical token: %v", err)
	}
	minted, _, _ := i.Mint("user_42", time.Minute, AllScopes)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, tok := range []string{token, minted} {
		parts := strings.Split(tok, ".")
		for seg, name := range []string{"header", "payload", "signature"} {
			s := parts[seg]
			if len(s)%4 == 0 {
				if tok == token {
					t.Fatalf("%s: the test's %s has no unused bits", name, name)
				}
				continue
			}
			// The lowest bit of the last character is unused in both partial groups.
			last := strings.IndexByte(alphabet, s[len(s)-1])
			twin := s[:len(s)-1] + string(alphabet[last^1])
			a, _ := base64.RawURLEncoding.DecodeString(s)
			b, errB := base64.RawURLEncoding.DecodeString(twin)
			if errB != nil || string(a) != string(b) {
				t.Fatalf("%s: %q is not a twin of %q", name, twin, s)
			}
			altered := slices.Clone(parts)
			altered[seg] = twin
			if _, err := i.Verify(strings.Join(altered, ".")); err != ErrInvalidToken {
				t.Errorf("%s spelled %q…: %v", name, twin[max(0, len(twin)-4):], err)
			}
			altered[seg] = s[:len(s)/2] + "\n" + s[len(s)/2:]
			if _, err := i.Verify(strings.Join(altered, ".")); err != ErrInvalidToken {
				t.Errorf("%s with a line feed: %v", name, err)
			}
		}
		if _, err := i.Verify(tok); err != nil {
			t.Errorf("the original after all that: %v", err)
		}
	}
}

package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vocafuse/recorder/demo/internal/random"
)

// Credentials are the server's secrets: the API key and secret a backend sends to
// POST /v1/tokens, and the key tokens are signed with.
type Credentials struct {
	APIKey      string `json:"api_key"`
	APISecret   string `json:"api_secret"`
	TokenSecret string `json:"token_secret"`
}

// The environment variables that set the credentials (docs/api.md).
const (
	EnvAPIKey      = "VOCAFUSE_API_KEY"
	EnvAPISecret   = "VOCAFUSE_API_SECRET"
	EnvTokenSecret = "VOCAFUSE_TOKEN_SECRET"
)

// The shortest secrets the server accepts from the environment: a signing key is 256
// bits of HMAC key, and anything much shorter can be guessed offline from one token.
const (
	MinTokenSecret = 32
	MinAPISecret   = 16
)

// credentialsFile is where generated credentials are kept, so that a restart keeps the
// key and secret a backend was configured with and the tokens already handed out.
const credentialsFile = "credentials.json"

// LoadCredentials takes each credential from the environment (through getenv), else
// from the data directory, where random ones are made and kept (mode 0600) the first
// time. The file always holds a full set, so a variable can be unset later without
// the server refusing to start; a variable that is set always wins.
//
// printKey tells whether the key or the secret is not from the environment: then the
// person running the server has no way to learn them but from the start-up output.
func LoadCredentials(dataDir string, getenv func(string) string) (c Credentials, printKey bool, err error) {
	path := filepath.Join(dataDir, credentialsFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &c); err != nil {
			return c, false, fmt.Errorf("%s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return c, false, err
	}
	generated := false
	for field, generate := range map[*string]func() string{
		&c.APIKey:      func() string { return "sk_test_" + random.Hex(16) }, // the look of a VocaFuse key
		&c.APISecret:   func() string { return random.Hex(32) },
		&c.TokenSecret: func() string { return random.Hex(32) },
	} {
		if *field == "" {
			*field, generated = generate(), true
		}
	}
	if generated {
		if err := writeCredentials(path, c); err != nil {
			return c, false, err
		}
	}
	if v := getenv(EnvTokenSecret); v != "" && len(v) < MinTokenSecret {
		return c, false, fmt.Errorf("%s is %d bytes long: a signing key needs at least %d (for example: openssl rand -hex 32)",
			EnvTokenSecret, len(v), MinTokenSecret)
	}
	if v := getenv(EnvAPISecret); v != "" && len(v) < MinAPISecret {
		return c, false, fmt.Errorf("%s is %d bytes long: it needs at least %d", EnvAPISecret, len(v), MinAPISecret)
	}
	printKey = getenv(EnvAPIKey) == "" || getenv(EnvAPISecret) == ""
	for field, env := range map[*string]string{&c.APIKey: EnvAPIKey, &c.APISecret: EnvAPISecret, &c.TokenSecret: EnvTokenSecret} {
		if v := getenv(env); v != "" {
			*field = v
		}
	}
	return c, printKey, nil
}

// writeCredentials writes the file whole or not at all, readable by its owner only.
func writeCredentials(path string, c Credentials) error {
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CheckAPIKey reports whether key and secret are the server's, in time that does not
// depend on how much of them is right.
func (c Credentials) CheckAPIKey(key, secret string) bool {
	k1, k2 := sha256.Sum256([]byte(key)), sha256.Sum256([]byte(c.APIKey))
	s1, s2 := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(c.APISecret))
	keyOK := subtle.ConstantTimeCompare(k1[:], k2[:])
	secretOK := subtle.ConstantTimeCompare(s1[:], s2[:])
	return keyOK&secretOK == 1
}

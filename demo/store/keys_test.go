package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func envKey(key, secret string, at time.Time) APIKey {
	return APIKey{ID: EnvAPIKeyID(key), Name: "Default key (environment)", Key: key, SecretHash: HashSecret(secret), CreatedAt: at}
}

func keyIDs(t *testing.T, s *Store) []string {
	t.Helper()
	keys, err := s.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

// Keys are stored with their secret's hash only; the environment's key is listed first;
// the last key cannot be deleted; a deleted environment key stays deleted after a reopen
// with the same credentials, and a new environment key replaces an old one.
func TestAPIKeys(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	env, tomb, err := s.EnsureEnvAPIKey(envKey("sk_test_env", "env-secret-0123456789", t0))
	if err != nil || tomb || env.ID != EnvAPIKeyID("sk_test_env") || !env.Env {
		t.Fatal(env, tomb, err)
	}
	if len(env.ID) != len("ak_")+24 {
		t.Errorf("env key id %q", env.ID)
	}
	// The last key cannot go.
	if found, err := s.DeleteAPIKey(env.ID); !found || !errors.Is(err, ErrLastAPIKey) {
		t.Fatalf("deleting the last key: %v %v", found, err)
	}
	const secret = "plain-secret-that-must-not-be-stored-anywhere"
	made := APIKey{ID: NewAPIKeyID(), Name: "CI", Key: "sk_test_made", SecretHash: HashSecret(secret), CreatedAt: t0.Add(-time.Hour)}
	if err := s.CreateAPIKey(made); err != nil {
		t.Fatal(err)
	}
	// The environment's key first, although the other is older.
	if got := keyIDs(t, s); len(got) != 2 || got[0] != env.ID || got[1] != made.ID {
		t.Fatalf("list: %v", got)
	}
	if k, found, err := s.APIKey(made.ID); !found || err != nil || k.SecretHash != HashSecret(secret) || k.Name != "CI" {
		t.Fatal(k, found, err)
	}

	// Usage: a later time only, a deleted key ignored, calls added to the account.
	if _, err := s.Account(func() Account { return Account{ID: "acc_x", Name: "x", CreatedAt: t0} }); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAPIKeyUse(map[string]time.Time{made.ID: t0.Add(time.Minute), "ak_gone": t0}, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAPIKeyUse(map[string]time.Time{made.ID: t0}, 2); err != nil {
		t.Fatal(err)
	}
	if k, _, _ := s.APIKey(made.ID); !k.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("last used %v", k.LastUsedAt)
	}
	if a, _ := s.Account(nil); a.APICalls != 5 {
		t.Errorf("api calls %d", a.APICalls)
	}

	// The environment's key can go now that it is not the last, and stays gone.
	if found, err := s.DeleteAPIKey(env.ID); !found || err != nil {
		t.Fatal(found, err)
	}
	if found, err := s.DeleteAPIKey(env.ID); found || err != nil {
		t.Fatal("deleted twice", found, err)
	}
	s, _ = openStore2(t, dir, s)
	if _, tomb, err := s.EnsureEnvAPIKey(envKey("sk_test_env", "env-secret-0123456789", t0.Add(24*time.Hour))); !tomb || err != nil {
		t.Fatalf("a deleted environment key came back: %v %v", tomb, err)
	}
	if got := keyIDs(t, s); len(got) != 1 || got[0] != made.ID {
		t.Fatalf("after the reopen: %v", got)
	}

	// Another environment key is a new key (listed first); it keeps its created_at and
	// takes a new secret's hash; a third one replaces it.
	second, tomb, err := s.EnsureEnvAPIKey(envKey("sk_test_env2", "secret-one-0123456789", t0.Add(48*time.Hour)))
	if err != nil || tomb {
		t.Fatal(err, tomb)
	}
	again, _, err := s.EnsureEnvAPIKey(envKey("sk_test_env2", "secret-two-0123456789", t0.Add(72*time.Hour)))
	if err != nil || !again.CreatedAt.Equal(second.CreatedAt) || again.SecretHash != HashSecret("secret-two-0123456789") {
		t.Fatal(again, err)
	}
	third, _, _ := s.EnsureEnvAPIKey(envKey("sk_test_env3", "secret-three-0123456789", t0))
	if got := keyIDs(t, s); len(got) != 2 || got[0] != third.ID || got[1] != made.ID {
		t.Fatalf("a replaced environment key stayed: %v", got)
	}

	// The plain secret is nowhere in the database.
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "voicenotes.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{secret, "env-secret-0123456789", "secret-two-0123456789"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("the secret %q is stored", plain)
		}
	}
	if !bytes.Contains(raw, []byte(HashSecret(secret))) {
		t.Error("the secret's hash is not stored")
	}
}

// Two deletions at once cannot remove the account's last two keys.
func TestLastAPIKeyUnderConcurrency(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	for _, id := range []string{"ak_1", "ak_2"} {
		if err := s.CreateAPIKey(APIKey{ID: id, Key: "sk_test_" + id, SecretHash: HashSecret(id), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 2)
	for _, id := range []string{"ak_1", "ak_2"} {
		go func() { _, err := s.DeleteAPIKey(id); errs <- err }()
	}
	refused := 0
	for range 2 {
		if err := <-errs; errors.Is(err, ErrLastAPIKey) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 1 || len(keyIDs(t, s)) != 1 {
		t.Fatalf("refused %d, left %v", refused, keyIDs(t, s))
	}
}

// The account is made once, then kept; UpdateAccount changes it.
func TestAccount(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, err := s.Account(func() Account { return Account{ID: NewAccountID(), Name: "Local", CreatedAt: t0} })
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.UpdateAccount(func(a *Account) { a.Name = "Renamed" }); !found || err != nil {
		t.Fatal(found, err)
	}
	s, _ = openStore2(t, dir, s)
	b, err := s.Account(func() Account { t.Error("made twice"); return Account{} })
	if err != nil || b.ID != a.ID || b.Name != "Renamed" || !b.CreatedAt.Equal(t0) {
		t.Fatal(b, err)
	}
}

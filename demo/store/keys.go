package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vocafuse/recorder/demo/internal/random"
)

// The account's API keys live in the same database as the voice notes. A key's secret is
// never stored: only its SHA-256 (a secret is 256 random bits, so a plain hash is as good
// as a slow one). The key from the environment (or credentials.json) is stored too, marked
// Env, so that it has a created_at and a last_used_at like any other; deleting it leaves a
// tombstone, so that a restart with the same credentials does not bring it back.
//
// The buckets are made the first time they are written to, so a data directory from
// before API keys opens as it is.
var (
	apiKeysBucket    = []byte("api_keys")           // id → APIKey JSON
	keyTombsBucket   = []byte("api_key_tombstones") // id → deletion time (RFC 3339), environment keys only
	errStopIteration = errors.New("stop")
)

// ErrLastAPIKey is DeleteAPIKey's answer when the key is the account's last one.
var ErrLastAPIKey = errors.New("store: the account's last API key cannot be deleted")

// APIKey is one of the account's API keys.
type APIKey struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Key        string    `json:"api_key"`
	SecretHash string    `json:"secret_sha256"` // hex SHA-256 of the secret (HashSecret)
	Env        bool      `json:"env,omitempty"` // the key from the environment or credentials.json
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// HashSecret is what is stored of a secret: its SHA-256, in hex.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewAPIKeyID makes a key id: "ak_" and 24 hex digits.
func NewAPIKeyID() string { return "ak_" + random.Hex(12) }

// EnvAPIKeyID is the stable id of the key from the environment: "ak_" and the first 24
// hex digits of the key's SHA-256 (the key, not the secret: a new secret for the same
// key is the same key).
func EnvAPIKeyID(key string) string { return "ak_" + HashSecret(key)[:24] }

func allAPIKeys(tx *bolt.Tx) ([]APIKey, error) {
	b := tx.Bucket(apiKeysBucket)
	if b == nil {
		return nil, nil
	}
	var out []APIKey
	err := b.ForEach(func(_, raw []byte) error {
		var k APIKey
		if err := json.Unmarshal(raw, &k); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	// The environment's key first, then oldest first.
	slices.SortFunc(out, func(a, b APIKey) int {
		if a.Env != b.Env {
			if a.Env {
				return -1
			}
			return 1
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return out, err
}

// APIKeys returns every key: the environment's first, then oldest first.
func (s *Store) APIKeys() (keys []APIKey, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		keys, err = allAPIKeys(tx)
		return err
	})
	return keys, err
}

// APIKey returns the key with that id.
func (s *Store) APIKey(id string) (k APIKey, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		found, err = getJSON(tx, apiKeysBucket, id, &k)
		return err
	})
	return k, found, err
}

// CreateAPIKey stores a new key (its SecretHash, never its secret).
func (s *Store) CreateAPIKey(k APIKey) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putJSON(tx, apiKeysBucket, k.ID, k) })
}

// DeleteAPIKey removes the key with that id, for good: an environment key leaves a
// tombstone that EnsureEnvAPIKey respects. ErrLastAPIKey when it is the account's only key
// (checked in the same transaction, so two deletions at once cannot remove the last two).
func (s *Store) DeleteAPIKey(id string) (found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		var k APIKey
		var err error
		if found, err = getJSON(tx, apiKeysBucket, id, &k); err != nil || !found {
			return err
		}
		b := tx.Bucket(apiKeysBucket)
		others := 0
		err = b.ForEach(func(other, _ []byte) error {
			if string(other) != id {
				others++
				return errStopIteration
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopIteration) {
			return err
		}
		if others == 0 {
			return ErrLastAPIKey
		}
		if k.Env {
			tombs, err := tx.CreateBucketIfNotExists(keyTombsBucket)
			if err != nil {
				return err
			}
			if err := tombs.Put([]byte(id), []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
				return err
			}
		}
		return b.Delete([]byte(id))
	})
	return found, err
}

// EnsureEnvAPIKey records the key from the environment (k, with Env set and its id
// EnvAPIKeyID): a key seen before keeps its name, created_at and last_used_at and takes
// the current secret's hash; a key that was deleted stays deleted (tombstoned true, and
// nothing is written). A key of an earlier environment that is no longer the server's is
// forgotten (it cannot be used any more), without a tombstone.
func (s *Store) EnsureEnvAPIKey(k APIKey) (stored APIKey, tombstoned bool, err error) {
	k.Env = true
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tombs := tx.Bucket(keyTombsBucket); tombs != nil && tombs.Get([]byte(k.ID)) != nil {
			tombstoned = true
			return nil
		}
		keys, err := allAPIKeys(tx)
		if err != nil {
			return err
		}
		stored = k
		for _, old := range keys {
			switch {
			case old.ID == k.ID:
				stored = old
				stored.Key, stored.SecretHash, stored.Env = k.Key, k.SecretHash, true
			case old.Env:
				if err := tx.Bucket(apiKeysBucket).Delete([]byte(old.ID)); err != nil {
					return err
				}
			}
		}
		return putJSON(tx, apiKeysBucket, stored.ID, stored)
	})
	return stored, tombstoned, err
}

// RecordAPIKeyUse writes what the server kept in memory since its last call: when each
// key was last used (a later time only; a key deleted meanwhile stays deleted) and how
// many API calls were made, added to the account's count. One transaction for all.
func (s *Store) RecordAPIKeyUse(lastUsed map[string]time.Time, calls int64) error {
	if len(lastUsed) == 0 && calls == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(apiKeysBucket); b != nil {
			for id, t := range lastUsed {
				raw := b.Get([]byte(id))
				if raw == nil {
					continue
				}
				var k APIKey
				if err := json.Unmarshal(raw, &k); err != nil {
					return err
				}
				if !t.After(k.LastUsedAt) {
					continue
				}
				k.LastUsedAt = t.UTC()
				if err := putJSON(tx, apiKeysBucket, id, k); err != nil {
					return err
				}
			}
		}
		if calls == 0 {
			return nil
		}
		a, found, err := getAccount(tx)
		if err != nil || !found {
			return err // no account yet: nothing to add the calls to
		}
		a.APICalls += calls
		return putJSON(tx, accountBucket, accountKey, a)
	})
}

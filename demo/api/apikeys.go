package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/internal/random"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/catalog"
)

// The account's API keys (docs/api.md, "The account and its keys"), in the shapes of
// VocaFuse's Node SDK (its apiKeys resource).
//
// The store is the truth; the server checks keys against a copy in memory (each key's id
// and its secret's SHA-256, never a secret), which the create and delete routes change as
// soon as the store has, so that a new key works and a deleted one is refused from the
// next request on. The key from the environment (or credentials.json) is the first key:
// stored like the others under a stable id (store.EnvAPIKeyID), and once deleted, refused
// for good (a tombstone), also after a restart with the same credentials.
//
// last_used_at and the account's api_calls_count are kept in memory and written at most
// once a minute (in the request that finds the minute over) and on every account read,
// rather than a write transaction on every request.

// envKeyName is the name the environment's key is listed under.
const envKeyName = "Default key (environment)"

// usageFlushEvery is how often, at most, last_used_at and the API call count are written.
const usageFlushEvery = time.Minute

const (
	maxKeyRequest = 16 << 10
	maxKeyName    = 128
)

// apiKeys is the account's API keys as the server checks them.
type apiKeys struct {
	store *store.Store // nil: only the environment's key (a handler built without a store)
	env   auth.Credentials
	now   func() time.Time
	log   *slog.Logger

	mu        sync.Mutex
	loaded    bool
	byKey     map[string]cachedKey // api_key → what checks it
	lastUsed  map[string]time.Time // id → last use seen by this process
	unwritten map[string]time.Time // id → last use not yet written
	calls     int64                // API calls not yet written
	written   time.Time            // when usage was last written
}

type cachedKey struct {
	id   string
	hash [sha256.Size]byte // of the secret
}

func newAPIKeys(c Config) *apiKeys {
	k := &apiKeys{store: c.Store, env: c.Credentials, now: c.Now, log: c.Log,
		lastUsed: map[string]time.Time{}, unwritten: map[string]time.Time{}}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Loaded now, so that the account's created_at is the first start and a deleted
	// environment key is reported at start-up; a failure is tried again on first use.
	if err := k.loadLocked(); err != nil {
		k.log.Error("load API keys", "error", err)
	}
	if k.store != nil {
		if _, err := k.store.Account(k.newAccount); err != nil {
			k.log.Error("load account", "error", err)
		}
	}
	return k
}

// loadLocked fills the copy in memory from the store, recording the environment's key
// first (unless it was deleted).
func (k *apiKeys) loadLocked() error {
	byKey := map[string]cachedKey{}
	if k.store == nil {
		if k.env.APIKey != "" {
			byKey[k.env.APIKey] = cachedKey{id: store.EnvAPIKeyID(k.env.APIKey), hash: sha256.Sum256([]byte(k.env.APISecret))}
		}
		k.byKey, k.loaded = byKey, true
		return nil
	}
	if k.env.APIKey != "" {
		id := store.EnvAPIKeyID(k.env.APIKey)
		_, tombstoned, err := k.store.EnsureEnvAPIKey(store.APIKey{ID: id, Name: envKeyName, Key: k.env.APIKey,
			SecretHash: store.HashSecret(k.env.APISecret), CreatedAt: k.now().UTC()})
		if err != nil {
			return err
		}
		if tombstoned {
			k.log.Warn("the API key from VOCAFUSE_API_KEY or credentials.json was deleted through the API and is refused, "+
				"the demo page's /api/token included; use a key made with POST /v1/account/api-keys, "+
				"or set VOCAFUSE_API_KEY and VOCAFUSE_API_SECRET to another key", "api_key_id", id)
		}
	}
	keys, err := k.store.APIKeys()
	if err != nil {
		return err
	}
	for _, key := range keys {
		var c cachedKey
		if _, err := hex.Decode(c.hash[:], []byte(key.SecretHash)); err != nil {
			return fmt.Errorf("API key %s: secret hash: %w", key.ID, err)
		}
		c.id = key.ID
		byKey[key.Key] = c
	}
	k.byKey, k.loaded = byKey, true
	return nil
}

// ensureLoaded loads the keys where the start-up's load failed.
func (k *apiKeys) ensureLoaded() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded {
		return nil
	}
	return k.loadLocked()
}

// check reports which key key and secret are, if any, in time that does not depend on
// how much of the secret is right; a success is counted (last_used_at, api_calls_count).
func (k *apiKeys) check(key, secret string) (string, bool) {
	sum := sha256.Sum256([]byte(secret))
	k.mu.Lock()
	if !k.loaded {
		if err := k.loadLocked(); err != nil {
			k.mu.Unlock()
			k.log.Error("load API keys", "error", err)
			return "", false
		}
	}
	c, found := k.byKey[key]
	ok := subtle.ConstantTimeCompare(sum[:], c.hash[:]) == 1 && found && key != ""
	if !ok {
		k.mu.Unlock()
		return "", false
	}
	now := k.now().UTC()
	k.lastUsed[c.id], k.unwritten[c.id] = now, now
	k.calls++
	var used map[string]time.Time
	var calls int64
	if k.store != nil && now.Sub(k.written) >= usageFlushEvery {
		used, calls = k.takeUsageLocked(now)
	}
	k.mu.Unlock()
	if used != nil {
		k.writeUsage(used, calls)
	}
	return c.id, true
}

// takeUsageLocked hands over what is not yet written.
func (k *apiKeys) takeUsageLocked(now time.Time) (map[string]time.Time, int64) {
	used, calls := k.unwritten, k.calls
	k.unwritten, k.calls, k.written = map[string]time.Time{}, 0, now
	return used, calls
}

// writeUsage writes usage taken by takeUsageLocked; what could not be written is given
// back, to be written next time.
func (k *apiKeys) writeUsage(used map[string]time.Time, calls int64) error {
	err := k.store.RecordAPIKeyUse(used, calls)
	if err == nil {
		return nil
	}
	k.log.Error("record API key use", "error", err)
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, t := range used {
		if _, live := k.lastUsed[id]; live && t.After(k.unwritten[id]) {
			k.unwritten[id] = t
		}
	}
	k.calls += calls
	return err
}

// flush writes usage now (before the account is read).
func (k *apiKeys) flush() error {
	if k.store == nil {
		return nil
	}
	k.mu.Lock()
	used, calls := k.takeUsageLocked(k.now().UTC())
	k.mu.Unlock()
	return k.writeUsage(used, calls)
}

// pendingCalls is the API calls counted and not yet written.
func (k *apiKeys) pendingCalls() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls
}

// lastUse is when this process last saw the key used, if it did.
func (k *apiKeys) lastUse(id string) (time.Time, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.lastUsed[id]
	return t, ok
}

// add makes a key the store has just created work at once.
func (k *apiKeys) add(key store.APIKey, secret string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.byKey[key.Key] = cachedKey{id: key.ID, hash: sha256.Sum256([]byte(secret))}
}

// forget refuses at once a key the store has just deleted.
func (k *apiKeys) forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	maps.DeleteFunc(k.byKey, func(_ string, c cachedKey) bool { return c.id == id })
	delete(k.lastUsed, id)
	delete(k.unwritten, id)
}

// checkAPIKey reports whether key and secret are one of the account's keys, and which.
func (s *Server) checkAPIKey(key, secret string) (keyID string, ok bool) {
	return s.keys.check(key, secret)
}

// keyAccepted reports whether key and secret are one of the account's keys.
func (s *Server) keyAccepted(key, secret string) bool {
	_, ok := s.checkAPIKey(key, secret)
	return ok
}

// accountRoutes adds GET/PUT /v1/account and /v1/account/api-keys. All are the API key's:
// a browser token is 401 / 1001 (keyed).
func (s *Server) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/account", s.keyed(s.getAccount))
	mux.HandleFunc("PUT /v1/account", s.keyed(s.updateAccount))
	mux.HandleFunc("GET /v1/account/api-keys", s.keyed(s.listAPIKeys))
	mux.HandleFunc("POST /v1/account/api-keys", s.keyed(s.createAPIKey))
	mux.HandleFunc("GET /v1/account/api-keys/{id}", s.keyed(s.getAPIKey))
	mux.HandleFunc("DELETE /v1/account/api-keys/{id}", s.keyed(s.deleteAPIKey))
}

// apiKeyResource is a key as the API shows it: the secret only in the answer to POST,
// last_used_at null until the key is used.
type apiKeyResource struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	APIKey     string  `json:"api_key"`
	APISecret  string  `json:"api_secret,omitempty"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
}

func (s *Server) apiKeyOf(k store.APIKey) apiKeyResource {
	res := apiKeyResource{ID: k.ID, Name: k.Name, APIKey: k.Key, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
	used := k.LastUsedAt
	if t, ok := s.keys.lastUse(k.ID); ok && t.After(used) {
		used = t
	}
	if !used.IsZero() {
		v := used.UTC().Format(time.RFC3339)
		res.LastUsedAt = &v
	}
	return res
}

// The reference has no "API key not found" code. A missing key is 404 (the status the
// hosted API and VocaFuse's Node SDK use: its APIKeyNotFoundError) with 2003 naming the id
// as the field that is wrong: 6001 would say a voice note is missing and 6003 a webhook.
func apiKeyNotFound(w http.ResponseWriter, id string) {
	writeErrorStatus(w, http.StatusNotFound, catalog.InvalidFieldValue,
		map[string]any{"field": "api_key_id", "value": id, "reason": "no API key has this id"})
}

// lastAPIKey refuses to delete the account's last key: nobody could use the API again.
func lastAPIKey(w http.ResponseWriter, id string) {
	writeErrorStatus(w, http.StatusConflict, catalog.InvalidFieldValue,
		map[string]any{"field": "api_key_id", "value": id,
			"reason": "the account's last API key cannot be deleted: create another key first"})
}

// listAPIKeys is GET /v1/account/api-keys: every key, the environment's first, then
// oldest first, without secrets.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.store.APIKeys()
	if err != nil {
		s.internal(w, r, "list API keys", err)
		return
	}
	data := make([]apiKeyResource, len(keys))
	for i, k := range keys {
		data[i] = s.apiKeyOf(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// getAPIKey is GET /v1/account/api-keys/{id}.
func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	k, found, err := s.store.APIKey(id)
	switch {
	case err != nil:
		s.internal(w, r, "get API key", err)
	case !found:
		apiKeyNotFound(w, id)
	default:
		writeSingle(w, http.StatusOK, s.apiKeyOf(k))
	}
}

// createAPIKey is POST /v1/account/api-keys { "name" }: 201 with the key and its secret,
// shown in this answer only; the key works from the next request on.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	fields, apiErr := readFields(w, r, maxKeyRequest)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	raw, ok := present(fields, "name")
	if !ok || string(raw) == `""` {
		missingField("name").write(w)
		return
	}
	name, apiErr := readName(raw)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	if err := s.keys.ensureLoaded(); err != nil {
		s.internal(w, r, "load API keys", err)
		return
	}
	secret := random.Hex(32)
	k := store.APIKey{ID: store.NewAPIKeyID(), Name: name, Key: "sk_test_" + random.Hex(16),
		SecretHash: store.HashSecret(secret), CreatedAt: s.now().UTC()}
	if err := s.store.CreateAPIKey(k); err != nil {
		s.internal(w, r, "create API key", err)
		return
	}
	s.keys.add(k, secret)
	res := s.apiKeyOf(k)
	res.APISecret = secret
	w.Header().Set("Location", "/v1/account/api-keys/"+k.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeSingle(w, http.StatusCreated, res)
}

// deleteAPIKey is DELETE /v1/account/api-keys/{id}: 204, and the key is refused from the
// next request on, the request's own key included; the account's last key is refused
// (409 / 2003). The environment's key stays deleted across restarts.
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	k, _, _ := s.store.APIKey(id)
	found, err := s.store.DeleteAPIKey(id)
	switch {
	case errors.Is(err, store.ErrLastAPIKey):
		lastAPIKey(w, id)
	case err != nil:
		s.internal(w, r, "delete API key", err)
	case !found:
		apiKeyNotFound(w, id)
	default:
		s.keys.forget(id)
		if k.Env {
			s.log.Warn("the API key from VOCAFUSE_API_KEY or credentials.json was deleted: it is refused from now on, "+
				"after a restart too, the demo page's /api/token included", "api_key_id", id,
				"request_id", w.Header().Get("X-Request-Id"))
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/web"
)

// apiKeyAnswer is an API key as the tests read it.
type apiKeyAnswer struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	APIKey     string  `json:"api_key"`
	APISecret  string  `json:"api_secret"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
}

// callWithKey is a call as VocaFuse's Node SDK makes it: the key and secret as headers, and
// Content-Type: application/json on every call, GET and DELETE included.
func (h *harness) callWithKey(method, path, key, secret, body string) *http.Response {
	h.t.Helper()
	return h.do(request{method: method, path: path, body: strings.NewReader(body), header: http.Header{
		"X-Vocafuse-Api-Key": {key}, "X-Vocafuse-Api-Secret": {secret}, "Content-Type": {"application/json"}}})
}

// callWithEnvKey is a call with the key from the environment.
func (h *harness) callWithEnvKey(method, path, body string) *http.Response {
	return h.callWithKey(method, path, h.creds.APIKey, h.creds.APISecret, body)
}

func (h *harness) createAPIKeyAs(name string) apiKeyAnswer {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	return decode[struct{ Data apiKeyAnswer }](h.t, h.callWithEnvKey("POST", "/v1/account/api-keys", string(body)), 201).Data
}

func (h *harness) listAPIKeysAs() []apiKeyAnswer {
	h.t.Helper()
	return decode[struct{ Data []apiKeyAnswer }](h.t, h.callWithEnvKey("GET", "/v1/account/api-keys", ""), 200).Data
}

// mintWithKey is POST /v1/tokens with HTTP Basic.
func (h *harness) mintWithKey(key, secret string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/v1/tokens", strings.NewReader(`{"identity":"user_42"}`))
	req.SetBasicAuth(key, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func manyRequests(c *api.Config) { c.RateLimit = 10000 }

// A created key works at once (webhooks, tokens), its secret is shown in the answer to
// POST only and stored nowhere in plain, the environment's key is listed first, and a
// deleted key is refused at once.
func TestAPIKeyLifecycle(t *testing.T) {
	h := newHarness(t, manyRequests)
	resp := h.callWithEnvKey("POST", "/v1/account/api-keys", `{"name":"CI server"}`)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("the answer with a secret may be cached")
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	var created struct {
		Data apiKeyAnswer
		apiKeyAnswer
	}
	json.Unmarshal(raw, &created)
	k := created.Data
	if !strings.HasPrefix(k.ID, "ak_") || k.Name != "CI server" || !strings.HasPrefix(k.APIKey, "sk_test_") ||
		len(k.APISecret) < 32 || k.CreatedAt != "2026-03-01T12:00:00Z" || k.LastUsedAt != nil {
		t.Fatalf("created: %s", raw)
	}
	if created.apiKeyAnswer.ID != k.ID || created.apiKeyAnswer.APISecret != k.APISecret {
		t.Errorf("the fields are not also at the top level (writeSingle): %s", raw)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/account/api-keys/"+k.ID {
		t.Errorf("Location %q", loc)
	}

	// It works at once, as headers and as HTTP Basic.
	h.clock.Advance(30 * time.Second)
	decode[map[string]any](t, h.callWithKey("GET", "/v1/webhooks", k.APIKey, k.APISecret, ""), 200)
	decode[map[string]any](t, h.mintWithKey(k.APIKey, k.APISecret), 201)
	expectError(t, h.callWithKey("GET", "/v1/webhooks", k.APIKey, h.creds.APISecret, ""), 401, 1001, nil)

	// Listed after the environment's key, with no secret; last_used_at is set.
	listResp := h.callWithEnvKey("GET", "/v1/account/api-keys", "")
	listRaw, _ := io.ReadAll(listResp.Body)
	if bytes.Contains(listRaw, []byte(k.APISecret)) || bytes.Contains(listRaw, []byte("api_secret")) {
		t.Errorf("a secret in the list: %s", listRaw)
	}
	var list struct{ Data []apiKeyAnswer }
	json.Unmarshal(listRaw, &list)
	if len(list.Data) != 2 || list.Data[0].ID != store.EnvAPIKeyID(h.creds.APIKey) || list.Data[0].APIKey != h.creds.APIKey ||
		list.Data[0].Name != "Default key (environment)" || list.Data[1].ID != k.ID {
		t.Fatalf("list: %s", listRaw)
	}
	if used := list.Data[1].LastUsedAt; used == nil || *used != "2026-03-01T12:00:30Z" {
		t.Errorf("last_used_at %v", used)
	}
	getResp := h.callWithEnvKey("GET", "/v1/account/api-keys/"+k.ID, "")
	getRaw, _ := io.ReadAll(getResp.Body)
	var got struct{ Data apiKeyAnswer }
	json.Unmarshal(getRaw, &got)
	if getResp.StatusCode != 200 || got.Data.ID != k.ID || bytes.Contains(getRaw, []byte("api_secret")) {
		t.Fatalf("get: %d %s", getResp.StatusCode, getRaw)
	}

	// Kept hashed: the store has the hash, no file of the data directory has the secret.
	stored, found, err := h.store.APIKey(k.ID)
	if err != nil || !found || stored.SecretHash != store.HashSecret(k.APISecret) {
		t.Fatal(stored, found, err)
	}
	filepath.WalkDir(h.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(k.APISecret)) {
				t.Errorf("the secret is in %s", path)
			}
		}
		return nil
	})

	// Deleted: refused at once, and gone.
	resp = h.callWithEnvKey("DELETE", "/v1/account/api-keys/"+k.ID, "")
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	expectError(t, h.callWithKey("GET", "/v1/webhooks", k.APIKey, k.APISecret, ""), 401, 1001, nil)
	expectError(t, h.mintWithKey(k.APIKey, k.APISecret), 401, 1001, nil)
	notFound := map[string]any{"field": "api_key_id", "value": k.ID, "reason": "no API key has this id"}
	expectError(t, h.callWithEnvKey("GET", "/v1/account/api-keys/"+k.ID, ""), 404, 2003, notFound)
	expectError(t, h.callWithEnvKey("DELETE", "/v1/account/api-keys/"+k.ID, ""), 404, 2003, notFound)
	if keys := h.listAPIKeysAs(); len(keys) != 1 {
		t.Errorf("after the delete: %v", keys)
	}
}

// A key may delete itself (204, refused from the next request on), the environment's key
// included; the account's last key cannot be deleted (409 / 2003), by itself or another.
// A deleted environment key stays refused when the server starts again with it.
func TestDeletingKeys(t *testing.T) {
	h := newHarness(t, manyRequests)
	envID := store.EnvAPIKeyID(h.creds.APIKey)
	last := func(id string) map[string]any {
		return map[string]any{"field": "api_key_id", "value": id,
			"reason": "the account's last API key cannot be deleted: create another key first"}
	}
	expectError(t, h.callWithEnvKey("DELETE", "/v1/account/api-keys/"+envID, ""), 409, 2003, last(envID))

	// A key deletes itself.
	a := h.createAPIKeyAs("a")
	if resp := h.callWithKey("DELETE", "/v1/account/api-keys/"+a.ID, a.APIKey, a.APISecret, ""); resp.StatusCode != 204 {
		t.Fatalf("self-deletion: %d", resp.StatusCode)
	}
	expectError(t, h.callWithKey("GET", "/v1/account/api-keys", a.APIKey, a.APISecret, ""), 401, 1001, nil)

	// The environment's key deletes itself, once another exists.
	b := h.createAPIKeyAs("b")
	if resp := h.callWithEnvKey("DELETE", "/v1/account/api-keys/"+envID, ""); resp.StatusCode != 204 {
		t.Fatalf("deleting the environment's key: %d", resp.StatusCode)
	}
	expectError(t, h.callWithEnvKey("GET", "/v1/account", ""), 401, 1001, nil)
	expectError(t, h.mintOverHTTP(`{"identity":"user_42"}`), 401, 1001, nil)
	// b is now the last key: it cannot delete itself.
	expectError(t, h.callWithKey("DELETE", "/v1/account/api-keys/"+b.ID, b.APIKey, b.APISecret, ""), 409, 2003, last(b.ID))
	if !strings.Contains(h.log.String(), "was deleted") {
		t.Error("no warning logged for the deleted environment key")
	}

	// A restart with the same credentials: the environment's key is still refused (and
	// the start-up says so), b still works.
	logs := &syncBuffer{}
	restarted := api.NewHandler(api.Config{Log: slogTo(logs), Pages: web.Pages(t.TempDir(), ""), Store: h.store,
		Credentials: testCreds, Now: h.clock.Now})
	call := func(key, secret string) int {
		req := httptest.NewRequest("GET", "/v1/account/api-keys", nil)
		req.Header.Set("X-VocaFuse-API-Key", key)
		req.Header.Set("X-VocaFuse-API-Secret", secret)
		w := httptest.NewRecorder()
		restarted.ServeHTTP(w, req)
		return w.Code
	}
	if got := call(h.creds.APIKey, h.creds.APISecret); got != 401 {
		t.Errorf("the deleted environment key after a restart: %d", got)
	}
	if got := call(b.APIKey, b.APISecret); got != 200 {
		t.Errorf("a created key after a restart: %d", got)
	}
	if !strings.Contains(logs.String(), "was deleted through the API") {
		t.Errorf("no start-up warning: %s", logs.String())
	}
}

// POST's name: missing → 2002, not a string of 1 to 128 characters → 2003; a browser's
// token on any account route → 1001.
func TestAPIKeyValidation(t *testing.T) {
	h := newHarness(t, manyRequests)
	reason := "must be a string of 1 to 128 characters, not only spaces"
	for body, want := range map[string]map[string]any{
		``:               {"field": "name"},
		`{}`:             {"field": "name"},
		`{"name":null}`:  {"field": "name"},
		`{"name":""}`:    {"field": "name"},
		`{"label":"x"}`:  {"field": "name"},
		`{"name":42}`:    {"field": "name", "value": 42, "reason": reason},
		`{"name":"   "}`: {"field": "name", "value": "   ", "reason": reason},
		`{"name":["a"]}`: {"field": "name", "value": []any{"a"}, "reason": reason},
		`{"name":"` + strings.Repeat("n", 129) + `"}`: {"field": "name", "value": strings.Repeat("n", 129), "reason": reason},
	} {
		code := 2003
		if len(want) == 1 {
			code = 2002
		}
		expectError(t, h.callWithEnvKey("POST", "/v1/account/api-keys", body), 400, code, want)
	}
	for _, body := range []string{`{"name":`, `[]`, `"name"`} {
		expectError(t, h.callWithEnvKey("POST", "/v1/account/api-keys", body), 400, 2001, nil)
	}
	if n := len(h.listAPIKeysAs()); n != 1 {
		t.Errorf("%d keys after refusals", n)
	}
	decode[struct{ Data apiKeyAnswer }](t, h.callWithEnvKey("POST", "/v1/account/api-keys", `{"name":"`+strings.Repeat("é", 128)+`"}`), 201)

	token := h.token("user_42")
	for _, rq := range []request{
		{method: "GET", path: "/v1/account"}, {method: "PUT", path: "/v1/account", body: strings.NewReader(`{"name":"x"}`)},
		{method: "GET", path: "/v1/account/api-keys"}, {method: "POST", path: "/v1/account/api-keys", body: strings.NewReader(`{"name":"x"}`)},
		{method: "GET", path: "/v1/account/api-keys/ak_x"}, {method: "DELETE", path: "/v1/account/api-keys/ak_x"},
	} {
		rq.token = token
		expectError(t, h.do(rq), 401, 1001, nil)
		rq.token = ""
		expectError(t, h.do(rq), 401, 1001, nil)
	}
}

// accountAnswer is the account as the tests read it.
type accountAnswer struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenant_id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Plan      string `json:"plan"`
	CreatedAt string `json:"created_at"`
	Settings  struct {
		DefaultLanguage      string  `json:"default_language"`
		WebhookURL           *string `json:"webhook_url"`
		NotificationsEnabled bool    `json:"notifications_enabled"`
	} `json:"settings"`
	Usage struct {
		VoicenotesCount int     `json:"voicenotes_count"`
		TotalDuration   float64 `json:"total_duration"`
		APICallsCount   int64   `json:"api_calls_count"`
	} `json:"usage"`
}

func (h *harness) accountOf(resp *http.Response) accountAnswer {
	h.t.Helper()
	return decode[struct{ Data accountAnswer }](h.t, resp, 200).Data
}

// GET /v1/account answers the whole account; PUT merges name and settings as VocaFuse's
// Node SDK sends them and answers the account; a bad PUT changes nothing.
func TestAccountGetAndUpdate(t *testing.T) {
	h := newHarness(t, manyRequests)
	resp := h.callWithEnvKey("GET", "/v1/account", "")
	raw, _ := io.ReadAll(resp.Body)
	var fields struct{ Data map[string]json.RawMessage }
	json.Unmarshal(raw, &fields)
	for _, f := range []string{"id", "tenant_id", "name", "email", "plan", "created_at", "settings", "usage"} {
		if _, ok := fields.Data[f]; !ok {
			t.Errorf("no %s in %s", f, raw)
		}
	}
	var first struct{ Data accountAnswer }
	json.Unmarshal(raw, &first)
	a := first.Data
	if !strings.HasPrefix(a.ID, "acc_") || !strings.HasPrefix(a.TenantID, "tenant_") || a.Plan != "local" ||
		a.CreatedAt != "2026-03-01T12:00:00Z" || a.Settings.DefaultLanguage != "en-US" || a.Settings.WebhookURL != nil ||
		!a.Settings.NotificationsEnabled || a.Name == "" {
		t.Fatalf("account: %s", raw)
	}

	b := h.accountOf(h.callWithEnvKey("PUT", "/v1/account", `{"name":"Updated Account"}`))
	if b.Name != "Updated Account" || b.ID != a.ID || b.Settings != a.Settings {
		t.Fatalf("after the name: %+v", b)
	}
	c := h.accountOf(h.callWithEnvKey("PUT", "/v1/account", `{"settings":{"default_language":"es-ES","notifications_enabled":false}}`))
	if c.Name != "Updated Account" || c.Settings.DefaultLanguage != "es-ES" || c.Settings.NotificationsEnabled {
		t.Fatalf("after the settings: %+v", c)
	}
	d := h.accountOf(h.callWithEnvKey("PUT", "/v1/account", `{"name":"Both","settings":{"webhook_url":"https://hooks.example/in"}}`))
	if d.Name != "Both" || d.Settings.WebhookURL == nil || *d.Settings.WebhookURL != "https://hooks.example/in" ||
		d.Settings.DefaultLanguage != "es-ES" {
		t.Fatalf("after both: %+v", d)
	}
	e := h.accountOf(h.callWithEnvKey("PUT", "/v1/account", `{"settings":{"webhook_url":null}}`))
	if e.Settings.WebhookURL != nil || e.Name != "Both" {
		t.Fatalf("after removing the webhook URL: %+v", e)
	}
	if f := h.accountOf(h.callWithEnvKey("PUT", "/v1/account", ``)); f.Name != "Both" {
		t.Fatalf("an empty PUT changed the account: %+v", f)
	}
	if g := h.accountOf(h.callWithEnvKey("GET", "/v1/account", "")); g.Name != "Both" || g.Settings.DefaultLanguage != "es-ES" {
		t.Fatalf("not kept: %+v", g)
	}

	for body, want := range map[string]map[string]any{
		`{"name":5}`:  {"field": "name", "value": 5, "reason": "must be a string of 1 to 128 characters, not only spaces"},
		`{"name":""}`: {"field": "name", "value": "", "reason": "must be a string of 1 to 128 characters, not only spaces"},
		`{"settings":"x"}`: {"field": "settings", "value": "x",
			"reason": "must be an object of default_language, webhook_url, notifications_enabled"},
		`{"settings":{"default_language":5}}`: {"field": "settings.default_language", "value": 5,
			"reason": "must be a language tag such as en-US"},
		`{"settings":{"default_language":"english please"}}`: {"field": "settings.default_language",
			"value": "english please", "reason": "must be a language tag such as en-US"},
		`{"settings":{"webhook_url":"ftp://hooks.example/in"}}`: {"field": "settings.webhook_url",
			"value": "ftp://hooks.example/in", "reason": "must be an http or https URL, or null for none"},
		`{"settings":{"notifications_enabled":"yes"}}`: {"field": "settings.notifications_enabled", "value": "yes",
			"reason": "must be true or false"},
		`{"settings":{"theme":"dark"}}`: {"field": "settings.theme", "value": "dark",
			"reason": "unknown setting: one of default_language, webhook_url, notifications_enabled"},
		`{"plan":"pro"}`:  {"field": "plan", "value": "pro", "reason": "is set by the server and cannot be changed"},
		`{"nmae":"typo"}`: {"field": "nmae", "value": "typo", "reason": "unknown field: the account takes name and settings"},
		// Checked whole before anything changes: the name is not taken either.
		`{"name":"Half","settings":{"notifications_enabled":1}}`: {"field": "settings.notifications_enabled", "value": 1,
			"reason": "must be true or false"},
	} {
		expectError(t, h.callWithEnvKey("PUT", "/v1/account", body), 400, 2003, want)
	}
	expectError(t, h.callWithEnvKey("PUT", "/v1/account", `{"name":`), 400, 2001, nil)
	expectError(t, h.callWithEnvKey("PUT", "/v1/account", `["name"]`), 400, 2001, nil)
	if g := h.accountOf(h.callWithEnvKey("GET", "/v1/account", "")); g.Name != "Both" || g.Settings.DefaultLanguage != "es-ES" ||
		g.Settings.NotificationsEnabled {
		t.Fatalf("a refused PUT changed the account: %+v", g)
	}
}

// usage counts the voice notes and their seconds from the store, and the calls made with
// an API key, which are written to the store (on account reads, and at most once a minute).
func TestAccountUsage(t *testing.T) {
	h := newHarness(t, manyRequests)
	u := h.accountOf(h.callWithEnvKey("GET", "/v1/account", ""))
	if u.Usage.VoicenotesCount != 0 || u.Usage.TotalDuration != 0 || u.Usage.APICallsCount != 1 {
		t.Fatalf("a new account's usage: %+v", u.Usage)
	}
	token := h.token("user_42")
	decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1.5, 440), "audio/wav"), 201)
	decode[voiceNote](t, h.put("0190a0c0-1111-7000-8000-000000000002", h.token("user_7"), makeWAV(8000, 2, 440), "audio/wav"), 201)
	h.callWithEnvKey("GET", "/v1/webhooks", "")
	h.mintOverHTTP(`{"identity":"user_42"}`)
	expectError(t, h.callWithKey("GET", "/v1/webhooks", h.creds.APIKey, "wrong", ""), 401, 1001, nil) // not counted
	u = h.accountOf(h.callWithEnvKey("GET", "/v1/account", ""))
	if u.Usage.VoicenotesCount != 2 || math.Abs(u.Usage.TotalDuration-3.5) > 0.01 || u.Usage.APICallsCount != 4 {
		t.Fatalf("usage: %+v", u.Usage)
	}
	// Written with the account read.
	if a, err := h.store.Account(nil); err != nil || a.APICalls != 4 {
		t.Fatalf("api calls in the store: %d %v", a.APICalls, err)
	}
	// In between, at most once a minute.
	h.callWithEnvKey("GET", "/v1/webhooks", "")
	if a, _ := h.store.Account(nil); a.APICalls != 4 {
		t.Errorf("written before the minute was over: %d", a.APICalls)
	}
	h.clock.Advance(time.Minute)
	h.callWithEnvKey("GET", "/v1/webhooks", "")
	if a, _ := h.store.Account(nil); a.APICalls != 6 {
		t.Errorf("not written after a minute: %d", a.APICalls)
	}
	envKey, _, _ := h.store.APIKey(store.EnvAPIKeyID(h.creds.APIKey))
	if !envKey.LastUsedAt.Equal(h.clock.Now()) {
		t.Errorf("last_used_at in the store: %v", envKey.LastUsedAt)
	}
}

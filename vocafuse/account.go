package vocafuse

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Account is the account the API key belongs to (GET /v1/account).
type Account struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"tenant_id"`
	Name      string          `json:"name"`
	Email     string          `json:"email"`
	Plan      string          `json:"plan"`
	CreatedAt time.Time       `json:"created_at"`
	Settings  AccountSettings `json:"settings"`
	Usage     AccountUsage    `json:"usage"`
}

// AccountSettings are the account's settings.
type AccountSettings struct {
	DefaultLanguage      string `json:"default_language"` // "en-US", …
	WebhookURL           string `json:"webhook_url"`
	NotificationsEnabled bool   `json:"notifications_enabled"`
}

// AccountUsage is what the account has used.
type AccountUsage struct {
	VoiceNotesCount int     `json:"voicenotes_count"`
	TotalDuration   float64 `json:"total_duration"` // seconds of audio
	APICallsCount   int     `json:"api_calls_count"`
}

// AccountUpdate is what Update changes: only the fields that are set, the others are
// kept (the API merges what it is given).
type AccountUpdate struct {
	Name     string // "" keeps the name
	Settings AccountSettingsUpdate
}

// AccountSettingsUpdate are the settings Update changes; a nil field is kept.
type AccountSettingsUpdate struct {
	DefaultLanguage      *string
	WebhookURL           *string
	NotificationsEnabled *bool
}

func (u AccountUpdate) body() map[string]any {
	b := map[string]any{}
	if u.Name != "" {
		b["name"] = u.Name
	}
	settings := map[string]any{}
	if u.Settings.DefaultLanguage != nil {
		settings["default_language"] = *u.Settings.DefaultLanguage
	}
	if u.Settings.WebhookURL != nil {
		settings["webhook_url"] = *u.Settings.WebhookURL
	}
	if u.Settings.NotificationsEnabled != nil {
		settings["notifications_enabled"] = *u.Settings.NotificationsEnabled
	}
	if len(settings) > 0 {
		b["settings"] = settings
	}
	return b
}

// AccountService reads and updates the account, with the API key and secret. Get it
// from Client.Account.
type AccountService struct{ c *Client }

// Get returns the account (GET /v1/account), its settings and its usage.
func (a *AccountService) Get(ctx context.Context) (*Account, error) {
	var acc Account
	if _, err := a.c.do(ctx, call{method: http.MethodGet, path: "/v1/account", repeatable: true}, &inData{&acc}); err != nil {
		return nil, err
	}
	return &acc, nil
}

// Update changes the account's name and settings (PUT /v1/account) and returns the
// account as it is now. What u leaves unset is kept.
//
//	acc, err := client.Account.Update(ctx, vocafuse.AccountUpdate{
//		Name:     "My Company",
//		Settings: vocafuse.AccountSettingsUpdate{DefaultLanguage: new("en-US")},
//	})
func (a *AccountService) Update(ctx context.Context, u AccountUpdate) (*Account, error) {
	var acc Account
	if _, err := a.c.do(ctx, call{method: http.MethodPut, path: "/v1/account", body: u.body(), repeatable: true}, &inData{&acc}); err != nil {
		return nil, err
	}
	return &acc, nil
}

// APIKey is one of the account's API keys.
type APIKey struct {
	ID   string `json:"id"` // "ak_…"
	Name string `json:"name"`
	// Key is the key itself (sk_test_… or sk_live_…), which NewClient takes.
	Key string `json:"api_key"`
	// Secret is the key's secret: only in the answer to Create, never again. Keep it.
	Secret     string     `json:"api_secret,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // nil when it was never used
}

// APIKeyParams are what Create makes a key with.
type APIKeyParams struct {
	Name string // what the key is for ("Production Key")
}

// APIKeys manages the account's API keys, with the API key and secret. Get it from
// Client.APIKeys. A new key works at once, a deleted one is refused (1001) at once.
type APIKeys struct{ c *Client }

func apiKeyPath(id string) string { return "/v1/account/api-keys/" + url.PathEscape(id) }

// List returns the account's API keys (GET /v1/account/api-keys), without secrets.
func (k *APIKeys) List(ctx context.Context) ([]*APIKey, error) {
	var page struct {
		Data []*APIKey `json:"data"`
	}
	if _, err := k.c.do(ctx, call{method: http.MethodGet, path: "/v1/account/api-keys", repeatable: true}, &page); err != nil {
		return nil, err
	}
	return page.Data, nil
}

// Create makes a new API key (POST /v1/account/api-keys). Its Secret is in this answer
// only: keep it. Create is not retried after a failure that may have reached the
// server, since a second key could be made.
func (k *APIKeys) Create(ctx context.Context, p APIKeyParams) (*APIKey, error) {
	var key APIKey
	if _, err := k.c.do(ctx, call{method: http.MethodPost, path: "/v1/account/api-keys",
		body: map[string]any{"name": p.Name}}, &inData{&key}); err != nil {
		return nil, err
	}
	return &key, nil
}

// Get returns an API key (GET /v1/account/api-keys/{id}), without its secret.
func (k *APIKeys) Get(ctx context.Context, id string) (*APIKey, error) {
	var key APIKey
	if _, err := k.c.do(ctx, call{method: http.MethodGet, path: apiKeyPath(id), repeatable: true}, &inData{&key}); err != nil {
		return nil, err
	}
	return &key, nil
}

// Delete removes an API key (DELETE /v1/account/api-keys/{id}); from then on it is
// refused. A client deleting the key it calls with gets its answer, then 1001.
func (k *APIKeys) Delete(ctx context.Context, id string) error {
	_, err := k.c.do(ctx, call{method: http.MethodDelete, path: apiKeyPath(id), repeatable: true}, nil)
	return err
}

package api

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vocafuse/recorder/demo/store"
)

// The account (docs/api.md, "The account and its keys"), in the shapes of VocaFuse's Node
// SDK (its account resource): GET /v1/account and PUT /v1/account, which merges what it is
// given ({ name, settings }) and answers the account.

const maxAccountRequest = 16 << 10

// accountResource is the account as the API shows it.
type accountResource struct {
	ID        string           `json:"id"`
	TenantID  string           `json:"tenant_id"`
	Name      string           `json:"name"`
	Email     string           `json:"email"`
	Plan      string           `json:"plan"`
	CreatedAt string           `json:"created_at"`
	Settings  settingsResource `json:"settings"`
	Usage     usageResource    `json:"usage"`
}

type settingsResource struct {
	DefaultLanguage      string  `json:"default_language"`
	WebhookURL           *string `json:"webhook_url"` // null: none
	NotificationsEnabled bool    `json:"notifications_enabled"`
}

type usageResource struct {
	VoicenotesCount int     `json:"voicenotes_count"`
	TotalDuration   float64 `json:"total_duration"` // seconds
	APICallsCount   int64   `json:"api_calls_count"`
}

// newAccount is the account as the server's first start makes it.
func (k *apiKeys) newAccount() store.Account {
	return store.Account{ID: store.NewAccountID(), TenantID: store.NewTenantID(), Name: "Local VocaFuse account",
		Email: "", Plan: "local", CreatedAt: k.now().UTC(),
		Settings: store.AccountSettings{DefaultLanguage: "en-US", NotificationsEnabled: true}}
}

// accountFields are what PUT takes; the others are the server's.
var (
	accountFields    = []string{"name", "settings"}
	readOnlyFields   = []string{"id", "tenant_id", "email", "plan", "created_at", "usage"}
	accountSettings  = []string{"default_language", "webhook_url", "notifications_enabled"}
	languageTag      = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
	maxLanguageTag   = 35
	nameReason       = "must be a string of 1 to 128 characters, not only spaces"
	languageReason   = "must be a language tag such as en-US"
	webhookURLReason = "must be an http or https URL, or null for none"
)

// accountOf renders the account with its usage: the voice notes and their seconds from
// the store, the API calls written and those not yet written.
func (s *Server) accountOf(a store.Account) (accountResource, error) {
	count, seconds, err := s.store.Usage()
	if err != nil {
		return accountResource{}, err
	}
	res := accountResource{ID: a.ID, TenantID: a.TenantID, Name: a.Name, Email: a.Email, Plan: a.Plan,
		CreatedAt: a.CreatedAt.UTC().Format(time.RFC3339),
		Settings: settingsResource{DefaultLanguage: a.Settings.DefaultLanguage,
			NotificationsEnabled: a.Settings.NotificationsEnabled},
		Usage: usageResource{VoicenotesCount: count, TotalDuration: math.Round(seconds*1000) / 1000,
			APICallsCount: a.APICalls + s.keys.pendingCalls()}}
	if a.Settings.WebhookURL != "" {
		u := a.Settings.WebhookURL
		res.Settings.WebhookURL = &u
	}
	return res, nil
}

// getAccount is GET /v1/account.
func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	_ = s.keys.flush() // a failure is logged, and the calls are counted still
	a, err := s.store.Account(s.keys.newAccount)
	if err != nil {
		s.internal(w, r, "get account", err)
		return
	}
	s.writeAccount(w, r, a)
}

func (s *Server) writeAccount(w http.ResponseWriter, r *http.Request, a store.Account) {
	res, err := s.accountOf(a)
	if err != nil {
		s.internal(w, r, "account usage", err)
		return
	}
	writeSingle(w, http.StatusOK, res)
}

// accountChange is a PUT's body, read and checked whole before anything changes.
type accountChange struct {
	name                 *string
	defaultLanguage      *string
	webhookURL           *string // "": remove
	notificationsEnabled *bool
}

// readAccountChange reads { name, settings: { default_language, webhook_url,
// notifications_enabled } } in the reference's terms: not a JSON object → 2001; a wrong
// type or value, an unknown or read-only field, an unknown setting → 2003 with the value
// as sent (a setting is named "settings.<name>"). null leaves a field as it is, except
// webhook_url, where null (or "") removes it.
func readAccountChange(w http.ResponseWriter, r *http.Request) (c accountChange, apiErr *apiError) {
	fields, apiErr := readFields(w, r, maxAccountRequest)
	if apiErr != nil {
		return c, apiErr
	}
	for _, f := range sortedKeys(fields) {
		switch {
		case slices.Contains(accountFields, f):
		case slices.Contains(readOnlyFields, f):
			return c, invalidField(f, fields[f], "is set by the server and cannot be changed")
		default:
			return c, invalidField(f, fields[f], "unknown field: the account takes "+strings.Join(accountFields, " and "))
		}
	}
	if raw, ok := present(fields, "name"); ok {
		name, apiErr := readName(raw)
		if apiErr != nil {
			return c, apiErr
		}
		c.name = &name
	}
	raw, ok := present(fields, "settings")
	if !ok {
		return c, nil
	}
	var settings map[string]json.RawMessage
	if json.Unmarshal(raw, &settings) != nil || settings == nil {
		return c, invalidField("settings", raw, "must be an object of "+strings.Join(accountSettings, ", "))
	}
	for _, f := range sortedKeys(settings) {
		raw := settings[f]
		field := "settings." + f
		switch f {
		case "default_language":
			if string(raw) == "null" {
				continue
			}
			var tag string
			if json.Unmarshal(raw, &tag) != nil || len(tag) > maxLanguageTag || !languageTag.MatchString(tag) {
				return c, invalidField(field, raw, languageReason)
			}
			c.defaultLanguage = &tag
		case "webhook_url":
			var u string
			if string(raw) != "null" {
				if json.Unmarshal(raw, &u) != nil || (u != "" && !validWebhookURL(u)) {
					return c, invalidField(field, raw, webhookURLReason)
				}
			}
			c.webhookURL = &u
		case "notifications_enabled":
			if string(raw) == "null" {
				continue
			}
			var on bool
			if json.Unmarshal(raw, &on) != nil {
				return c, invalidField(field, raw, "must be true or false")
			}
			c.notificationsEnabled = &on
		default:
			return c, invalidField(field, raw, "unknown setting: one of "+strings.Join(accountSettings, ", "))
		}
	}
	return c, nil
}

// readName reads a name (of the account or of a key): a string of 1 to 128 characters,
// not only spaces, without control characters.
func readName(raw json.RawMessage) (string, *apiError) {
	var name string
	if json.Unmarshal(raw, &name) != nil || !validIdentity(name) {
		return "", invalidField("name", raw, nameReason)
	}
	return name, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// updateAccount is PUT /v1/account: merges the name and the settings given, answers the
// account.
func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request) {
	c, apiErr := readAccountChange(w, r)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	_ = s.keys.flush()
	if _, err := s.store.Account(s.keys.newAccount); err != nil {
		s.internal(w, r, "get account", err)
		return
	}
	a, _, err := s.store.UpdateAccount(func(a *store.Account) {
		if c.name != nil {
			a.Name = *c.name
		}
		if c.defaultLanguage != nil {
			a.Settings.DefaultLanguage = *c.defaultLanguage
		}
		if c.webhookURL != nil {
			a.Settings.WebhookURL = *c.webhookURL
		}
		if c.notificationsEnabled != nil {
			a.Settings.NotificationsEnabled = *c.notificationsEnabled
		}
	})
	if err != nil {
		s.internal(w, r, "update account", err)
		return
	}
	s.writeAccount(w, r, a)
}

package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vocafuse/recorder/demo/internal/random"
)

// The local server has one account: the one record under "account" in its bucket, made
// the first time it is asked for (at the server's first start), with the defaults the API
// layer gives. Its usage is counted from the voice notes themselves (Usage), except the
// API calls, which the API layer counts and adds now and then (RecordAPIKeyUse).
var (
	accountBucket = []byte("account")
	accountKey    = "account"
)

// Account is the account's record.
type Account struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"tenant_id"`
	Name      string          `json:"name"`
	Email     string          `json:"email"`
	Plan      string          `json:"plan"`
	CreatedAt time.Time       `json:"created_at"`
	Settings  AccountSettings `json:"settings"`
	APICalls  int64           `json:"api_calls_count"`
}

// AccountSettings are the account's settings.
type AccountSettings struct {
	DefaultLanguage      string `json:"default_language"`
	WebhookURL           string `json:"webhook_url"` // "": none
	NotificationsEnabled bool   `json:"notifications_enabled"`
}

// NewAccountID and NewTenantID make the ids of the account, once.
func NewAccountID() string { return "acc_" + random.Hex(12) }
func NewTenantID() string  { return "tenant_" + random.Hex(12) }

func getAccount(tx *bolt.Tx) (a Account, found bool, err error) {
	b := tx.Bucket(accountBucket)
	if b == nil {
		return a, false, nil
	}
	raw := b.Get([]byte(accountKey))
	if raw == nil {
		return a, false, nil
	}
	return a, true, json.Unmarshal(raw, &a)
}

// Account returns the account, storing first (only where there is none yet) the one
// that init makes.
func (s *Store) Account(init func() Account) (a Account, err error) {
	var found bool
	err = s.db.View(func(tx *bolt.Tx) error {
		a, found, err = getAccount(tx)
		return err
	})
	if err != nil || found {
		return a, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		a, found, err = getAccount(tx)
		if err != nil || found {
			return err
		}
		a = init()
		return putJSON(tx, accountBucket, accountKey, a)
	})
	return a, err
}

// UpdateAccount changes the account through change; found is false when there is no
// account yet (Account makes it).
func (s *Store) UpdateAccount(change func(*Account)) (a Account, found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		a, found, err = getAccount(tx)
		if err != nil || !found {
			return err
		}
		change(&a)
		return putJSON(tx, accountBucket, accountKey, a)
	})
	return a, found, err
}

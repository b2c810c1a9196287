package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vocafuse/recorder/demo/internal/random"
)

// Webhooks and their deliveries live in the same database as the voice notes, so that
// an event is recorded in the very transaction that creates or deletes its voice note:
// a voice note that exists has had its voicenote.created deliveries recorded, and
// they stay until delivered or given up, across restarts (at least once). How the
// deliveries are kept, and bounded, is deliveries.go.
//
// The buckets are made the first time they are written to, so a data directory from
// before webhooks opens as it is.
var webhooksBucket = []byte("webhooks") // id → Webhook JSON

// MaxWebhooks is how many webhooks the account may have: each one multiplies every
// event's deliveries.
const MaxWebhooks = 100

// ErrTooManyWebhooks is CreateWebhook's answer when the account has MaxWebhooks already.
var ErrTooManyWebhooks = errors.New("store: the account has the most webhooks it may have")

// ErrWebhookURLTaken is the answer when another webhook already has the URL.
var ErrWebhookURLTaken = errors.New("store: a webhook already has this URL")

// Webhook is a URL events are posted to.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Wants reports whether the webhook is to get event.
func (w Webhook) Wants(event string) bool { return w.Active && slices.Contains(w.Events, event) }

// Delivery is one event on its way to one webhook. Its ID is the X-VocaFuse-Delivery-ID,
// the same on every attempt.
type Delivery struct {
	ID        string `json:"id"`
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	// EventKey names the event's body in the events bucket, stored once for all the
	// webhooks it goes to; a given-up delivery no longer holds it.
	EventKey string `json:"event_key,omitempty"`
	// Body is the event, exactly as it is sent and signed: filled in by the readers
	// (PendingDeliveries, Claim), never stored in the record (only data directories from
	// before the events bucket had it there; they are moved at the first write).
	Body        json.RawMessage `json:"body,omitempty"`
	Attempts    int             `json:"attempts"` // attempts begun, counted when claimed
	NextAttempt time.Time       `json:"next_attempt"`
	CreatedAt   time.Time       `json:"created_at"`
	LastError   string          `json:"last_error,omitempty"`
	Failed      bool            `json:"failed,omitempty"` // given up: kept a while for inspection, never tried again
	GivenUpAt   time.Time       `json:"given_up_at,omitzero"`
}

// An EventFunc renders the event of a voice note that a Commit creates or a Delete
// removes: its name ("voicenote.created") and its body, which becomes one delivery per
// webhook that wants it, in the same transaction.
type EventFunc func(n VoiceNote) (event string, body []byte, err error)

// NewWebhookID makes a webhook id: "wh_" and 24 hex digits.
func NewWebhookID() string { return "wh_" + random.Hex(12) }

// newDeliveryID makes a delivery id that sorts by creation time.
func newDeliveryID(now time.Time) string {
	return "dlv_" + leftPad(strconv.FormatInt(now.UnixNano(), 16), 16) + random.Hex(6)
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) error {
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

func allWebhooks(tx *bolt.Tx) ([]Webhook, error) {
	var out []Webhook
	b := tx.Bucket(webhooksBucket)
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(_, raw []byte) error {
		var w Webhook
		if err := json.Unmarshal(raw, &w); err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	slices.SortFunc(out, func(a, b Webhook) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return out, err
}

func urlTaken(hooks []Webhook, url, except string) bool {
	for _, w := range hooks {
		if w.URL == url && w.ID != except {
			return true
		}
	}
	return false
}

// CreateWebhook stores a new webhook; ErrWebhookURLTaken when its URL is another's,
// ErrTooManyWebhooks when the account has MaxWebhooks.
func (s *Store) CreateWebhook(w Webhook) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		hooks, err := allWebhooks(tx)
		if err != nil {
			return err
		}
		if urlTaken(hooks, w.URL, "") {
			return ErrWebhookURLTaken
		}
		if len(hooks) >= MaxWebhooks {
			return ErrTooManyWebhooks
		}
		return putJSON(tx, webhooksBucket, w.ID, w)
	})
}

// Webhook returns the webhook with that id.
func (s *Store) Webhook(id string) (w Webhook, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		found, err = getJSON(tx, webhooksBucket, id, &w)
		return err
	})
	return w, found, err
}

// getJSON reads the record under key into v; found is false where there is none (or
// no bucket yet: buckets are made by their first write).
func getJSON(tx *bolt.Tx, bucket []byte, key string, v any) (found bool, err error) {
	b := tx.Bucket(bucket)
	if b == nil {
		return false, nil
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// Webhooks returns every webhook, oldest first.
func (s *Store) Webhooks() (hooks []Webhook, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		hooks, err = allWebhooks(tx)
		return err
	})
	return hooks, err
}

// UpdateWebhook changes the webhook with that id through change; ErrWebhookURLTaken
// when its new URL is another's.
func (s *Store) UpdateWebhook(id string, change func(*Webhook)) (w Webhook, found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		hooks, err := allWebhooks(tx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(hooks, func(w Webhook) bool { return w.ID == id })
		if i < 0 {
			return nil
		}
		found, w = true, hooks[i]
		change(&w)
		if urlTaken(hooks, w.URL, id) {
			return ErrWebhookURLTaken
		}
		return putJSON(tx, webhooksBucket, id, w)
	})
	return w, found, err
}

// DeleteWebhook removes the webhook with that id and its deliveries, pending and given up.
func (s *Store) DeleteWebhook(id string) (found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(webhooksBucket)
		if b == nil || b.Get([]byte(id)) == nil {
			return nil
		}
		found = true
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		q, err := openQueue(tx)
		if err != nil {
			return err
		}
		return q.forgetWebhook(id)
	})
	return found, err
}

package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Webhook deliveries, kept so that the database stays bounded however many events a
// dead or hanging receiver leaves behind, and so that finding what is due reads only
// what is due:
//
//   - an event's body is stored once, under the hash of its bytes, however many webhooks
//     it goes to; each pending delivery holds a reference, and the body goes with the last;
//   - each webhook's pending deliveries are at most DeliveryLimits.PendingPerWebhook, all
//     of them at most PendingTotal: past either, the oldest pending delivery of the
//     webhook (of the one with the most, for the total) is given up, as newer events
//     matter more to a receiver that comes back;
//   - a given-up delivery keeps its record without the body, at most KeepGivenUp of them
//     per webhook, each for GivenUpRetention;
//   - the due index is keyed by webhook, next attempt and delivery id, so the soonest
//     delivery of each webhook is one seek;
//   - an attempt is claimed in a transaction that checks the delivery is as the
//     dispatcher read it (its attempts and next attempt), and counted there, so no stale
//     reading sends a delivery twice, and an attempt cut by a crash still counts.
//
// Every key of the per-webhook buckets starts with the webhook id and a 0 byte.
var (
	pendingBucket      = []byte("webhook_pending")       // webhook, 0, delivery id → Delivery JSON
	dueBucket          = []byte("webhook_due")           // webhook, 0, next attempt (8 bytes), delivery id → nothing
	givenUpBucket      = []byte("webhook_given_up")      // webhook, 0, given up at (8 bytes), delivery id → Delivery JSON
	eventsBucket       = []byte("webhook_events")        // event key → the body
	eventRefsBucket    = []byte("webhook_event_refs")    // event key → pending deliveries of it (uint32)
	pendingCountBucket = []byte("webhook_pending_count") // webhook → its pending deliveries (uint32)
	// Data directories from before: id → Delivery JSON with its body, pending and given
	// up alike. Moved into the buckets above at the first write (openQueue).
	legacyDeliveriesBucket = []byte("webhook_deliveries")
)

// DeliveryLimits bound what the store keeps of webhook deliveries; zero fields take
// the defaults.
type DeliveryLimits struct {
	PendingPerWebhook int           // pending deliveries of one webhook (100)
	PendingTotal      int           // pending deliveries of all webhooks (2,000)
	KeepGivenUp       int           // given-up deliveries kept per webhook, without their bodies (10)
	GivenUpRetention  time.Duration // how long a given-up delivery is kept (7 days)
}

// The default limits: with the largest event (16 KB of metadata), a dead webhook keeps at
// most 1.6 MB of bodies, all of them 32 MB.
var DefaultDeliveryLimits = DeliveryLimits{PendingPerWebhook: 100, PendingTotal: 2000, KeepGivenUp: 10,
	GivenUpRetention: 7 * 24 * time.Hour}

func (l DeliveryLimits) orDefaults() DeliveryLimits {
	d := DefaultDeliveryLimits
	if l.PendingPerWebhook > 0 {
		d.PendingPerWebhook = l.PendingPerWebhook
	}
	if l.PendingTotal > 0 {
		d.PendingTotal = l.PendingTotal
	}
	if l.KeepGivenUp > 0 {
		d.KeepGivenUp = l.KeepGivenUp
	}
	if l.GivenUpRetention > 0 {
		d.GivenUpRetention = l.GivenUpRetention
	}
	return d
}

// DeliveryConfig is how the store keeps deliveries (ConfigureDeliveries).
type DeliveryConfig struct {
	Limits DeliveryLimits
	// GivenUp is told of each delivery given up, once, after the transaction that gave
	// it up commits (by its attempts, or by a limit when an event is recorded).
	GivenUp func(Delivery)
}

// deliveryConfigs holds each open database's DeliveryConfig. Events are recorded inside
// the voice notes' own transactions (recordEvents gets the transaction, not the Store),
// so the settings are found from the transaction's database.
var deliveryConfigs sync.Map // *bolt.DB → DeliveryConfig

// ConfigureDeliveries sets the limits and the give-up report; until then (as in tests
// that never call it) the defaults hold and nothing is reported.
func (s *Store) ConfigureDeliveries(c DeliveryConfig) {
	c.Limits = c.Limits.orDefaults()
	deliveryConfigs.Store(s.db, c)
}

func deliveryConfigOf(db *bolt.DB) DeliveryConfig {
	if c, ok := deliveryConfigs.Load(db); ok {
		return c.(DeliveryConfig)
	}
	return DeliveryConfig{Limits: DefaultDeliveryLimits}
}

// InitDeliveries moves the deliveries of a data directory from before into the bounded
// buckets (a no-op once done). The dispatcher calls it before it reads what is due.
func (s *Store) InitDeliveries() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := openQueue(tx)
		return err
	})
}

// eventKey names a body in the events bucket: the same bytes are stored once.
func eventKey(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func webhookPrefix(webhookID string) []byte { return append([]byte(webhookID), 0) }

func pendingKey(webhookID, deliveryID string) []byte {
	return append(webhookPrefix(webhookID), deliveryID...)
}

// timedKey is a key of the due and given-up buckets: the webhook, the time, the delivery.
func timedKey(webhookID string, at time.Time, deliveryID string) []byte {
	nanos := max(at.UnixNano(), 0)
	k := binary.BigEndian.AppendUint64(webhookPrefix(webhookID), uint64(nanos))
	return append(k, deliveryID...)
}

// parseTimedKey reads a timedKey back.
func parseTimedKey(k []byte) (webhookID string, at time.Time, deliveryID string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+8 {
		return "", time.Time{}, "", false
	}
	nanos := binary.BigEndian.Uint64(k[i+1 : i+9])
	return string(k[:i]), time.Unix(0, int64(nanos)), string(k[i+9:]), true
}

func getUint32(b *bolt.Bucket, key []byte) int {
	if v := b.Get(key); len(v) == 4 {
		return int(binary.BigEndian.Uint32(v))
	}
	return 0
}

func putUint32(b *bolt.Bucket, key []byte, n int) error {
	if n <= 0 {
		return b.Delete(key)
	}
	return b.Put(key, binary.BigEndian.AppendUint32(nil, uint32(n)))
}

// queue is the deliveries' buckets inside one writable transaction.
type queue struct {
	tx                                          *bolt.Tx
	pending, due, givenUp, events, refs, counts *bolt.Bucket
	cfg                                         DeliveryConfig
	total                                       int // pending deliveries in all; -1 until counted
	gaveUp                                      []Delivery
}

// openQueue opens the deliveries' buckets in tx (making them where needed), moves the
// deliveries of a data directory from before into them, and arranges for the
// deliveries it gives up to be reported once tx commits.
func openQueue(tx *bolt.Tx) (*queue, error) {
	q := &queue{tx: tx, cfg: deliveryConfigOf(tx.DB()), total: -1}
	for _, b := range []struct {
		ptr  **bolt.Bucket
		name []byte
	}{{&q.pending, pendingBucket}, {&q.due, dueBucket}, {&q.givenUp, givenUpBucket},
		{&q.events, eventsBucket}, {&q.refs, eventRefsBucket}, {&q.counts, pendingCountBucket}} {
		var err error
		if *b.ptr, err = tx.CreateBucketIfNotExists(b.name); err != nil {
			return nil, err
		}
	}
	if report := q.cfg.GivenUp; report != nil {
		tx.OnCommit(func() {
			for _, d := range q.gaveUp {
				report(d)
			}
		})
	}
	if err := q.migrate(); err != nil {
		return nil, fmt.Errorf("move the webhook deliveries of an earlier version: %w", err)
	}
	return q, nil
}

// migrate moves the deliveries of the one bucket of before (each with its body) into the
// bounded buckets, oldest first and under the same limits as new ones.
func (q *queue) migrate() error {
	legacy := q.tx.Bucket(legacyDeliveriesBucket)
	if legacy == nil {
		return nil
	}
	err := legacy.ForEach(func(_, raw []byte) error {
		var d Delivery
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if d.Failed {
			d.GivenUpAt = d.NextAttempt // the last attempt's time is the best known
			return q.keepGivenUp(d)
		}
		body := slices.Clone(d.Body)
		return q.add(d, body)
	})
	if err != nil {
		return err
	}
	return q.tx.DeleteBucket(legacyDeliveriesBucket)
}

// add records a new pending delivery of body, making room under the limits first.
func (q *queue) add(d Delivery, body []byte) error {
	if err := q.makeRoom(d.WebhookID); err != nil {
		return err
	}
	d.EventKey = eventKey(body)
	if err := q.ref(d.EventKey, body); err != nil {
		return err
	}
	if err := q.putPending(d); err != nil {
		return err
	}
	if err := q.due.Put(timedKey(d.WebhookID, d.NextAttempt, d.ID), nil); err != nil {
		return err
	}
	q.total = q.countTotal() + 1
	return putUint32(q.counts, []byte(d.WebhookID), getUint32(q.counts, []byte(d.WebhookID))+1)
}

// makeRoom gives up the oldest pending delivery of webhookID when it has as many as
// it may, and the oldest of the webhook with the most when all of them are as many
// as there may be.
func (q *queue) makeRoom(webhookID string) error {
	l := q.cfg.Limits
	if n := getUint32(q.counts, []byte(webhookID)); n >= l.PendingPerWebhook {
		reason := fmt.Sprintf("given up: the webhook had %d pending deliveries, the most kept for one webhook", n)
		if err := q.giveUpOldest(webhookID, reason); err != nil {
			return err
		}
	}
	if n := q.countTotal(); n >= l.PendingTotal {
		reason := fmt.Sprintf("given up: %d deliveries were pending, the most kept for all webhooks, the most of them for this one", n)
		if err := q.giveUpOldest(q.busiest(), reason); err != nil {
			return err
		}
	}
	return nil
}

func (q *queue) countTotal() int {
	if q.total < 0 {
		q.total = 0
		_ = q.counts.ForEach(func(_, v []byte) error {
			if len(v) == 4 {
				q.total += int(binary.BigEndian.Uint32(v))
			}
			return nil
		})
	}
	return q.total
}

// busiest is the webhook with the most pending deliveries.
func (q *queue) busiest() (webhookID string) {
	most := 0
	_ = q.counts.ForEach(func(k, v []byte) error {
		if len(v) == 4 && int(binary.BigEndian.Uint32(v)) > most {
			most, webhookID = int(binary.BigEndian.Uint32(v)), string(k)
		}
		return nil
	})
	return webhookID
}

func (q *queue) giveUpOldest(webhookID, reason string) error {
	prefix := webhookPrefix(webhookID)
	k, raw := q.pending.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil
	}
	var d Delivery
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	if d.LastError != "" {
		reason += " (last error: " + d.LastError + ")"
	}
	d.LastError = reason
	return q.giveUp(d)
}

func (q *queue) putPending(d Delivery) error {
	d.Body = nil
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return q.pending.Put(pendingKey(d.WebhookID, d.ID), raw)
}

// get reads a pending delivery; found false when it is not pending.
func (q *queue) get(webhookID, deliveryID string) (d Delivery, found bool, err error) {
	raw := q.pending.Get(pendingKey(webhookID, deliveryID))
	if raw == nil {
		return d, false, nil
	}
	return d, true, json.Unmarshal(raw, &d)
}

// reschedule moves a pending delivery to its new state (attempts, next attempt, error).
func (q *queue) reschedule(old, d Delivery) error {
	if err := q.due.Delete(timedKey(old.WebhookID, old.NextAttempt, old.ID)); err != nil {
		return err
	}
	if err := q.due.Put(timedKey(d.WebhookID, d.NextAttempt, d.ID), nil); err != nil {
		return err
	}
	return q.putPending(d)
}

// remove forgets a pending delivery: delivered, or its webhook gone.
func (q *queue) remove(d Delivery) error {
	if err := q.pending.Delete(pendingKey(d.WebhookID, d.ID)); err != nil {
		return err
	}
	if err := q.due.Delete(timedKey(d.WebhookID, d.NextAttempt, d.ID)); err != nil {
		return err
	}
	if q.total > 0 {
		q.total--
	}
	if err := putUint32(q.counts, []byte(d.WebhookID), getUint32(q.counts, []byte(d.WebhookID))-1); err != nil {
		return err
	}
	return q.unref(d.EventKey)
}

// giveUp moves a pending delivery to the given-up ones, without its body, with
// d.LastError saying why.
func (q *queue) giveUp(d Delivery) error {
	if err := q.remove(d); err != nil {
		return err
	}
	d.GivenUpAt = time.Now()
	if err := q.keepGivenUp(d); err != nil {
		return err
	}
	d.Failed, d.EventKey, d.Body = true, "", nil
	q.gaveUp = append(q.gaveUp, d)
	return nil
}

// keepGivenUp stores a given-up delivery's record (no body), and forgets the oldest of
// its webhook's beyond KeepGivenUp.
func (q *queue) keepGivenUp(d Delivery) error {
	d.Failed, d.EventKey, d.Body = true, "", nil
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := q.givenUp.Put(timedKey(d.WebhookID, d.GivenUpAt, d.ID), raw); err != nil {
		return err
	}
	prefix := webhookPrefix(d.WebhookID)
	var keys [][]byte
	c := q.givenUp.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, slices.Clone(k))
	}
	for _, k := range keys[:max(0, len(keys)-q.cfg.Limits.KeepGivenUp)] {
		if err := q.givenUp.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ref counts one more delivery of the body under key, storing it with the first.
func (q *queue) ref(key string, body []byte) error {
	n := getUint32(q.refs, []byte(key))
	if n == 0 {
		if err := q.events.Put([]byte(key), body); err != nil {
			return err
		}
	}
	return putUint32(q.refs, []byte(key), n+1)
}

// unref counts one delivery less of the body under key, removing it with the last.
func (q *queue) unref(key string) error {
	if key == "" {
		return nil
	}
	n := getUint32(q.refs, []byte(key)) - 1
	if n <= 0 {
		if err := q.events.Delete([]byte(key)); err != nil {
			return err
		}
	}
	return putUint32(q.refs, []byte(key), n)
}

// forgetWebhook removes every delivery of a webhook, pending and given up.
func (q *queue) forgetWebhook(webhookID string) error {
	prefix := webhookPrefix(webhookID)
	var doomed []Delivery
	c := q.pending.Cursor()
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
		var d Delivery
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		doomed = append(doomed, d)
	}
	for _, d := range doomed {
		if err := q.remove(d); err != nil {
			return err
		}
	}
	return deleteKeysWithPrefix(q.givenUp, prefix)
}

func deleteKeysWithPrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, slices.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// recordEvents writes the deliveries of events for n, inside tx: each event's body once,
// a delivery of it for each webhook that wants it.
func recordEvents(tx *bolt.Tx, n VoiceNote, events []EventFunc) error {
	if len(events) == 0 {
		return nil
	}
	hooks, err := allWebhooks(tx)
	if err != nil || len(hooks) == 0 {
		return err
	}
	q, err := openQueue(tx)
	if err != nil {
		return err
	}
	for _, render := range events {
		name, body, err := render(n)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			if !w.Wants(name) {
				continue
			}
			now := time.Now()
			d := Delivery{ID: newDeliveryID(now), WebhookID: w.ID, Event: name, NextAttempt: now, CreatedAt: now}
			if err := q.add(d, body); err != nil {
				return err
			}
		}
	}
	return nil
}

// DueDeliveries answers, for each webhook that ready accepts, its delivery due soonest
// if it is due by now, soonest first; and when the earliest of the others falls due
// (zero when none). It reads one key per webhook with pending deliveries, and the
// records of those it answers.
func (s *Store) DueDeliveries(now time.Time, ready func(webhookID string) bool) (due []Delivery, next time.Time, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		dueKeys, pending := tx.Bucket(dueBucket), tx.Bucket(pendingBucket)
		if dueKeys == nil || pending == nil {
			return nil
		}
		c := dueKeys.Cursor()
		for k, _ := c.First(); k != nil; {
			webhookID, at, deliveryID, ok := parseTimedKey(k)
			if !ok {
				return fmt.Errorf("store: a malformed key in %s: %q", dueBucket, k)
			}
			if ready(webhookID) {
				if at.After(now) {
					if next.IsZero() || at.Before(next) {
						next = at
					}
				} else if raw := pending.Get(pendingKey(webhookID, deliveryID)); raw != nil {
					var d Delivery
					if err := json.Unmarshal(raw, &d); err != nil {
						return err
					}
					due = append(due, d)
				}
			}
			k, _ = c.Seek(append([]byte(webhookID), 1)) // the next webhook's soonest
		}
		return nil
	})
	slices.SortFunc(due, func(a, b Delivery) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return due, next, err
}

// ClaimRules say how Claim counts an attempt.
type ClaimRules struct {
	Now         time.Time
	MaxAttempts int // a delivery that has had them all is given up instead of claimed
	// RetryAt is when a delivery whose attempt number n never reports back (the process
	// died during it) is due again.
	RetryAt func(n int) time.Time
}

// Attempt is a delivery claimed for one attempt, with its body and its webhook as they
// are now (the URL and secret of the time of the attempt).
type Attempt struct {
	Delivery Delivery // Attempts counts this one; NextAttempt is as claimed, for RecordAttempt
	Webhook  Webhook
}

// Claim starts an attempt of each delivery in seen that is still exactly as read (the
// same attempts and next attempt, still pending, due), in one transaction: the attempt is
// counted there, before anything is sent. A delivery whose webhook is gone or inactive is
// dropped; one that has had its MaxAttempts is given up. Those not claimed are left out.
func (s *Store) Claim(seen []Delivery, rules ClaimRules) (claimed []Attempt, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		claimed = claimed[:0]
		q, err := openQueue(tx)
		if err != nil {
			return err
		}
		hooks := tx.Bucket(webhooksBucket)
		for _, want := range seen {
			d, found, err := q.get(want.WebhookID, want.ID)
			if err != nil {
				return err
			}
			if !found || d.Attempts != want.Attempts || !d.NextAttempt.Equal(want.NextAttempt) || d.NextAttempt.After(rules.Now) {
				continue // another reading's, or changed since read
			}
			var hook Webhook
			raw := []byte(nil)
			if hooks != nil {
				raw = hooks.Get([]byte(d.WebhookID))
			}
			if raw == nil || json.Unmarshal(raw, &hook) != nil || !hook.Active {
				if err := q.remove(d); err != nil {
					return err
				}
				continue
			}
			if d.Attempts >= rules.MaxAttempts {
				d.LastError = fmt.Sprintf("given up after %d attempts: %s", d.Attempts, d.LastError)
				if err := q.giveUp(d); err != nil {
					return err
				}
				continue
			}
			old := d
			d.Attempts++
			d.NextAttempt = rules.RetryAt(d.Attempts)
			if err := q.reschedule(old, d); err != nil {
				return err
			}
			d.Body = slices.Clone(q.events.Get([]byte(d.EventKey)))
			claimed = append(claimed, Attempt{Delivery: d, Webhook: hook})
		}
		return nil
	})
	return claimed, err
}

// Outcome is how a claimed attempt ended.
type Outcome struct {
	Delivered bool      // a 2xx: the delivery is forgotten
	GiveUp    bool      // failed, and the last attempt: the delivery is given up
	Error     string    // why it failed, kept as last_error
	RetryAt   time.Time // failed, not the last: when it is due again
}

// RecordAttempt records how the attempt of a claimed delivery ended, if the delivery is
// still exactly as claimed (applied false otherwise: deleted with its webhook, say).
func (s *Store) RecordAttempt(claimed Delivery, out Outcome) (applied bool, err error) {
	err = s.db.Batch(func(tx *bolt.Tx) error {
		applied = false
		q, err := openQueue(tx)
		if err != nil {
			return err
		}
		d, found, err := q.get(claimed.WebhookID, claimed.ID)
		if err != nil || !found || d.Attempts != claimed.Attempts || !d.NextAttempt.Equal(claimed.NextAttempt) {
			return err
		}
		applied = true
		switch {
		case out.Delivered:
			return q.remove(d)
		case out.GiveUp:
			d.LastError = out.Error
			return q.giveUp(d)
		default:
			old := d
			d.LastError, d.NextAttempt = out.Error, out.RetryAt
			return q.reschedule(old, d)
		}
	})
	return applied, err
}

// PruneGivenUp forgets the given-up deliveries given up before the retention period.
func (s *Store) PruneGivenUp(now time.Time) (removed int, err error) {
	cutoff := now.Add(-deliveryConfigOf(s.db).Limits.GivenUpRetention)
	err = s.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		b := tx.Bucket(givenUpBucket)
		if b == nil {
			return nil
		}
		var doomed [][]byte
		_ = b.ForEach(func(k, _ []byte) error {
			if _, at, _, ok := parseTimedKey(k); ok && at.Before(cutoff) {
				doomed = append(doomed, slices.Clone(k))
			}
			return nil
		})
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		removed = len(doomed)
		return nil
	})
	return removed, err
}

// PendingDeliveries returns every delivery not yet delivered nor given up, with its
// body, oldest first. For tests and inspection: the dispatcher reads DueDeliveries.
func (s *Store) PendingDeliveries() (out []Delivery, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(eventsBucket)
		if err := eachDelivery(tx.Bucket(pendingBucket), func(d Delivery) {
			if events != nil {
				d.Body = slices.Clone(events.Get([]byte(d.EventKey)))
			}
			out = append(out, d)
		}); err != nil {
			return err
		}
		return eachDelivery(tx.Bucket(legacyDeliveriesBucket), func(d Delivery) {
			if !d.Failed {
				out = append(out, d)
			}
		})
	})
	slices.SortFunc(out, func(a, b Delivery) int { return bytes.Compare([]byte(a.ID), []byte(b.ID)) })
	return out, err
}

// GivenUpDeliveries returns the given-up deliveries still kept (without bodies), oldest
// first. For tests and inspection.
func (s *Store) GivenUpDeliveries() (out []Delivery, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if err := eachDelivery(tx.Bucket(givenUpBucket), func(d Delivery) { out = append(out, d) }); err != nil {
			return err
		}
		return eachDelivery(tx.Bucket(legacyDeliveriesBucket), func(d Delivery) {
			if d.Failed {
				out = append(out, d)
			}
		})
	})
	slices.SortFunc(out, func(a, b Delivery) int { return bytes.Compare([]byte(a.ID), []byte(b.ID)) })
	return out, err
}

// DeliveryCounts is what the store holds of deliveries: pending, given up, and event
// bodies (each stored once).
func (s *Store) DeliveryCounts() (pending, givenUp, bodies int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		count := func(name []byte) int {
			if b := tx.Bucket(name); b != nil {
				return b.Stats().KeyN
			}
			return 0
		}
		pending, givenUp, bodies = count(pendingBucket), count(givenUpBucket), count(eventsBucket)
		return nil
	})
	return pending, givenUp, bodies, err
}

func eachDelivery(b *bolt.Bucket, fn func(Delivery)) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(_, raw []byte) error {
		var d Delivery
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		fn(d)
		return nil
	})
}

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A voice note's events are recorded with its commit and its deletion, in the same
// transaction, and a deletion that fails (issue 13: the audio moved aside is put back)
// records none.
func TestEventsGoWithTheTransaction(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	if err := s.CreateWebhook(Webhook{ID: NewWebhookID(), URL: "http://hooks.example/in", Active: true,
		Events: []string{"voicenote.created", "voicenote.deleted"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	event := func(name string) EventFunc {
		return func(n VoiceNote) (string, []byte, error) { return name, []byte(`{"id":"` + n.ID + `"}`), nil }
	}
	pending := func() []string {
		t.Helper()
		ds, err := s.PendingDeliveries()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range ds {
			names = append(names, d.Event)
		}
		return names
	}
	alice := OwnerOf("alice")
	u, err := s.NewUpload()
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("audio"))
	if _, created, err := s.Commit(u, VoiceNote{ID: id(1), Owner: alice, Identity: "alice", Format: "wav", CreatedAt: time.Now()},
		event("voicenote.created")); err != nil || !created {
		t.Fatal(created, err)
	}
	if got := pending(); len(got) != 1 || got[0] != "voicenote.created" {
		t.Fatalf("after the commit: %v", got)
	}

	boom := errors.New("disk says no")
	deleteRecordHook = func() error { return boom }
	found, err := s.Delete(alice, id(1), event("voicenote.deleted"))
	deleteRecordHook = func() error { return nil }
	if !found || !errors.Is(err, boom) {
		t.Fatal(found, err)
	}
	if got := pending(); len(got) != 1 {
		t.Fatalf("a failed delete recorded an event: %v", got)
	}
	renameFile = func(string, string) error { return boom }
	_, err = s.Delete(alice, id(1), event("voicenote.deleted"))
	renameFile = os.Rename
	if !errors.Is(err, boom) || len(pending()) != 1 {
		t.Fatalf("a delete whose audio could not move: %v %v", err, pending())
	}

	if found, err := s.Delete(alice, id(1), event("voicenote.deleted")); !found || err != nil {
		t.Fatal(found, err)
	}
	if got := pending(); len(got) != 2 || got[1] != "voicenote.deleted" {
		t.Fatalf("after the delete: %v", got)
	}
}

// deliveryRig is a store with webhooks and a way to record events without voice notes.
type deliveryRig struct {
	t       *testing.T
	s       *Store
	givenUp []Delivery // as reported, after each commit
}

func newDeliveryRig(t *testing.T, limits DeliveryLimits) *deliveryRig {
	s, _ := openStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	r := &deliveryRig{t: t, s: s}
	s.ConfigureDeliveries(DeliveryConfig{Limits: limits, GivenUp: func(d Delivery) { r.givenUp = append(r.givenUp, d) }})
	return r
}

func (r *deliveryRig) hook(events ...string) string {
	r.t.Helper()
	id := NewWebhookID()
	if err := r.s.CreateWebhook(Webhook{ID: id, URL: "http://hooks.example/" + id, Active: true, Events: events,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// event records one event for every webhook that wants it, in one transaction.
func (r *deliveryRig) event(name, body string) {
	r.t.Helper()
	err := r.s.db.Update(func(tx *bolt.Tx) error {
		return recordEvents(tx, VoiceNote{ID: "n"}, []EventFunc{func(VoiceNote) (string, []byte, error) {
			return name, []byte(body), nil
		}})
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *deliveryRig) counts() (pending, givenUp, bodies int) {
	r.t.Helper()
	p, g, b, err := r.s.DeliveryCounts()
	if err != nil {
		r.t.Fatal(err)
	}
	return p, g, b
}

func (r *deliveryRig) due(ready func(string) bool) ([]Delivery, time.Time) {
	r.t.Helper()
	if ready == nil {
		ready = func(string) bool { return true }
	}
	ds, next, err := r.s.DueDeliveries(time.Now(), ready)
	if err != nil {
		r.t.Fatal(err)
	}
	return ds, next
}

func rules(max int) ClaimRules {
	return ClaimRules{Now: time.Now(), MaxAttempts: max, RetryAt: func(int) time.Time { return time.Now().Add(time.Hour) }}
}

// One event to three webhooks is one body; it goes with the last delivery of it.
func TestEventBodyStoredOnce(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{})
	for range 3 {
		r.hook("voicenote.created")
	}
	body := `{"id":"evt_1","metadata":"` + strings.Repeat("x", 16<<10) + `"}`
	r.event("voicenote.created", body)
	if p, _, b := r.counts(); p != 3 || b != 1 {
		t.Fatalf("pending %d, bodies %d; want 3 deliveries of 1 body", p, b)
	}
	due, _ := r.due(nil)
	claimed, err := r.s.Claim(due, rules(8))
	if err != nil || len(claimed) != 3 {
		t.Fatal(len(claimed), err)
	}
	for i, a := range claimed {
		if string(a.Delivery.Body) != body || a.Delivery.Attempts != 1 {
			t.Fatalf("claimed %d: attempts %d, body %.40q", i, a.Delivery.Attempts, a.Delivery.Body)
		}
		if ok, err := r.s.RecordAttempt(a.Delivery, Outcome{Delivered: true}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, _, b := r.counts(); (i < 2) != (b == 1) {
			t.Fatalf("after %d of 3 delivered: %d bodies", i+1, b)
		}
	}
}

// A dead webhook keeps at most PendingPerWebhook deliveries (the oldest go) and
// KeepGivenUp given-up ones, without their bodies; each give-up is reported once.
func TestPendingBoundedPerWebhook(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{PendingPerWebhook: 5, KeepGivenUp: 2})
	dead := r.hook("voicenote.created")
	for i := range 8 {
		r.event("voicenote.created", fmt.Sprintf(`{"n":%d}`, i))
	}
	p, g, b := r.counts()
	if p != 5 || g != 2 || b != 5 {
		t.Fatalf("pending %d, given up %d, bodies %d; want 5, 2, 5", p, g, b)
	}
	if len(r.givenUp) != 3 {
		t.Fatalf("%d give-ups reported, want 3", len(r.givenUp))
	}
	pending, _ := r.s.PendingDeliveries()
	if string(pending[0].Body) != `{"n":3}` {
		t.Fatalf("the oldest kept is %s; want the oldest given up first", pending[0].Body)
	}
	kept, _ := r.s.GivenUpDeliveries()
	for _, d := range kept {
		if !d.Failed || d.Body != nil || d.EventKey != "" || d.WebhookID != dead ||
			!strings.Contains(d.LastError, "5 pending deliveries") {
			t.Fatalf("given up: %+v", d)
		}
	}
}

// Past PendingTotal, the webhook with the most pending deliveries gives up its oldest.
func TestPendingBoundedInTotal(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{PendingPerWebhook: 100, PendingTotal: 6})
	busy := r.hook("voicenote.created")
	quiet := r.hook("voicenote.deleted")
	for i := range 5 {
		r.event("voicenote.created", fmt.Sprintf(`{"n":%d}`, i))
	}
	r.event("voicenote.deleted", `{"d":0}`)
	r.event("voicenote.deleted", `{"d":1}`)
	if p, _, _ := r.counts(); p != 6 || len(r.givenUp) != 1 || r.givenUp[0].WebhookID != busy {
		t.Fatalf("pending %d, given up %+v", p, r.givenUp)
	}
	pending, _ := r.s.PendingDeliveries()
	n := 0
	for _, d := range pending {
		if d.WebhookID == quiet {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("the quiet webhook has %d pending, want both", n)
	}
}

// A wake reads the soonest delivery of each ready webhook, only when it is due.
func TestDueDeliveriesOnePerReadyWebhook(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{})
	a, b := r.hook("voicenote.created"), r.hook("voicenote.created")
	r.event("voicenote.created", `{"n":1}`)
	r.event("voicenote.created", `{"n":2}`)
	due, _ := r.due(nil)
	if len(due) != 2 || due[0].WebhookID == due[1].WebhookID {
		t.Fatalf("due: %+v", due)
	}
	due, _ = r.due(func(id string) bool { return id != a })
	if len(due) != 1 || due[0].WebhookID != b || string(due[0].Event) != "voicenote.created" {
		t.Fatalf("due with %s busy: %+v", a, due)
	}
	claimed, _ := r.s.Claim(due, rules(8))
	retry := time.Now().Add(time.Minute).Round(0)
	if ok, _ := r.s.RecordAttempt(claimed[0].Delivery, Outcome{Error: "HTTP 500", RetryAt: retry}); !ok {
		t.Fatal("not recorded")
	}
	due, next := r.due(func(id string) bool { return id == b })
	if len(due) != 1 || due[0].ID == claimed[0].Delivery.ID || !next.IsZero() {
		t.Fatalf("after a failure, b's other delivery is due: %+v, next %v", due, next)
	}
	if _, err := r.s.Claim(due, rules(8)); err != nil {
		t.Fatal(err)
	}
	due, next = r.due(func(id string) bool { return id == b })
	if len(due) != 0 || !next.Equal(retry) {
		t.Fatalf("nothing due until %v: %+v, next %v", retry, due, next)
	}
}

// An attempt is claimed against the delivery as it was read: a stale reading claims
// nothing, records nothing; the last attempt's failure gives it up, once, for good.
func TestClaimIsCompareAndSet(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{})
	r.hook("voicenote.created")
	r.event("voicenote.created", `{"n":1}`)
	stale, _ := r.due(nil)
	first, err := r.s.Claim(stale, rules(2))
	if err != nil || len(first) != 1 {
		t.Fatal(first, err)
	}
	if again, _ := r.s.Claim(stale, rules(2)); len(again) != 0 {
		t.Fatalf("a stale reading claimed it again: %+v", again)
	}
	now := time.Now()
	if ok, _ := r.s.RecordAttempt(first[0].Delivery, Outcome{Error: "HTTP 500", RetryAt: now}); !ok {
		t.Fatal("first attempt not recorded")
	}
	if ok, _ := r.s.RecordAttempt(first[0].Delivery, Outcome{Error: "HTTP 500", RetryAt: now}); ok {
		t.Fatal("one attempt recorded twice")
	}
	due, _ := r.due(nil)
	second, _ := r.s.Claim(due, rules(2))
	if len(second) != 1 || second[0].Delivery.Attempts != 2 {
		t.Fatalf("second claim: %+v", second)
	}
	if ok, _ := r.s.RecordAttempt(second[0].Delivery, Outcome{GiveUp: true, Error: "given up after 2 attempts: HTTP 500"}); !ok {
		t.Fatal("give-up not recorded")
	}
	for _, try := range []func() bool{
		func() bool {
			ok, _ := r.s.RecordAttempt(second[0].Delivery, Outcome{Error: "late", RetryAt: now})
			return ok
		},
		func() bool { c, _ := r.s.Claim(due, rules(2)); return len(c) > 0 },
		func() bool { d, _ := r.due(nil); return len(d) > 0 },
	} {
		if try() {
			t.Fatal("a given-up delivery came back")
		}
	}
	if p, g, b := r.counts(); p != 0 || g != 1 || b != 0 || len(r.givenUp) != 1 {
		t.Fatalf("pending %d, given up %d (reported %d), bodies %d", p, g, len(r.givenUp), b)
	}
}

// A delivery whose attempts ran out without reporting (the process died during the last
// one) is given up when next due, not sent again.
func TestClaimGivesUpAfterTheLastAttempt(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{})
	r.hook("voicenote.created")
	r.event("voicenote.created", `{"n":1}`)
	due, _ := r.due(nil)
	crash := rules(1)
	crash.RetryAt = func(int) time.Time { return time.Now() }
	if c, _ := r.s.Claim(due, crash); len(c) != 1 {
		t.Fatal("not claimed")
	}
	due, _ = r.due(nil)
	if c, _ := r.s.Claim(due, rules(1)); len(c) != 0 || len(r.givenUp) != 1 {
		t.Fatalf("claimed past its attempts: %+v, given up %+v", c, r.givenUp)
	}
}

func TestDeleteWebhookForgetsItsDeliveries(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{PendingPerWebhook: 2})
	gone, kept := r.hook("voicenote.created"), r.hook("voicenote.deleted")
	for i := range 3 {
		r.event("voicenote.created", fmt.Sprintf(`{"n":%d}`, i))
	}
	r.event("voicenote.deleted", `{"d":1}`)
	if found, err := r.s.DeleteWebhook(gone); !found || err != nil {
		t.Fatal(found, err)
	}
	p, g, b := r.counts()
	if p != 1 || g != 0 || b != 1 {
		t.Fatalf("pending %d, given up %d, bodies %d after deleting %s", p, g, b, gone)
	}
	if due, _ := r.due(nil); len(due) != 1 || due[0].WebhookID != kept {
		t.Fatalf("due: %+v", due)
	}
}

func TestGivenUpPrunedAfterRetention(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{PendingPerWebhook: 1, GivenUpRetention: time.Hour})
	r.hook("voicenote.created")
	r.event("voicenote.created", `{"n":1}`)
	r.event("voicenote.created", `{"n":2}`)
	if n, _ := r.s.PruneGivenUp(time.Now()); n != 0 {
		t.Fatalf("pruned %d within the retention", n)
	}
	if n, _ := r.s.PruneGivenUp(time.Now().Add(2 * time.Hour)); n != 1 {
		t.Fatalf("pruned %d after it, want 1", n)
	}
}

func TestWebhooksPerAccountCapped(t *testing.T) {
	r := newDeliveryRig(t, DeliveryLimits{})
	for range MaxWebhooks {
		r.hook("voicenote.created")
	}
	err := r.s.CreateWebhook(Webhook{ID: NewWebhookID(), URL: "http://hooks.example/one-more", Active: true})
	if !errors.Is(err, ErrTooManyWebhooks) {
		t.Fatalf("webhook %d: %v", MaxWebhooks+1, err)
	}
}

// A data directory from before keeps each delivery with its body in one bucket: they are
// moved at the first write, pending ones due as they were, given-up ones kept without
// their bodies, and a body sent to two webhooks stored once.
func TestLegacyDeliveriesMoved(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	a, b := NewWebhookID(), NewWebhookID()
	for _, id := range []string{a, b} {
		if err := s.CreateWebhook(Webhook{ID: id, URL: "http://hooks.example/" + id, Active: true,
			Events: []string{"voicenote.created"}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Round(0)
	legacy := []Delivery{
		{ID: newDeliveryID(now), WebhookID: a, Event: "voicenote.created", Body: json.RawMessage(`{"n":1}`), NextAttempt: now, CreatedAt: now},
		{ID: newDeliveryID(now.Add(1)), WebhookID: b, Event: "voicenote.created", Body: json.RawMessage(`{"n":1}`), Attempts: 2, NextAttempt: now, CreatedAt: now},
		{ID: newDeliveryID(now.Add(2)), WebhookID: b, Event: "voicenote.created", Body: json.RawMessage(`{"n":0}`), Attempts: 8, Failed: true, NextAttempt: now, CreatedAt: now},
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, d := range legacy {
			if err := putJSON(tx, legacyDeliveriesBucket, d.ID, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = openStore(t, dir)
	defer s.Close()
	if err := s.InitDeliveries(); err != nil {
		t.Fatal(err)
	}
	r := &deliveryRig{t: t, s: s}
	if p, g, bodies := r.counts(); p != 2 || g != 1 || bodies != 1 {
		t.Fatalf("pending %d, given up %d, bodies %d", p, g, bodies)
	}
	due, _ := r.due(nil)
	claimed, _ := s.Claim(due, rules(8))
	if len(claimed) != 2 || string(claimed[0].Delivery.Body) != `{"n":1}` || claimed[1].Delivery.Attempts != 3 {
		t.Fatalf("claimed: %+v", claimed)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(legacyDeliveriesBucket) != nil {
			t.Error("the old bucket is still there")
		}
		return nil
	})
}

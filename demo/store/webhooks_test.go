package store

import (
	"errors"
	"os"
	"testing"
	"time"
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

package store

import (
	"encoding/json"
	"strings"
	"testing"
)

// StoredBytes sums one owner's voice notes and no one else's, and follows deletions.
func TestStoredBytes(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice, bob := OwnerOf("alice"), OwnerOf("bob")
	for i, data := range []string{"12345", "1234567890"} {
		if _, _, err := commit(t, s, alice, id(i+1), data); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := commit(t, s, bob, id(3), strings.Repeat("x", 100)); err != nil {
		t.Fatal(err)
	}
	want := map[Owner]int64{alice: 15, bob: 100, OwnerOf("carol"): 0}
	for owner, n := range want {
		if got, err := s.StoredBytes(owner); err != nil || got != n {
			t.Errorf("%s: %d, %v; want %d", owner, got, err, n)
		}
	}
	if _, err := s.Delete(alice, id(2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.StoredBytes(alice); got != 5 {
		t.Errorf("after a delete: %d, want 5", got)
	}
}

// recordSize reads the size wherever it stands, and past metadata without decoding it
// into values.
func TestRecordSize(t *testing.T) {
	raw, _ := json.Marshal(VoiceNote{ID: "x", Size: 1234, Metadata: json.RawMessage(`{"deep":[1,{"size":9}]}`)})
	for _, c := range []struct {
		raw  string
		want int64
	}{
		{string(raw), 1234},
		{`{"metadata":{"size":9},"size":77}`, 77},
		{`{"id":"x"}`, 0},
	} {
		if got, err := recordSize([]byte(c.raw)); err != nil || got != c.want {
			t.Errorf("%s: %d, %v; want %d", c.raw, got, err, c.want)
		}
	}
	if _, err := recordSize([]byte(`[1]`)); err == nil {
		t.Error("an array was read as a record")
	}
}

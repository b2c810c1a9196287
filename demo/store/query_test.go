package store

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func ids(page []VoiceNote) []string {
	var out []string
	for _, n := range page {
		out = append(out, n.ID)
	}
	return out
}

// The account's view across identities: Find by id alone, Page over every owner with
// offsets, totals and filters, and the indexes follow deletions.
func TestAccountViewAcrossOwners(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice, bob := OwnerOf("alice"), OwnerOf("bob")
	for i, o := range []Owner{alice, bob, alice, bob, alice} {
		if _, _, err := commit(t, s, o, id(i), fmt.Sprint("audio ", i)); err != nil {
			t.Fatal(err)
		}
	}
	page, total, more, err := s.Page(Filter{}, 1, 3)
	if err != nil || total != 5 || !more || fmt.Sprint(ids(page)) != fmt.Sprint([]string{id(3), id(2), id(1)}) {
		t.Errorf("Page(all, 1, 3) = %v, %d, %v, %v", ids(page), total, more, err)
	}
	page, total, more, _ = s.Page(Filter{Owner: bob}, 0, 5)
	if total != 2 || more || fmt.Sprint(ids(page)) != fmt.Sprint([]string{id(3), id(1)}) {
		t.Errorf("Page(bob) = %v, %d, %v", ids(page), total, more)
	}
	if page, total, _, _ = s.Page(Filter{Status: StatusTranscribed}, 0, 5); total != 0 || len(page) != 0 {
		t.Errorf("no note is transcribed yet: %v", ids(page))
	}
	if n, found, err := s.Find(id(3)); err != nil || !found || n.Owner != bob {
		t.Errorf("Find(%s) = %+v, %v, %v", id(3), n, found, err)
	}
	if found, err := s.Delete(bob, id(3)); err != nil || !found {
		t.Fatal(err)
	}
	if _, found, _ := s.Find(id(3)); found {
		t.Error("a deleted note is still found")
	}
	if _, total, _, _ := s.Page(Filter{}, 0, 10); total != 4 {
		t.Errorf("total %d after a deletion, want 4", total)
	}
	// An id two identities used: the older one is found.
	if _, _, err := commit(t, s, bob, id(0), "bob's own"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Find(id(0)); n.Owner != alice {
		t.Errorf("Find of a shared id gave %s's", n.Owner)
	}
}

// A data directory written before the account-wide indexes existed gets them at open.
func TestOpenIndexesAnOlderDataDirectory(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	for i := range 3 {
		if _, _, err := commit(t, s, OwnerOf("carol"), id(i), fmt.Sprint("audio ", i)); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(seqBucket); err != nil {
			return err
		}
		return tx.DeleteBucket(idBucket)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = openStore(t, dir)
	defer s.Close()
	page, total, _, err := s.Page(Filter{}, 0, 10)
	if err != nil || total != 3 || fmt.Sprint(ids(page)) != fmt.Sprint([]string{id(2), id(1), id(0)}) {
		t.Errorf("after reopening: %v, %d, %v", ids(page), total, err)
	}
	if _, found, _ := s.Find(id(1)); !found {
		t.Error("Find after reopening")
	}
}

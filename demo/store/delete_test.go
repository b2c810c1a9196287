package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// upload commits data as voice note id of owner, for use off the test's goroutine.
func upload(s *Store, owner Owner, id, data string) (VoiceNote, bool, error) {
	u, err := s.NewUpload()
	if err != nil {
		return VoiceNote{}, false, err
	}
	if _, err := u.Write([]byte(data)); err != nil {
		u.Discard()
		return VoiceNote{}, false, err
	}
	return s.Commit(u, VoiceNote{ID: id, Owner: owner, Identity: "someone", Format: "wav", CreatedAt: time.Now()})
}

// checkWhole fails t unless the indexes name exactly the records (each record once,
// under its own Seq, and nothing else), every record's audio is its bytes, and no
// deletion is left under way in tmp/.
func checkWhole(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		want, got := map[string]bool{}, map[string]bool{}
		err := tx.Bucket(notesBucket).ForEach(func(_, raw []byte) error {
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			want[fmt.Sprintf("by_owner %x → %s", orderKey(n.Owner, n.Seq), n.ID)] = true
			want[fmt.Sprintf("by_seq %x → %s", seqKey(n.Seq), noteKey(n.Owner, n.ID))] = true
			want[fmt.Sprintf("by_id %s → %x", idKey(n.ID, n.Owner), seqKey(n.Seq))] = true
			audio, err := os.ReadFile(s.audioPath(n.Owner, n.ID))
			if sum := sha256.Sum256(audio); err != nil || hex.EncodeToString(sum[:]) != n.SHA256 {
				t.Errorf("the audio of %s (seq %d) is not its own: %v", n.ID, n.Seq, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range []struct {
			name   string
			bucket []byte
			format string
		}{{"by_owner", orderBucket, "%s %x → %s"}, {"by_seq", seqBucket, "%s %x → %s"}, {"by_id", idBucket, "%s %s → %x"}} {
			tx.Bucket(b.bucket).ForEach(func(k, v []byte) error {
				got[fmt.Sprintf(b.format, b.name, k, v)] = true
				return nil
			})
		}
		for k := range got {
			if !want[k] {
				t.Errorf("dangling index entry: %s", k)
			}
		}
		for k := range want {
			if !got[k] {
				t.Errorf("missing index entry: %s", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.tmpDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), deletePrefix) {
			t.Errorf("a deletion left %s", e.Name())
		}
	}
}

// racerWindow is how long the racing requests are given to get in while a deletion
// moves its audio aside: they must not (the deletion holds the write transaction), so
// in a passing run the whole window is waited out.
const racerWindow = 300 * time.Millisecond

// Issue 24, point 6: DELETE, DELETE and PUT on one id. The second DELETE is held just
// as it moves the audio aside, while the first DELETE and a PUT of new bytes under the
// same id are let run. Before the fix the second DELETE had read the old note outside
// its transaction: it moved the NEW note's audio aside, deleted the new record and the
// old order key, and left the new note's order key dangling.
func TestDeleteDeletePutOnOneID(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice := OwnerOf("alice")
	if _, _, err := upload(s, alice, id(1), "the old audio"); err != nil {
		t.Fatal(err)
	}
	var held atomic.Bool
	var firstFound, created bool
	var firstErr, putErr error
	racersDone := make(chan struct{})
	renameFile = func(from, to string) error {
		if held.CompareAndSwap(false, true) {
			go func() {
				defer close(racersDone)
				firstFound, firstErr = s.Delete(alice, id(1))
				_, created, putErr = upload(s, alice, id(1), "the new audio")
			}()
			select {
			case <-racersDone:
			case <-time.After(racerWindow):
			}
		}
		return os.Rename(from, to)
	}
	defer func() { renameFile = os.Rename }()

	secondFound, secondErr := s.Delete(alice, id(1))
	<-racersDone
	if firstErr != nil || secondErr != nil || putErr != nil || !created {
		t.Fatalf("first DELETE %v, second DELETE %v, PUT created %v %v", firstErr, secondErr, created, putErr)
	}
	n, stillThere, err := s.Get(alice, id(1))
	if err != nil {
		t.Fatal(err)
	}
	// Whatever order they took, two deletions found a note only if the PUT's came
	// before one of them.
	deletions := 0
	for _, found := range []bool{firstFound, secondFound} {
		if found {
			deletions++
		}
	}
	if want := 1 + map[bool]int{true: 0, false: 1}[stillThere]; deletions != want {
		t.Errorf("%d deletions found a note, the new note there: %v", deletions, stillThere)
	}
	if stillThere && n.Size != int64(len("the new audio")) {
		t.Errorf("the note left is %+v", n)
	}
	checkWhole(t, s)
	if page, _, err := s.List(alice, 10, 0); err != nil || len(page) != map[bool]int{true: 1, false: 0}[stillThere] {
		t.Errorf("List: %d notes, %v", len(page), err)
	}
}

// The same three, unheld, many times over: the store stays whole whatever the order.
func TestDeletesAndPutsOnOneIDStayWhole(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice := OwnerOf("alice")
	for round := range 100 {
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for _, op := range []func() error{
			func() error { _, err := s.Delete(alice, id(1)); return err },
			func() error { _, err := s.Delete(alice, id(1)); return err },
			func() error {
				_, _, err := upload(s, alice, id(1), fmt.Sprint("audio of round ", round))
				if errors.Is(err, ErrConflict) {
					return nil // the previous round's note was still there
				}
				return err
			},
		} {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- op() }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	checkWhole(t, s)
}

// Issue 24, point 6: the keys such a race left behind are mended at start-up, and
// List is not thrown by them meanwhile.
func TestRepairMendsDanglingKeys(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	alice := OwnerOf("alice")
	kept, _, _ := upload(s, alice, id(1), "kept")
	gone, _, _ := upload(s, alice, id(2), "its record vanishes")
	replaced, _, _ := upload(s, alice, id(3), "replaced")
	// What the race left: a record deleted without its by_owner and by_seq entries; an
	// order key of an earlier note under an id that now holds another; a record whose
	// by_id entry went with another note's deletion; a transcript of no note.
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(notesBucket).Delete(noteKey(alice, gone.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(idBucket).Delete(idKey(gone.ID, alice)); err != nil {
			return err
		}
		if err := tx.Bucket(orderBucket).Put(orderKey(alice, 99), []byte(replaced.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(idBucket).Delete(idKey(kept.ID, alice)); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(transcriptsBucket)
		if err != nil {
			return err
		}
		return b.Put(noteKey(alice, gone.ID), []byte(`{"text":"orphan"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(s.audioPath(alice, gone.ID))
	page, _, err := s.List(alice, 10, 0)
	if err != nil || len(page) != 2 || page[0].ID != replaced.ID || page[1].ID != kept.ID {
		t.Errorf("List before the repair: %v, %v", page, err)
	}
	s, r := openStore2(t, dir, s)
	wantDangling := []string{
		fmt.Sprintf("by_owner/%s/%d", alice, 99),
		fmt.Sprintf("by_owner/%s/%d", alice, gone.Seq),
		fmt.Sprintf("by_seq/%d", gone.Seq),
		"transcriptions/" + string(noteKey(alice, gone.ID)),
	}
	slices.Sort(wantDangling)
	slices.Sort(r.DanglingKeys)
	if !slices.Equal(r.DanglingKeys, wantDangling) || !slices.Equal(r.MissingKeys, []string{"by_id/" + string(idKey(kept.ID, alice))}) {
		t.Errorf("repair: dangling %v, missing %v", r.DanglingKeys, r.MissingKeys)
	}
	checkWhole(t, s)
	if n, found, err := s.Find(kept.ID); !found || err != nil || n.Seq != kept.Seq {
		t.Errorf("Find after the repair: %v %v", found, err)
	}
	if _, r := openStore2(t, dir, s); !r.Empty() {
		t.Errorf("a second repair found %+v", r)
	}
}

// Issue 24, point 10: a full disk during a deletion is the store's error as it came
// (the API answers it 5002), and the voice note stays whole.
func TestDeleteOnAFullDisk(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice := OwnerOf("alice")
	upload(s, alice, id(1), "audio")
	renameFile = func(from, to string) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.ENOSPC}
	}
	found, err := s.Delete(alice, id(1))
	renameFile = os.Rename
	if !found || !IsNoSpace(err) {
		t.Fatalf("%v %v", found, err)
	}
	checkWhole(t, s)
	if _, found, _ := s.Get(alice, id(1)); !found {
		t.Fatal("the voice note is gone")
	}
}

// A voice note whose audio someone removed by hand can still be deleted.
func TestDeleteWithoutAudio(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice := OwnerOf("alice")
	n, _, _ := upload(s, alice, id(1), "audio")
	os.Remove(s.audioPath(alice, n.ID))
	if found, err := s.Delete(alice, id(1)); !found || err != nil {
		t.Fatalf("%v %v", found, err)
	}
	checkWhole(t, s)
}

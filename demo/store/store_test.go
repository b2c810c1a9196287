package store

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseID(t *testing.T) {
	for in, want := range map[string]string{
		"0190a0c0-1111-7000-8000-000000000001":   "0190a0c0-1111-7000-8000-000000000001",
		"0190A0C0-1111-7000-8000-00000000000F":   "0190a0c0-1111-7000-8000-00000000000f",
		"0190a0c0111170008000000000000001":       "",
		"{0190a0c0-1111-7000-8000-000000000001}": "",
		"../../../../etc/passwd-aaaaaaaaaaaaa":   "",
		"0190a0c0-1111-7000-8000-00000000000g":   "",
		"0190a0c0/1111-7000-8000-000000000001":   "",
		"":                                       "",
	} {
		got, ok := ParseID(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseID(%q) = %q, %v", in, got, ok)
		}
	}
}

func openStore(t *testing.T, dir string) (*Store, Repair) {
	t.Helper()
	s, r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func commit(t *testing.T, s *Store, owner Owner, id string, data string) (VoiceNote, bool, error) {
	t.Helper()
	u, err := s.NewUpload()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	return s.Commit(u, VoiceNote{ID: id, Owner: owner, Identity: "someone", Format: "wav", CreatedAt: time.Now()})
}

func id(n int) string { return fmt.Sprintf("0190a0c0-1111-7000-8000-%012d", n) }

func TestCommitGetDelete(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	defer s.Close()
	alice, bob := OwnerOf("alice"), OwnerOf("bob")
	n, created, err := commit(t, s, alice, id(1), "audio one")
	if err != nil || !created || n.Size != 9 || n.SHA256 == "" {
		t.Fatalf("commit: %+v %v %v", n, created, err)
	}
	if _, created, err := commit(t, s, alice, id(1), "audio one"); err != nil || created {
		t.Errorf("the same bytes again: created %v, %v", created, err)
	}
	if _, _, err := commit(t, s, alice, id(1), "audio two"); err != ErrConflict {
		t.Errorf("other bytes: %v", err)
	}
	if _, found, _ := s.Get(bob, id(1)); found {
		t.Error("bob sees alice's voice note")
	}
	f, err := s.OpenAudio(n)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if found, err := s.Delete(alice, id(1)); !found || err != nil {
		t.Fatalf("delete: %v %v", found, err)
	}
	if _, err := os.Stat(s.audioPath(alice, id(1))); !os.IsNotExist(err) {
		t.Errorf("the file outlived its voice note: %v", err)
	}
	expectEmpty(t, filepath.Join(dir, "tmp"))
}

func TestListNewestFirst(t *testing.T) {
	s, _ := openStore(t, t.TempDir())
	defer s.Close()
	alice := OwnerOf("alice")
	for i := range 7 {
		commit(t, s, alice, id(i), fmt.Sprint("audio ", i))
		commit(t, s, OwnerOf(fmt.Sprint("other", i)), id(i), "x")
	}
	var got []string
	var before uint64
	for {
		page, more, err := s.List(alice, 3, before)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page {
			got = append(got, n.ID[len(n.ID)-1:])
		}
		if !more {
			break
		}
		before = page[len(page)-1].Seq
	}
	if strings.Join(got, "") != "6543210" {
		t.Errorf("listed %v", got)
	}
}

// What a crash leaves behind is gone after the next Open, and only that.
func TestOpenRepairs(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	alice := OwnerOf("alice")
	kept, _, _ := commit(t, s, alice, id(1), "kept")
	lost, _, _ := commit(t, s, alice, id(2), "its file will vanish")
	unfinished, _ := s.NewUpload()
	unfinished.Write([]byte("half an upl"))
	s.Close()

	os.Remove(s.audioPath(alice, lost.ID))                                             // metadata without audio
	os.WriteFile(s.audioPath(alice, id(3)), []byte("renamed, never committed"), 0o600) // audio without metadata
	os.WriteFile(filepath.Join(dir, "audio", string(alice), "junk"), nil, 0o600)

	s, r := openStore(t, dir)
	defer s.Close()
	if len(r.TempFiles) != 1 || !slices.Equal(r.LostRecords, []string{string(alice) + "/" + id(2)}) || len(r.StrayFiles) != 1 ||
		!slices.Equal(r.Foreign, []string{filepath.Join("audio", string(alice), "junk")}) {
		t.Errorf("repair: %+v", r)
	}
	if _, found, _ := s.Get(alice, kept.ID); !found {
		t.Error("a whole voice note was repaired away")
	}
	if _, found, _ := s.Get(alice, lost.ID); found {
		t.Error("a voice note without audio is still listed")
	}
	if page, _, _ := s.List(alice, 10, 0); len(page) != 1 {
		t.Errorf("listed %d", len(page))
	}
	expectEmpty(t, filepath.Join(dir, "tmp"))
	files, _ := os.ReadDir(filepath.Join(dir, "audio", string(alice)))
	if len(files) != 2 || files[0].Name() != kept.ID || files[1].Name() != "junk" {
		t.Errorf("audio files left: %v", files)
	}
	os.Remove(filepath.Join(dir, "audio", string(alice), "junk"))
	if _, r := openStore2(t, dir, s); !r.Empty() {
		t.Errorf("a second repair found %+v", r)
	}
}

// openStore2 reopens dir after closing s.
func openStore2(t *testing.T, dir string, s *Store) (*Store, Repair) {
	s.Close()
	s2, r := openStore(t, dir)
	t.Cleanup(func() { s2.Close() })
	return s2, r
}

func expectEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left in %s: %s", dir, e.Name())
	}
}

func TestDataDirectoryIsNotShared(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	defer s.Close()
	if _, _, err := Open(dir); err == nil {
		t.Fatal("a second Open of one data directory succeeded")
	}
}

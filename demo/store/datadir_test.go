package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// snapshot lists every path under dir with its content, to show that nothing changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			files[rel] = string(b)
		} else {
			files[rel+"/"] = ""
		}
		return nil
	})
	return files
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 13, point 2: a directory that is not the server's (a home directory given by
// mistake, with its own tmp/ and audio/) is refused and nothing in it is touched.
func TestForeignDirectoryIsRefusedUntouched(t *testing.T) {
	home := t.TempDir()
	writeFiles(t, home, map[string]string{
		"tmp/build.log":                            "mine",
		"tmp/upload-notes.txt":                     "mine too, despite the name",
		"audio/song.mp3":                           "ID3",
		"audio/0123456789abcdef0123456789abcdef/x": "x",
		".bashrc":                                  "export X=1",
	})
	before := snapshot(t, home)
	_, _, err := Open(home)
	if !errors.Is(err, ErrNotDataDir) || !strings.Contains(err.Error(), "Nothing in it was touched") {
		t.Fatalf("Open of a foreign directory: %v", err)
	}
	if after := snapshot(t, home); !maps(before, after) {
		t.Errorf("the directory changed:\nbefore %v\nafter  %v", before, after)
	}
	// A file is not a directory either.
	if _, _, err := Open(filepath.Join(home, ".bashrc")); !errors.Is(err, ErrNotDataDir) {
		t.Errorf("Open of a file: %v", err)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A new or empty directory is initialised with the marker; a marked one is opened as it is.
func TestFreshDirectoryIsInitialised(t *testing.T) {
	for _, dir := range []string{filepath.Join(t.TempDir(), "new", "data"), t.TempDir()} {
		s, r, err := Open(dir)
		if err != nil || r.Claim != "initialised" {
			t.Fatalf("%s: %v %q", dir, err, r.Claim)
		}
		if _, err := os.Stat(filepath.Join(dir, MarkerFile)); err != nil {
			t.Error(err)
		}
		s.Close()
		s, r, err = Open(dir)
		if err != nil || r.Claim != "" {
			t.Fatalf("reopen: %v %q", err, r.Claim)
		}
		s.Close()
	}
}

// A directory of the earlier version (no marker, its layout exactly) is adopted with
// its voice notes; a foreign file in a marked directory is reported and left alone.
func TestEarlierVersionIsAdoptedAndForeignFilesKept(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	alice := OwnerOf("alice")
	commit(t, s, alice, id(1), "kept")
	s.Close()
	os.Remove(filepath.Join(dir, MarkerFile))
	writeFiles(t, dir, map[string]string{"credentials.json": "{}", "tmp/upload-123": "half"})
	s, r := openStore(t, dir)
	if r.Claim != "adopted" || len(r.TempFiles) != 1 {
		t.Fatalf("repair %+v", r)
	}
	if _, found, _ := s.Get(alice, id(1)); !found {
		t.Error("the adopted directory lost a voice note")
	}
	writeFiles(t, dir, map[string]string{"tmp/notes.txt": "someone's", "audio/README": "someone's"})
	_, r = openStore2(t, dir, s)
	if !slices.Equal(r.Foreign, []string{"tmp/notes.txt", "audio/README"}) || len(r.TempFiles)+len(r.StrayFiles) != 0 {
		t.Errorf("repair %+v", r)
	}
	for _, f := range []string{"tmp/notes.txt", "audio/README"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Issue 13, point 13: a deletion that fails (moving the audio, or deleting the record)
// leaves the voice note whole, so that its error is the truth.
func TestFailedDeleteLeavesTheVoiceNote(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	defer s.Close()
	alice := OwnerOf("alice")
	commit(t, s, alice, id(1), "audio")
	boom := errors.New("disk says no")
	for name, fail := range map[string]func(){
		"audio cannot be moved":    func() { renameFile = func(string, string) error { return boom } },
		"record cannot be deleted": func() { deleteRecordHook = func() error { return boom } },
	} {
		fail()
		found, err := s.Delete(alice, id(1))
		renameFile, deleteRecordHook = os.Rename, func() error { return nil }
		if !found || !errors.Is(err, boom) {
			t.Errorf("%s: %v %v", name, found, err)
		}
		n, found, _ := s.Get(alice, id(1))
		if !found {
			t.Fatalf("%s: the voice note is gone after a failed delete", name)
		}
		f, err := s.OpenAudio(n)
		if err != nil {
			t.Fatalf("%s: its audio is gone: %v", name, err)
		}
		f.Close()
	}
	expectEmpty(t, filepath.Join(dir, "tmp"))
	if found, err := s.Delete(alice, id(1)); !found || err != nil {
		t.Fatal(found, err)
	}
	expectEmpty(t, filepath.Join(dir, "tmp"))
}

// Issue 13, point 5: the owner a URL carries is keyed, not a hash anyone can compute.
func TestHandlesAreKeyedAndResolve(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sa, _ := openStore(t, a)
	defer sa.Close()
	sb, _ := openStore(t, b)
	defer sb.Close()
	alice := OwnerOf("alice")
	if sa.Handle(alice) == string(alice) || sa.Handle(alice) == sb.Handle(alice) {
		t.Error("a handle is the plain owner key, or the same in two data directories")
	}
	commit(t, sa, alice, id(1), "x")
	if o, found, err := sa.OwnerOfHandle(sa.Handle(alice)); !found || o != alice || err != nil {
		t.Errorf("resolve: %v %v %v", o, found, err)
	}
	if _, found, _ := sa.OwnerOfHandle(string(alice)); found {
		t.Error("the plain owner key resolves")
	}
}

package store

import (
	"errors"
	"path/filepath"
	"testing"
)

// Issue 24, 10: a second server on the same data directory is told that another holds
// it, not "timeout". bbolt's flock belongs to an open file, so a second Open in this
// process meets the lock just as a second process does.
func TestDataDirInUseByAnotherServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".vocafuse-data")
	first, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := Open(dir)
	if err == nil {
		second.Close()
		t.Fatal("a second store opened the directory the first holds")
	}
	want := "another VocaFuse server is using " + dir + " (its database is locked); " +
		"stop it, or start this one with another --data-dir"
	if !errors.Is(err, ErrInUse) || err.Error() != want {
		t.Errorf("second Open: %q (ErrInUse: %v), want %q", err, errors.Is(err, ErrInUse), want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, _, err := Open(dir)
	if err != nil {
		t.Fatalf("once the first closed: %v", err)
	}
	again.Close()
}

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// MarkerFile is what makes a directory the server's data directory. The server
// initialises a directory that does not exist or is empty, adopts one laid out by an
// earlier version (which wrote no marker), and refuses anything else without touching it:
// a mistyped --data-dir (say, a home directory) must never lose a file.
const MarkerFile = "vocafuse-data.json"

// marker is the marker file's content.
type marker struct {
	Note      string    `json:"note"`
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	Adopted   bool      `json:"adopted,omitempty"` // the directory predates the marker
}

const markerFormat = 1

// ErrNotDataDir is Open's error for a directory that is not empty and not the server's.
var ErrNotDataDir = errors.New("not a VocaFuse data directory")

// ErrInUse is Open's error for a data directory whose database another process holds
// (bbolt's lock: one writer at a time).
var ErrInUse = errors.New("the data directory is in use")

// metadataOpenError says what a failure to open the database means: a lock held past
// Open's wait is another server on the same directory (a second `make demo`).
func metadataOpenError(dir string, err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return &inUseError{dir: dir}
	}
	return fmt.Errorf("open metadata database: %w", err)
}

type inUseError struct{ dir string }

func (e *inUseError) Error() string {
	return fmt.Sprintf("another VocaFuse server is using %s (its database is locked); "+
		"stop it, or start this one with another --data-dir", e.dir)
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// Claim reports how Open took dir: "initialised", "adopted" or "" (already the server's).
type Claim string

// claim makes sure dir is the server's before anything in it is read or written.
func claim(dir string) (Claim, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		return "initialised", writeMarker(dir, false)
	case err != nil:
		return "", err
	case !info.IsDir():
		return "", fmt.Errorf("%s: %w: it is a file, not a directory", dir, ErrNotDataDir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	switch {
	case err == nil:
		var m marker
		if json.Unmarshal(raw, &m) != nil || m.Format != markerFormat {
			return "", fmt.Errorf("%s: %s is not one this server wrote (format %d expected); nothing was touched",
				dir, MarkerFile, markerFormat)
		}
		return "", nil
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) == 0 {
		return "initialised", writeMarker(dir, false)
	}
	if odd := legacyMisfit(dir, entries); odd != "" {
		return "", fmt.Errorf("%s: %w: it is not empty, has no %s, and holds %q, which the server did not write. "+
			"Nothing in it was touched. Start with --data-dir pointing at a new or empty directory "+
			"(the default is ./.vocafuse-data)", dir, ErrNotDataDir, MarkerFile, odd)
	}
	return "adopted", writeMarker(dir, true)
}

// legacyMisfit checks a directory without a marker against the layout the earlier
// version wrote (credentials.json, voicenotes.db, audio/<owner>/<uuid>, tmp/upload-*),
// and returns the first entry that does not fit, "" when all do.
func legacyMisfit(dir string, entries []os.DirEntry) string {
	var hasDB, hasCreds bool
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "voicenotes.db" && e.Type().IsRegular():
			hasDB = true
		case name == "credentials.json" && e.Type().IsRegular():
			hasCreds = true
		case (name == "credentials.json.tmp" || name == MarkerFile+".tmp") && e.Type().IsRegular():
		case name == "audio" && e.IsDir():
			owners, err := os.ReadDir(filepath.Join(dir, name))
			if err != nil {
				return name
			}
			for _, o := range owners {
				if _, ok := ParseOwner(o.Name()); !ok || !o.IsDir() {
					return filepath.Join(name, o.Name())
				}
				files, err := os.ReadDir(filepath.Join(dir, name, o.Name()))
				if err != nil {
					return filepath.Join(name, o.Name())
				}
				for _, f := range files {
					if id, ok := ParseID(f.Name()); !ok || id != f.Name() || !f.Type().IsRegular() {
						return filepath.Join(name, o.Name(), f.Name())
					}
				}
			}
		case name == "tmp" && e.IsDir():
			temps, err := os.ReadDir(filepath.Join(dir, name))
			if err != nil {
				return name
			}
			for _, f := range temps {
				if !isOwnTemp(f) {
					return filepath.Join(name, f.Name())
				}
			}
		default:
			return name
		}
	}
	switch {
	case !hasDB:
		return "(no voicenotes.db)"
	case !hasCreds:
		return "(no credentials.json)"
	}
	return ""
}

// isOwnTemp tells the server's temporary files (uploads under way, deletions under way)
// from anything else.
func isOwnTemp(e os.DirEntry) bool {
	return e.Type().IsRegular() && (strings.HasPrefix(e.Name(), uploadPrefix) || strings.HasPrefix(e.Name(), deletePrefix))
}

func writeMarker(dir string, adopted bool) error {
	raw, _ := json.MarshalIndent(marker{
		Note:      "This directory is the data directory of a VocaFuse local API server (build/vocafuse-demo). Do not edit.",
		Format:    markerFormat,
		CreatedAt: time.Now().UTC().Truncate(time.Second),
		Adopted:   adopted,
	}, "", "  ")
	tmp := filepath.Join(dir, MarkerFile+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, MarkerFile)); err != nil {
		return err
	}
	return syncDir(dir)
}

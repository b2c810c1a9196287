// Package store keeps voice notes: their metadata in an embedded bbolt database and
// their audio as files beside it, all in one data directory that needs no set-up.
//
// bbolt rather than SQLite: it is pure Go (no cgo, so the server cross-compiles and the
// race detector runs), one file, and its transactions are fsynced on commit. The server
// only needs lookups by key and one ordered index, which is what a B+tree gives.
//
// Layout of the data directory:
//
//	voicenotes.db          metadata (bbolt)
//	audio/<owner>/<id>     the audio of each voice note, exactly the bytes uploaded
//	tmp/                   uploads still arriving; emptied at start-up
//
// An upload becomes visible in one step: the fsynced temporary file is renamed into
// place and then the metadata commits. A crash at any point leaves either a temporary
// file or an audio file without metadata, which Open removes; never a voice note whose
// audio is partial.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	notesBucket = []byte("voicenotes") // owner "/" id → VoiceNote JSON
	orderBucket = []byte("by_owner")   // owner, sequence (8 bytes, big-endian) → id
)

// ErrConflict is Commit's answer when the id already holds other bytes.
var ErrConflict = errors.New("store: the voice note id already holds other audio")

// VoiceNote is the stored record of one voice note.
type VoiceNote struct {
	ID        string          `json:"id"`
	Owner     Owner           `json:"owner"`
	Identity  string          `json:"identity"`
	Format    string          `json:"format"`
	MimeType  string          `json:"mime_type"`
	Size      int64           `json:"size"`
	Duration  float64         `json:"duration"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	SHA256    string          `json:"sha256"` // of the audio: what makes a repeated PUT idempotent
	CreatedAt time.Time       `json:"created_at"`
	Seq       uint64          `json:"seq"` // insertion order, for newest-first listing
}

// Store is a data directory opened for use. Its methods are safe for concurrent use.
type Store struct {
	db       *bolt.DB
	audioDir string
	tmpDir   string
}

// Open opens (creating where needed) the store in dir and repairs what a crash may have
// left behind. Only one process may have a data directory open at a time: a second one
// fails after a short wait rather than sharing the database.
func Open(dir string) (*Store, Repair, error) {
	s := &Store{audioDir: filepath.Join(dir, "audio"), tmpDir: filepath.Join(dir, "tmp")}
	for _, d := range []string{dir, s.audioDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, Repair{}, err
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "voicenotes.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, Repair{}, fmt.Errorf("open metadata database: %w", err)
	}
	s.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{notesBucket, orderBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, Repair{}, err
	}
	repair, err := s.repair()
	if err != nil {
		db.Close()
		return nil, Repair{}, fmt.Errorf("repair: %w", err)
	}
	return s, repair, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// IsNoSpace reports whether err comes from a full disk, which the API answers with 5002.
func IsNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

func noteKey(owner Owner, id string) []byte { return []byte(string(owner) + "/" + id) }

func orderKey(owner Owner, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(owner), seq)
}

func (s *Store) audioPath(owner Owner, id string) string {
	return filepath.Join(s.audioDir, string(owner), id)
}

// Commit makes an upload the audio of voice note n (whose ID and Owner must have been
// checked by ParseID and OwnerOf). When the id already holds the same bytes, nothing
// changes and the stored voice note is returned with created false; when it holds other
// bytes, the error is ErrConflict. Either way the upload is used up. The events of a
// voice note it creates are recorded for delivery in the same transaction.
func (s *Store) Commit(u *Upload, n VoiceNote, events ...EventFunc) (stored VoiceNote, created bool, err error) {
	defer u.Discard()
	if err := u.finish(); err != nil {
		return VoiceNote{}, false, err
	}
	n.Size, n.SHA256 = u.Size(), u.SHA256()
	path := s.audioPath(n.Owner, n.ID)
	renamed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		if raw := notes.Get(noteKey(n.Owner, n.ID)); raw != nil {
			if err := json.Unmarshal(raw, &stored); err != nil {
				return err
			}
			if stored.SHA256 != n.SHA256 {
				return ErrConflict
			}
			return nil
		}
		seq, err := notes.NextSequence()
		if err != nil {
			return err
		}
		n.Seq = seq
		// The file goes into place before the metadata commits: a crash in between
		// leaves a file without metadata, which the next Open removes.
		if err := s.placeFile(u.path, path); err != nil {
			return err
		}
		renamed = true
		raw, err := json.Marshal(n)
		if err != nil {
			return err
		}
		if err := notes.Put(noteKey(n.Owner, n.ID), raw); err != nil {
			return err
		}
		stored, created = n, true
		if err := tx.Bucket(orderBucket).Put(orderKey(n.Owner, seq), []byte(n.ID)); err != nil {
			return err
		}
		return recordEvents(tx, n, events)
	})
	if err != nil {
		if renamed {
			_ = os.Remove(path) // the metadata did not commit: the file must not stay
		}
		return VoiceNote{}, false, err
	}
	return stored, created, nil
}

// placeFile renames the fsynced temporary file into place and makes the rename durable.
func (s *Store) placeFile(from, to string) error {
	dir := filepath.Dir(to)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		if err := syncDir(s.audioDir); err != nil {
			return err
		}
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get returns the owner's voice note with that id.
func (s *Store) Get(owner Owner, id string) (n VoiceNote, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(notesBucket).Get(noteKey(owner, id))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &n)
	})
	return n, found, err
}

// OpenAudio opens a voice note's audio for reading.
func (s *Store) OpenAudio(n VoiceNote) (*os.File, error) {
	return os.Open(s.audioPath(n.Owner, n.ID))
}

// Delete removes the owner's voice note with that id, metadata first: a crash before
// the file goes leaves a file without metadata, which the next Open removes. The events
// of the deletion are recorded for delivery in the same transaction.
func (s *Store) Delete(owner Owner, id string, events ...EventFunc) (found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		raw := notes.Get(noteKey(owner, id))
		if raw == nil {
			return nil
		}
		var n VoiceNote
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		found = true
		if err := notes.Delete(noteKey(owner, id)); err != nil {
			return err
		}
		if err := tx.Bucket(orderBucket).Delete(orderKey(owner, n.Seq)); err != nil {
			return err
		}
		return recordEvents(tx, n, events)
	})
	if err != nil || !found {
		return found, err
	}
	if err := os.Remove(s.audioPath(owner, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, err
	}
	return true, nil
}

// List returns up to limit of the owner's voice notes, newest first, starting after the
// one whose Seq is before (0: from the newest), and whether more follow.
func (s *Store) List(owner Owner, limit int, before uint64) (page []VoiceNote, more bool, err error) {
	if before == 0 {
		before = ^uint64(0)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		c := tx.Bucket(orderBucket).Cursor()
		// Seek finds the first key at or after the bound; the page starts just before it.
		k, v := c.Seek(orderKey(owner, before))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(k) == ownerLen+8 && Owner(k[:ownerLen]) == owner; k, v = c.Prev() {
			if len(page) == limit {
				more = true
				break
			}
			var n VoiceNote
			if err := json.Unmarshal(notes.Get(noteKey(owner, string(v))), &n); err != nil {
				return err
			}
			page = append(page, n)
		}
		return nil
	})
	return page, more, err
}

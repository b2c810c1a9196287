// Package store keeps voice notes: their metadata in an embedded bbolt database and
// their audio as files beside it, all in one data directory that needs no set-up.
//
// bbolt rather than SQLite: it is pure Go (no cgo, so the server cross-compiles and the
// race detector runs), one file, and its transactions are fsynced on commit. The server
// only needs lookups by key and one ordered index, which is what a B+tree gives.
//
// Layout of the data directory:
//
//	vocafuse-data.json     the marker: this directory is the server's (see claim)
//	credentials.json       generated credentials (package auth)
//	voicenotes.db          metadata (bbolt)
//	audio/<owner>/<id>     the audio of each voice note, exactly the bytes uploaded
//	tmp/upload-*           uploads still arriving; removed at start-up
//	tmp/delete-*           audio of a deletion under way; removed at start-up
//
// The server only ever removes files of that layout: anything else found in the
// directory is reported and left alone.
//
// An upload becomes visible in one step: the fsynced temporary file is renamed into
// place and then the metadata commits. A crash at any point leaves either a temporary
// file or an audio file without metadata, which Open removes; never a voice note whose
// audio is partial.
package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vocafuse/recorder/demo/internal/random"
)

var (
	notesBucket   = []byte("voicenotes")    // owner "/" id → VoiceNote JSON
	orderBucket   = []byte("by_owner")      // owner, sequence (8 bytes, big-endian) → id
	handlesBucket = []byte("owner_handles") // handle → owner (see Handle)
	metaBucket    = []byte("meta")          // "handle_key" → the random key of Handle
	// The account-wide indexes, for a backend that reads every identity's voice notes.
	seqBucket = []byte("by_seq") // sequence (8 bytes, big-endian) → owner "/" id
	idBucket  = []byte("by_id")  // id "/" owner → sequence (8 bytes)
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
	UpdatedAt time.Time       `json:"updated_at,omitzero"` // zero: never changed since CreatedAt
	// Status is VocaFuse's: "" (as every record written before statuses existed) is
	// StatusProcessing, the state from the upload until a transcription ends.
	Status string `json:"status,omitempty"`
	Seq    uint64 `json:"seq"` // insertion order, for newest-first listing
}

// The statuses of a voice note (VocaFuse's).
const (
	StatusProcessing  = "processing"
	StatusTranscribed = "transcribed"
	StatusFailed      = "failed"
)

// Statuses lists them, for validating a filter.
var Statuses = []string{StatusProcessing, StatusTranscribed, StatusFailed}

// State is the voice note's status, StatusProcessing where none was recorded.
func (n VoiceNote) State() string {
	if n.Status == "" {
		return StatusProcessing
	}
	return n.Status
}

// Updated is when the voice note last changed.
func (n VoiceNote) Updated() time.Time {
	if n.UpdatedAt.IsZero() {
		return n.CreatedAt
	}
	return n.UpdatedAt
}

// Store is a data directory opened for use. Its methods are safe for concurrent use.
type Store struct {
	db        *bolt.DB
	audioDir  string
	tmpDir    string
	handleKey []byte
	deleting  sync.Mutex // see Delete
}

// Open opens (creating where needed) the store in dir and repairs what a crash may have
// left behind. Only one process may have a data directory open at a time: a second one
// fails after a short wait rather than sharing the database.
//
// A directory that is not the server's (not empty, no marker, not an earlier version's
// layout) is refused with ErrNotDataDir before anything in it is read or written.
func Open(dir string) (*Store, Repair, error) {
	claimed, err := claim(dir)
	if err != nil {
		return nil, Repair{}, err
	}
	s := &Store{audioDir: filepath.Join(dir, "audio"), tmpDir: filepath.Join(dir, "tmp")}
	for _, d := range []string{s.audioDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, Repair{}, err
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "voicenotes.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, Repair{}, metadataOpenError(dir, err)
	}
	s.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{notesBucket, orderBucket, handlesBucket, metaBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := indexAccount(tx); err != nil {
			return err
		}
		return s.loadHandles(tx)
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
	repair.Claim = claimed
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
		if err := tx.Bucket(handlesBucket).Put([]byte(s.Handle(n.Owner)), []byte(n.Owner)); err != nil {
			return err
		}
		if err := tx.Bucket(orderBucket).Put(orderKey(n.Owner, seq), []byte(n.ID)); err != nil {
			return err
		}
		if err := putAccountIndex(tx, n); err != nil {
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

// Delete removes the owner's voice note with that id, and the events of the deletion
// are recorded for delivery in the same transaction. Everything happens inside the one
// write transaction, so that what is deleted is exactly the record read there: its
// audio is moved aside (into tmp/, under a name of its own that repair knows), then the
// record goes with the index entries and the transcript it names. No Commit or other
// Delete can run in between (bbolt has one writer), so a deletion never moves or
// removes the file or the keys of a note that replaced the one it read.
//
// When the transaction fails the audio is moved back, so that a failure leaves the
// voice note whole, an error means nothing changed, and no event is left for a
// deletion that did not happen. A crash in between leaves a record without audio or a
// tmp/delete-* file, both of which the next Open removes: a deletion that was under way
// completes, it never half-happens.
func (s *Store) Delete(owner Owner, id string, events ...EventFunc) (found bool, err error) {
	// Deletions take turns, so that one whose commit fails has put its audio back before
	// the next one looks for it (bbolt lets the next writer in before Update returns).
	s.deleting.Lock()
	defer s.deleting.Unlock()
	path := s.audioPath(owner, id)
	aside := filepath.Join(s.tmpDir, deletePrefix+string(owner)+"-"+id+"-"+random.Hex(4))
	moved := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		n, ok, err := noteIn(tx, owner, id)
		if err != nil || !ok {
			return err // not there (any more): found stays false
		}
		found = true
		switch err := renameFile(path, aside); {
		case err == nil:
			moved = true
		case errors.Is(err, os.ErrNotExist):
			// Its audio is already missing (removed by hand): the record goes all the same.
		default:
			return err
		}
		if err := deleteRecordHook(); err != nil {
			return err
		}
		if err := deleteRecord(tx, n); err != nil {
			return err
		}
		return recordEvents(tx, n, events)
	})
	if err != nil {
		if moved {
			if backErr := renameFile(aside, path); backErr != nil {
				return found, errors.Join(err, backErr)
			}
		}
		return found, err
	}
	if moved {
		_ = os.Remove(aside) // gone from the API already; repair removes it after a crash
	}
	return found, nil
}

// noteIn reads the owner's voice note with that id inside tx.
func noteIn(tx *bolt.Tx, owner Owner, id string) (n VoiceNote, found bool, err error) {
	raw := tx.Bucket(notesBucket).Get(noteKey(owner, id))
	if raw == nil {
		return VoiceNote{}, false, nil
	}
	err = json.Unmarshal(raw, &n)
	return n, true, err
}

// deleteRecord removes n's record and what it names: its order key (by its own Seq),
// its account index entries and its transcript.
func deleteRecord(tx *bolt.Tx, n VoiceNote) error {
	if err := tx.Bucket(notesBucket).Delete(noteKey(n.Owner, n.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(orderBucket).Delete(orderKey(n.Owner, n.Seq)); err != nil {
		return err
	}
	if err := deleteAccountIndex(tx, n); err != nil {
		return err
	}
	return deleteTranscript(tx, n)
}

// Hooks for tests to make a deletion fail where a disk would.
var (
	renameFile       = os.Rename
	deleteRecordHook = func() error { return nil }
)

// List returns up to limit of the owner's voice notes, newest first, starting after the
// one whose Seq is before (0: from the newest), and whether more follow.
func (s *Store) List(owner Owner, limit int, before uint64) (page []VoiceNote, more bool, err error) {
	page, _, more, err = s.Page(Filter{Owner: owner, Before: before}, 0, limit)
	return page, more, err
}

// Handle is the owner as a signed audio URL names it: an HMAC of the owner key with a
// random key kept in the database, so that a URL does not tell whose voice note it is
// (the owner key itself is a plain hash of the identity, which anyone who can guess
// identities could compute). The database maps each handle back to its owner.
func (s *Store) Handle(owner Owner) string {
	m := hmac.New(sha256.New, s.handleKey)
	m.Write([]byte(owner))
	return hex.EncodeToString(m.Sum(nil)[:ownerLen/2])
}

// OwnerOfHandle returns the owner a handle names.
func (s *Store) OwnerOfHandle(handle string) (owner Owner, found bool, err error) {
	if _, ok := ParseOwner(handle); !ok {
		return "", false, nil
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(handlesBucket).Get([]byte(handle)); v != nil {
			owner, found = Owner(v), true
		}
		return nil
	})
	return owner, found, err
}

// loadHandles reads (or makes, the first time) the handle key, and gives every owner
// with voice notes a handle: a database of an earlier version has none.
func (s *Store) loadHandles(tx *bolt.Tx) error {
	meta := tx.Bucket(metaBucket)
	if k := meta.Get([]byte("handle_key")); len(k) == 32 {
		s.handleKey = append([]byte(nil), k...)
	} else {
		s.handleKey = make([]byte, 32)
		if _, err := rand.Read(s.handleKey); err != nil {
			return err
		}
		if err := meta.Put([]byte("handle_key"), s.handleKey); err != nil {
			return err
		}
	}
	handles := tx.Bucket(handlesBucket)
	var missing []Owner
	err := tx.Bucket(notesBucket).ForEach(func(k, _ []byte) error {
		owner, _, _ := strings.Cut(string(k), "/")
		if handles.Get([]byte(s.Handle(Owner(owner)))) == nil {
			missing = append(missing, Owner(owner))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range missing {
		if err := handles.Put([]byte(s.Handle(o)), []byte(o)); err != nil {
			return err
		}
	}
	return nil
}

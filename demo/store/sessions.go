package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vocafuse/recorder/demo/internal/random"
)

// Upload sessions are VocaFuse's two-step upload (POST /v1/upload, then PUTs to presigned
// URLs): what was announced, in the database, and the parts received so far as files in
//
//	parts/<upload id>/<part number>
//
// A part is streamed to a temporary file in tmp/ (an Upload, which repair removes after a
// crash), fsynced, renamed into place, its directory fsynced, and only then recorded:
// a part the API answered 200 survives a crash, and a part file without a record (a crash
// between the rename and the record) is simply written again by the part's next PUT.
// Nothing here is a voice note: only Commit makes one, from the assembled parts.
var (
	sessionsBucket    = []byte("upload_sessions") // upload id → UploadSession JSON
	sessionPartsBkt   = []byte("upload_parts")    // upload id "/" part (4 bytes, big-endian) → Part JSON
	sessionKeysBucket = []byte("upload_keys")     // owner "/" Idempotency-Key → upload id
	sessionOpenBucket = []byte("upload_open")     // owner "/" upload id → (nothing): the open sessions of an owner
	sessionExpiryBkt  = []byte("upload_expiry")   // expiry (8 bytes, unix nanoseconds, big-endian) upload id → (nothing)
	allSessionBuckets = [][]byte{sessionsBucket, sessionPartsBkt, sessionKeysBucket, sessionOpenBucket, sessionExpiryBkt}
)

// The directory of the data directory that holds the parts of upload sessions.
const partsDirName = "parts"

// Errors of upload sessions.
var (
	// ErrSessionGone: no such session, or it expired or was discarded.
	ErrSessionGone = errors.New("store: upload session not found or expired")
	// ErrPartConflict: the part was already received with other bytes.
	ErrPartConflict = errors.New("store: the part already holds other bytes")
)

// SessionConflict is StartSession's answer when the Idempotency-Key was used before for
// another recording (another size or format), or names a voice note that holds one.
type SessionConflict struct {
	FileSize int64
	Format   string
}

func (e *SessionConflict) Error() string {
	return fmt.Sprintf("store: the idempotency key is used for a %s recording of %d bytes", e.Format, e.FileSize)
}

// TooManySessions is StartSession's answer when the owner has Limit sessions open; the
// first of them expires at RetryAt.
type TooManySessions struct {
	Limit   int
	RetryAt time.Time
}

func (e *TooManySessions) Error() string {
	return fmt.Sprintf("store: %d upload sessions open", e.Limit)
}

// UploadSession is one announced upload.
type UploadSession struct {
	ID          string          `json:"id"` // the upload id: 32 hex digits
	Owner       Owner           `json:"owner"`
	Identity    string          `json:"identity"`
	VoiceNoteID string          `json:"voicenote_id"`
	Key         string          `json:"key,omitempty"` // the Idempotency-Key, "" for none
	Multipart   bool            `json:"multipart"`
	FileSize    int64           `json:"file_size"`
	Format      string          `json:"format"`
	Duration    float64         `json:"duration"` // as announced
	FileName    string          `json:"file_name,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	PartSize    int64           `json:"part_size"` // multipart only
	CreatedAt   time.Time       `json:"created_at"`
	// ExpiresAt is when an open session is dropped with its parts, or when a completed
	// one is forgotten (its Idempotency-Key then names nothing).
	ExpiresAt time.Time `json:"expires_at"`
	Completed bool      `json:"completed,omitempty"`
}

// Parts is the number of parts: 1 for a single upload.
func (u UploadSession) Parts() int {
	if !u.Multipart || u.PartSize <= 0 {
		return 1
	}
	return int((u.FileSize + u.PartSize - 1) / u.PartSize)
}

// PartRange is part n's first byte and length (n from 1).
func (u UploadSession) PartRange(n int) (start, length int64) {
	if !u.Multipart || u.PartSize <= 0 {
		return 0, u.FileSize
	}
	start = int64(n-1) * u.PartSize
	return start, min(u.PartSize, u.FileSize-start)
}

// Part is a received part.
type Part struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// PartResult is CommitPart's outcome.
type PartResult struct {
	Part
	Session  UploadSession
	Repeated bool // the same bytes were already there
	Received int  // parts recorded, this one included
}

// SessionStart is what StartSession needs beside the announced session.
type SessionStart struct {
	Now     time.Time
	TTL     time.Duration // how long an open session lives
	MaxOpen int           // open sessions per owner
	// NewVoiceNoteID names the voice note of a new session with no key history: the
	// key itself when it is a UUID, a fresh id otherwise.
	NewVoiceNoteID string
}

// InitSessions makes the sessions' buckets and directory, and removes what a crash left
// of sessions that no longer exist. It is called once, at start-up, before any session
// is used.
func (s *Store) InitSessions() error {
	if err := os.MkdirAll(s.partsDir(), 0o700); err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allSessionBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	dirs, err := os.ReadDir(s.partsDir())
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(sessionsBucket)
		for _, d := range dirs {
			raw := sessions.Get([]byte(d.Name()))
			if raw != nil && isSessionID(d.Name()) && d.IsDir() {
				var u UploadSession
				if json.Unmarshal(raw, &u) == nil && !u.Completed {
					continue
				}
			}
			if !isSessionID(d.Name()) {
				continue // not the server's: left alone
			}
			if err := os.RemoveAll(filepath.Join(s.partsDir(), d.Name())); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) partsDir() string { return filepath.Join(filepath.Dir(s.audioDir), partsDirName) }

func (s *Store) sessionDir(id string) string { return filepath.Join(s.partsDir(), id) }

func isSessionID(name string) bool {
	b, err := hex.DecodeString(name)
	return err == nil && len(b) == 16 && hex.EncodeToString(b) == name
}

func sessionKey(owner Owner, key string) []byte { return []byte(string(owner) + "/" + key) }

func openKey(owner Owner, id string) []byte { return []byte(string(owner) + "/" + id) }

func partKey(id string, n int) []byte {
	return binary.BigEndian.AppendUint32([]byte(id+"/"), uint32(n))
}

func expiryKey(at time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano())), id...)
}

// sessionTx is the sessions' buckets in one transaction.
type sessionTx struct {
	tx                                  *bolt.Tx
	sessions, parts, keys, open, expiry *bolt.Bucket
	removeDirs                          []string // upload ids whose part files go once the transaction commits
}

func openSessionTx(tx *bolt.Tx) (*sessionTx, error) {
	b := make([]*bolt.Bucket, len(allSessionBuckets))
	for i, name := range allSessionBuckets {
		if tx.Writable() {
			var err error
			if b[i], err = tx.CreateBucketIfNotExists(name); err != nil {
				return nil, err
			}
		} else if b[i] = tx.Bucket(name); b[i] == nil {
			return nil, ErrSessionGone
		}
	}
	return &sessionTx{tx: tx, sessions: b[0], parts: b[1], keys: b[2], open: b[3], expiry: b[4]}, nil
}

func (t *sessionTx) get(id string) (UploadSession, bool, error) {
	raw := t.sessions.Get([]byte(id))
	if raw == nil {
		return UploadSession{}, false, nil
	}
	var u UploadSession
	err := json.Unmarshal(raw, &u)
	return u, err == nil, err
}

// put writes u, keeping the expiry and open indexes in step with it (old is the record
// it replaces, zero for a new one).
func (t *sessionTx) put(u, old UploadSession) error {
	if !old.ExpiresAt.IsZero() {
		if err := t.expiry.Delete(expiryKey(old.ExpiresAt, old.ID)); err != nil {
			return err
		}
	}
	if err := t.expiry.Put(expiryKey(u.ExpiresAt, u.ID), nil); err != nil {
		return err
	}
	var err error
	if u.Completed {
		err = t.open.Delete(openKey(u.Owner, u.ID))
	} else {
		err = t.open.Put(openKey(u.Owner, u.ID), nil)
	}
	if err != nil {
		return err
	}
	raw, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return t.sessions.Put([]byte(u.ID), raw)
}

// drop deletes u's records; its part files go when the transaction has committed.
func (t *sessionTx) drop(u UploadSession) error {
	for _, del := range []struct {
		b *bolt.Bucket
		k []byte
	}{{t.sessions, []byte(u.ID)}, {t.open, openKey(u.Owner, u.ID)}, {t.expiry, expiryKey(u.ExpiresAt, u.ID)}} {
		if err := del.b.Delete(del.k); err != nil {
			return err
		}
	}
	if u.Key != "" {
		if id := t.keys.Get(sessionKey(u.Owner, u.Key)); string(id) == u.ID {
			if err := t.keys.Delete(sessionKey(u.Owner, u.Key)); err != nil {
				return err
			}
		}
	}
	prefix := []byte(u.ID + "/")
	c := t.parts.Cursor()
	var doomed [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		doomed = append(doomed, append([]byte(nil), k...))
	}
	for _, k := range doomed {
		if err := t.parts.Delete(k); err != nil {
			return err
		}
	}
	t.removeDirs = append(t.removeDirs, u.ID)
	return nil
}

// update runs fn in a write transaction over the sessions' buckets and removes the part
// files of the sessions it dropped once it has committed (a crash in between leaves a
// directory without a session, which InitSessions removes).
func (s *Store) updateSessions(fn func(t *sessionTx) error) error {
	var dirs []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := openSessionTx(tx)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		dirs = t.removeDirs
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range dirs {
		_ = os.RemoveAll(s.sessionDir(id))
	}
	return nil
}

// StartSession opens the upload session u announces (its Owner, Identity, Key, Multipart,
// FileSize, Format, Duration, FileName, Metadata, PartSize set by the caller), or, when
// u.Key names one, answers that one:
//   - another size or format under the same key: *SessionConflict;
//   - an open, unexpired session: it again, living TTL from now (reused true);
//   - a completed session whose voice note still exists: it again (reused true);
//   - otherwise (expired, or its voice note deleted) a new session for the same voice note.
//
// A new session for a voice note that exists already (a UUID key naming it) must announce
// its size and format, else *SessionConflict. Past MaxOpen open sessions: *TooManySessions.
func (s *Store) StartSession(u UploadSession, start SessionStart) (sess UploadSession, reused bool, err error) {
	err = s.updateSessions(func(t *sessionTx) error {
		u.VoiceNoteID = start.NewVoiceNoteID
		if u.Key != "" {
			if id := t.keys.Get(sessionKey(u.Owner, u.Key)); id != nil {
				old, found, err := t.get(string(id))
				if err != nil {
					return err
				}
				if found {
					if old.FileSize != u.FileSize || old.Format != u.Format {
						return &SessionConflict{FileSize: old.FileSize, Format: old.Format}
					}
					u.VoiceNoteID = old.VoiceNoteID
					noteExists := noteExistsIn(t.tx, old.Owner, old.VoiceNoteID)
					switch {
					case !old.Completed && start.Now.Before(old.ExpiresAt):
						sess, reused = old, true
						sess.ExpiresAt = start.Now.Add(start.TTL)
						return t.put(sess, old)
					case old.Completed && noteExists:
						sess, reused = old, true
						sess.ExpiresAt = later(old.ExpiresAt, start.Now.Add(start.TTL))
						return t.put(sess, old)
					}
					if err := t.drop(old); err != nil {
						return err
					}
				}
			}
		}
		if raw := t.tx.Bucket(notesBucket).Get(noteKey(u.Owner, u.VoiceNoteID)); raw != nil {
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			if n.Size != u.FileSize || n.Format != u.Format {
				return &SessionConflict{FileSize: n.Size, Format: n.Format}
			}
		}
		if open, first := t.countOpen(u.Owner, start.Now); open >= start.MaxOpen {
			return &TooManySessions{Limit: start.MaxOpen, RetryAt: first}
		}
		u.ID = random.Hex(16)
		u.CreatedAt, u.ExpiresAt, u.Completed = start.Now, start.Now.Add(start.TTL), false
		if u.Key != "" {
			if err := t.keys.Put(sessionKey(u.Owner, u.Key), []byte(u.ID)); err != nil {
				return err
			}
		}
		sess = u
		return t.put(u, UploadSession{})
	})
	return sess, reused, err
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func noteExistsIn(tx *bolt.Tx, owner Owner, id string) bool {
	return tx.Bucket(notesBucket).Get(noteKey(owner, id)) != nil
}

// countOpen counts the owner's open, unexpired sessions and tells when the first of them
// expires.
func (t *sessionTx) countOpen(owner Owner, now time.Time) (n int, first time.Time) {
	prefix := []byte(string(owner) + "/")
	c := t.open.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		u, found, err := t.get(string(k[len(prefix):]))
		if err != nil || !found || !now.Before(u.ExpiresAt) {
			continue
		}
		n++
		if first.IsZero() || u.ExpiresAt.Before(first) {
			first = u.ExpiresAt
		}
	}
	return n, first
}

// Session returns the upload session with that id.
func (s *Store) Session(id string) (u UploadSession, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		t, err := openSessionTx(tx)
		if errors.Is(err, ErrSessionGone) {
			return nil
		}
		if err != nil {
			return err
		}
		u, found, err = t.get(id)
		return err
	})
	return u, found, err
}

// CommitPart makes the upload part n of the session (the caller has checked its length).
// The same bytes again are Repeated, other bytes are ErrPartConflict; a session that is
// not there, or open past its expiry, is ErrSessionGone. A completed session keeps its
// parts' digests, so a repeated part is still recognised. Either way the upload is used up.
func (s *Store) CommitPart(up *Upload, sessionID string, n int, now time.Time) (res PartResult, err error) {
	defer up.Discard()
	if err := up.finish(); err != nil {
		return res, err
	}
	res.Part = Part{Size: up.Size(), SHA256: up.SHA256()}
	dir := s.sessionDir(sessionID)
	path := filepath.Join(dir, strconv.Itoa(n))
	err = s.updateSessions(func(t *sessionTx) error {
		u, found, err := t.get(sessionID)
		if err != nil {
			return err
		}
		if !found || (!u.Completed && !now.Before(u.ExpiresAt)) || n < 1 || n > u.Parts() {
			return ErrSessionGone
		}
		res.Session = u
		if raw := t.parts.Get(partKey(sessionID, n)); raw != nil {
			var p Part
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			if p.SHA256 != res.SHA256 || p.Size != res.Size {
				return ErrPartConflict
			}
			res.Repeated = true
		} else {
			if u.Completed {
				return ErrSessionGone // completed without this part: cannot be
			}
			if err := s.placePart(up.path, dir, path); err != nil {
				return err
			}
			raw, err := json.Marshal(res.Part)
			if err != nil {
				return err
			}
			if err := t.parts.Put(partKey(sessionID, n), raw); err != nil {
				return err
			}
		}
		prefix := []byte(sessionID + "/")
		c := t.parts.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			res.Received++
		}
		return nil
	})
	return res, err
}

// placePart renames a part's fsynced temporary file into its session's directory and
// makes the rename durable.
func (s *Store) placePart(from, dir, to string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		if err := syncDir(s.partsDir()); err != nil {
			return err
		}
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return syncDir(dir)
}

// AssembleSession concatenates the session's parts, in order, into a new upload (a file,
// never memory), for the caller to check and Commit. Every part must be there with the
// size recorded.
func (s *Store) AssembleSession(u UploadSession) (*Upload, error) {
	up, err := s.NewUpload()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	for n := 1; n <= u.Parts(); n++ {
		f, err := os.Open(filepath.Join(s.sessionDir(u.ID), strconv.Itoa(n)))
		if err != nil {
			up.Discard()
			return nil, err
		}
		_, want := u.PartRange(n)
		copied, err := io.CopyBuffer(up, io.LimitReader(f, want+1), buf)
		f.Close()
		if err == nil && copied != want {
			err = fmt.Errorf("part %d of upload %s: %d bytes, want %d", n, u.ID, copied, want)
		}
		if err != nil {
			up.Discard()
			return nil, err
		}
	}
	return up, nil
}

// CompleteSession marks the session done: its part files go (their digests stay, so a
// repeated PUT is recognised), and its record, with its Idempotency-Key, is kept until
// retainUntil.
func (s *Store) CompleteSession(id string, retainUntil time.Time) error {
	err := s.updateSessions(func(t *sessionTx) error {
		u, found, err := t.get(id)
		if err != nil || !found || u.Completed {
			return err
		}
		done := u
		done.Completed, done.ExpiresAt = true, later(u.ExpiresAt, retainUntil)
		return t.put(done, u)
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(s.sessionDir(id))
}

// DiscardSession forgets the session, its key and its parts (bytes that failed the
// checks: they can never become a voice note).
func (s *Store) DiscardSession(id string) error {
	return s.updateSessions(func(t *sessionTx) error {
		u, found, err := t.get(id)
		if err != nil || !found {
			return err
		}
		return t.drop(u)
	})
}

// SweepSessions drops up to limit sessions past their ExpiresAt (open ones with their
// parts, completed ones with their key), oldest first, and tells how many it dropped.
func (s *Store) SweepSessions(now time.Time, limit int) (dropped int, err error) {
	err = s.updateSessions(func(t *sessionTx) error {
		c := t.expiry.Cursor()
		var doomed []UploadSession
		var stale [][]byte
		for k, _ := c.First(); k != nil && len(doomed) < limit; k, _ = c.Next() {
			if len(k) < 8 || int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
				break
			}
			u, found, err := t.get(string(k[8:]))
			switch {
			case err != nil:
				return err
			case !found || !u.ExpiresAt.Equal(time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))):
				stale = append(stale, append([]byte(nil), k...))
			default:
				doomed = append(doomed, u)
			}
		}
		for _, k := range stale {
			if err := t.expiry.Delete(k); err != nil {
				return err
			}
		}
		for _, u := range doomed {
			if err := t.drop(u); err != nil {
				return err
			}
		}
		dropped = len(doomed)
		return nil
	})
	return dropped, err
}

// NewVoiceNoteID makes a voice note id: a UUIDv7, as the SDK makes them.
func NewVoiceNoteID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := uint64(now.UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Repair is what Open found left over from a crash and removed, as paths relative to
// the data directory, for the start-up log.
type Repair struct {
	Claim       Claim    // how the directory was taken: "initialised", "adopted", or "" (already the server's)
	Foreign     []string // entries the server did not write, left alone
	TempFiles   []string // uploads that never completed, deletions under way
	StrayFiles  []string // audio files without metadata (a crash between rename and commit, or delete)
	LostRecords []string // metadata whose audio is missing or not the size recorded ("owner/id")
	// DanglingKeys are index entries that named no record, or another record than the one
	// under their id (left by a deletion that raced a re-upload before it re-read what it
	// deleted), and transcripts without their voice note: "by_owner/<owner>/<seq>",
	// "by_seq/<seq>", "by_id/<id>/<owner>", "transcriptions/<owner>/<id>".
	DanglingKeys []string
	// MissingKeys are index entries a record lacked and that were put back, named alike.
	MissingKeys []string
}

// Empty reports whether there was nothing to repair.
func (r Repair) Empty() bool {
	return len(r.TempFiles)+len(r.StrayFiles)+len(r.LostRecords)+len(r.DanglingKeys)+len(r.MissingKeys) == 0
}

// repair removes everything a crash may have left behind, so that only whole voice notes
// remain: first the records without their audio, then the files without a record.
func (s *Store) repair() (Repair, error) {
	var r Repair
	temps, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return r, err
	}
	for _, e := range temps {
		if !isOwnTemp(e) {
			r.Foreign = append(r.Foreign, filepath.Join("tmp", e.Name()))
			continue
		}
		if err := os.Remove(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return r, err
		}
		r.TempFiles = append(r.TempFiles, filepath.Join("tmp", e.Name()))
	}
	if r.LostRecords, err = s.dropRecordsWithoutAudio(); err != nil {
		return r, err
	}
	if r.DanglingKeys, r.MissingKeys, err = s.mendIndexes(); err != nil {
		return r, err
	}
	r.StrayFiles, r.Foreign, err = s.removeFilesWithoutRecord(r.Foreign)
	return r, err
}

func (s *Store) dropRecordsWithoutAudio() (lost []string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		var doomed []VoiceNote
		err := notes.ForEach(func(k, raw []byte) error {
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			info, err := os.Stat(s.audioPath(n.Owner, n.ID))
			if err == nil && info.Mode().IsRegular() && info.Size() == n.Size {
				return nil
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			doomed = append(doomed, n)
			return nil
		})
		if err != nil {
			return err
		}
		// bbolt forbids changing a bucket while iterating it.
		for _, n := range doomed {
			if err := deleteRecord(tx, n); err != nil {
				return err
			}
			lost = append(lost, string(n.Owner)+"/"+n.ID)
		}
		return nil
	})
	return lost, err
}

// mendIndexes makes the indexes name exactly the records: an entry whose record is
// missing, or is another note (another Seq) under the same id, is removed, since List
// would otherwise meet it; a record's missing entry is put back. Transcripts without
// their record go too: a later upload under the id would otherwise inherit one.
func (s *Store) mendIndexes() (dangling, missing []string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		type doomedKey struct {
			bucket []byte
			key    []byte
		}
		var doomed []doomedKey
		drop := func(bucket, key []byte, name string) {
			doomed = append(doomed, doomedKey{bucket, slices.Clone(key)})
			dangling = append(dangling, name)
		}
		// names reports whether a record (owner, id) exists with that Seq.
		names := func(owner Owner, id string, seq uint64) (bool, error) {
			n, found, err := noteIn(tx, owner, id)
			return found && n.Seq == seq, err
		}
		err := tx.Bucket(orderBucket).ForEach(func(k, v []byte) error {
			name := "by_owner/" + hex.EncodeToString(k)
			if len(k) != ownerLen+8 {
				drop(orderBucket, k, name)
				return nil
			}
			owner, seq := Owner(k[:ownerLen]), binary.BigEndian.Uint64(k[ownerLen:])
			name = fmt.Sprintf("by_owner/%s/%d", owner, seq)
			ok, err := names(owner, string(v), seq)
			if err == nil && !ok {
				drop(orderBucket, k, name)
			}
			return err
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(seqBucket).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				drop(seqBucket, k, "by_seq/"+hex.EncodeToString(k))
				return nil
			}
			seq := binary.BigEndian.Uint64(k)
			owner, id, _ := strings.Cut(string(v), "/")
			ok, err := names(Owner(owner), id, seq)
			if err == nil && !ok {
				drop(seqBucket, k, fmt.Sprintf("by_seq/%d", seq))
			}
			return err
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(idBucket).ForEach(func(k, v []byte) error {
			id, owner, _ := strings.Cut(string(k), "/")
			ok := false
			if len(v) == 8 {
				var err error
				if ok, err = names(Owner(owner), id, binary.BigEndian.Uint64(v)); err != nil {
					return err
				}
			}
			if !ok {
				drop(idBucket, k, "by_id/"+string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		notes := tx.Bucket(notesBucket)
		if b := tx.Bucket(transcriptsBucket); b != nil {
			err = b.ForEach(func(k, _ []byte) error {
				if notes.Get(k) == nil {
					drop(transcriptsBucket, k, "transcriptions/"+string(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, d := range doomed { // bbolt forbids changing a bucket while iterating it
			if err := tx.Bucket(d.bucket).Delete(d.key); err != nil {
				return err
			}
		}
		var records []VoiceNote
		err = notes.ForEach(func(_, raw []byte) error {
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			records = append(records, n)
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range records {
			for _, e := range []struct {
				bucket, key, value []byte
				name               string
			}{
				{orderBucket, orderKey(n.Owner, n.Seq), []byte(n.ID), fmt.Sprintf("by_owner/%s/%d", n.Owner, n.Seq)},
				{seqBucket, seqKey(n.Seq), noteKey(n.Owner, n.ID), fmt.Sprintf("by_seq/%d", n.Seq)},
				{idBucket, idKey(n.ID, n.Owner), seqKey(n.Seq), "by_id/" + string(idKey(n.ID, n.Owner))},
			} {
				if b := tx.Bucket(e.bucket); !bytes.Equal(b.Get(e.key), e.value) {
					if err := b.Put(e.key, e.value); err != nil {
						return err
					}
					missing = append(missing, e.name)
				}
			}
		}
		return nil
	})
	return dangling, missing, err
}

// removeFilesWithoutRecord removes audio files of the server's layout (audio/<owner>/<uuid>)
// that no record names. Anything else under audio/ is not the server's: it is reported
// and left where it is.
func (s *Store) removeFilesWithoutRecord(foreign []string) (stray, _ []string, err error) {
	owners, err := os.ReadDir(s.audioDir)
	if err != nil {
		return nil, foreign, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		for _, o := range owners {
			dir := filepath.Join(s.audioDir, o.Name())
			owner, ok := ParseOwner(o.Name())
			if !ok || !o.IsDir() {
				foreign = append(foreign, filepath.Join("audio", o.Name()))
				continue
			}
			files, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, f := range files {
				id, ok := ParseID(f.Name())
				if !ok || id != f.Name() || !f.Type().IsRegular() {
					foreign = append(foreign, filepath.Join("audio", o.Name(), f.Name()))
					continue
				}
				if notes.Get(noteKey(owner, id)) != nil {
					continue
				}
				if err := os.Remove(filepath.Join(dir, f.Name())); err != nil {
					return err
				}
				stray = append(stray, filepath.Join("audio", o.Name(), f.Name()))
			}
			_ = os.Remove(dir) // only succeeds when the owner has nothing left
		}
		return nil
	})
	return stray, foreign, err
}

package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

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
}

// Empty reports whether there was nothing to repair.
func (r Repair) Empty() bool {
	return len(r.TempFiles)+len(r.StrayFiles)+len(r.LostRecords) == 0
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
	r.StrayFiles, r.Foreign, err = s.removeFilesWithoutRecord(r.Foreign)
	return r, err
}

func (s *Store) dropRecordsWithoutAudio() (lost []string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		notes, order := tx.Bucket(notesBucket), tx.Bucket(orderBucket)
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
			if err := notes.Delete(noteKey(n.Owner, n.ID)); err != nil {
				return err
			}
			if err := order.Delete(orderKey(n.Owner, n.Seq)); err != nil {
				return err
			}
			if err := deleteAccountIndex(tx, n); err != nil {
				return err
			}
			if err := deleteTranscript(tx, n); err != nil {
				return err
			}
			lost = append(lost, string(n.Owner)+"/"+n.ID)
		}
		return nil
	})
	return lost, err
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

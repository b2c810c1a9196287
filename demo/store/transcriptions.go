package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A voice note's transcription, or why there is none, is kept beside its record and
// goes with it: Finish writes it with the note's new status and the events that say so,
// in one transaction, and Delete removes it.
var transcriptsBucket = []byte("transcriptions") // owner "/" id → Transcript JSON

// Word is one recognised word, with its times in seconds from the start of the recording.
type Word struct {
	Word       string  `json:"word"`
	Start      float64 `json:"start_time"`
	End        float64 `json:"end_time"`
	Confidence float64 `json:"confidence"`
}

// Transcript is what the transcriber made of a voice note: its text, or the reason
// there is none (Failed).
type Transcript struct {
	ID         string    `json:"id"`
	Text       string    `json:"text"`
	Confidence float64   `json:"confidence"`
	Language   string    `json:"language"`
	Words      []Word    `json:"words"`
	CreatedAt  time.Time `json:"created_at"`
	Failed     bool      `json:"failed,omitempty"`
	Reason     string    `json:"reason,omitempty"` // why it failed, for 3003's details
}

// Processing returns up to limit voice notes still processing, oldest first: the order
// in which they arrived, which is the order they are transcribed in.
func (s *Store) Processing(after uint64, limit int) (notes []VoiceNote, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(notesBucket)
		c := tx.Bucket(seqBucket).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(notes) < limit; k, v = c.Next() {
			raw := all.Get(v)
			if raw == nil {
				continue
			}
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			if n.State() == StatusProcessing {
				notes = append(notes, n)
			}
		}
		return nil
	})
	return notes, err
}

// Finish records the end of a voice note's transcription: the transcript (or its
// failure), the note's status and updated_at, and the event that says so, all at once.
// A note deleted meanwhile, or replaced (another Seq), is left alone: found is false
// and no event is recorded.
func (s *Store) Finish(n VoiceNote, t Transcript, at time.Time, events ...EventFunc) (stored VoiceNote, found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		raw := notes.Get(noteKey(n.Owner, n.ID))
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, &stored); err != nil {
			return err
		}
		if stored.Seq != n.Seq || stored.State() != StatusProcessing {
			return nil
		}
		found = true
		stored.Status, stored.UpdatedAt = StatusTranscribed, at
		if t.Failed {
			stored.Status = StatusFailed
		}
		rawNote, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		if err := notes.Put(noteKey(n.Owner, n.ID), rawNote); err != nil {
			return err
		}
		rawT, err := json.Marshal(t)
		if err != nil {
			return err
		}
		transcripts, err := tx.CreateBucketIfNotExists(transcriptsBucket)
		if err != nil {
			return err
		}
		if err := transcripts.Put(noteKey(n.Owner, n.ID), rawT); err != nil {
			return err
		}
		return recordEvents(tx, stored, events)
	})
	if !found {
		return VoiceNote{}, false, err
	}
	return stored, true, err
}

// Transcript returns a voice note's transcript, found false while there is none.
func (s *Store) Transcript(n VoiceNote) (t Transcript, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(transcriptsBucket)
		if b == nil {
			return nil
		}
		raw := b.Get(noteKey(n.Owner, n.ID))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &t)
	})
	return t, found, err
}

// deleteTranscript removes a voice note's transcript with the note.
func deleteTranscript(tx *bolt.Tx, n VoiceNote) error {
	if b := tx.Bucket(transcriptsBucket); b != nil {
		return b.Delete(noteKey(n.Owner, n.ID))
	}
	return nil
}

// AudioPath is where a voice note's audio lies, for a reader outside the store (the
// transcriber's decoder). The file may be gone by the time it is opened: the note was
// deleted meanwhile.
func (s *Store) AudioPath(n VoiceNote) (string, error) {
	if _, ok := ParseOwner(string(n.Owner)); !ok {
		return "", fmt.Errorf("store: not an owner: %q", n.Owner)
	}
	if id, ok := ParseID(n.ID); !ok || id != n.ID {
		return "", fmt.Errorf("store: not a voice note id: %q", n.ID)
	}
	return s.audioPath(n.Owner, n.ID), nil
}

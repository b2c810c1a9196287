package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The account's view: a backend with the API key reads every identity's voice notes,
// by id alone and in one newest-first list. Two indexes serve it, written in the same
// transaction as the record: by_seq orders every voice note, by_id finds an id's owner.

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func idKey(id string, owner Owner) []byte { return []byte(id + "/" + string(owner)) }

func putAccountIndex(tx *bolt.Tx, n VoiceNote) error {
	if err := tx.Bucket(seqBucket).Put(seqKey(n.Seq), noteKey(n.Owner, n.ID)); err != nil {
		return err
	}
	return tx.Bucket(idBucket).Put(idKey(n.ID, n.Owner), seqKey(n.Seq))
}

func deleteAccountIndex(tx *bolt.Tx, n VoiceNote) error {
	if err := tx.Bucket(seqBucket).Delete(seqKey(n.Seq)); err != nil {
		return err
	}
	return tx.Bucket(idBucket).Delete(idKey(n.ID, n.Owner))
}

// indexAccount makes the account-wide indexes, and fills them from the records of a
// data directory written before they existed.
func indexAccount(tx *bolt.Tx) error {
	bySeq, err := tx.CreateBucketIfNotExists(seqBucket)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(idBucket); err != nil {
		return err
	}
	if k, _ := bySeq.Cursor().First(); k != nil {
		return nil
	}
	var notes []VoiceNote
	err = tx.Bucket(notesBucket).ForEach(func(_, raw []byte) error {
		var n VoiceNote
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		notes = append(notes, n)
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range notes {
		if err := putAccountIndex(tx, n); err != nil {
			return err
		}
	}
	return nil
}

// Find returns the voice note with that id, whoever's it is. Ids are unique per
// identity: were one id used by two identities, the older voice note is the one found.
func (s *Store) Find(id string) (n VoiceNote, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(id + "/")
		c := tx.Bucket(idBucket).Cursor()
		var first []byte
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if first == nil || bytes.Compare(v, first) < 0 {
				first = v
			}
		}
		if first == nil {
			return nil
		}
		raw := tx.Bucket(notesBucket).Get(tx.Bucket(seqBucket).Get(first))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &n)
	})
	return n, found, err
}

// Filter selects voice notes for a list. Zero fields select everything.
type Filter struct {
	Owner    Owner     // one identity's; "" every identity's (the account's view)
	Status   string    // one of Statuses
	From, To time.Time // created at or after From, at or before To
	Before   uint64    // only those older than this sequence number (a list cursor)
}

func (f Filter) matches(n VoiceNote) bool {
	return (f.Status == "" || n.State() == f.Status) &&
		(f.From.IsZero() || !n.CreatedAt.Before(f.From)) &&
		(f.To.IsZero() || !n.CreatedAt.After(f.To))
}

// Page returns the voice notes f selects, newest first, skipping the first offset and
// keeping at most limit; total counts every one f selects (Before aside: a cursor
// moves through the list, it does not shrink it). The whole selection is walked: the
// local API holds a developer's voice notes, not a service's.
func (s *Store) Page(f Filter, offset, limit int) (page []VoiceNote, total int, more bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		notes := tx.Bucket(notesBucket)
		var c *bolt.Cursor
		var within func(k []byte) bool
		var record func(k, v []byte) []byte
		if f.Owner != "" {
			c = tx.Bucket(orderBucket).Cursor()
			within = func(k []byte) bool { return len(k) == ownerLen+8 && Owner(k[:ownerLen]) == f.Owner }
			record = func(_, v []byte) []byte { return notes.Get(noteKey(f.Owner, string(v))) }
		} else {
			c = tx.Bucket(seqBucket).Cursor()
			within = func(k []byte) bool { return len(k) == 8 }
			record = func(_, v []byte) []byte { return notes.Get(v) }
		}
		k, v := c.Last()
		if f.Owner != "" {
			// The owner's keys end where the next owner's begin.
			if k, v = c.Seek(orderKey(f.Owner, ^uint64(0))); k == nil {
				k, v = c.Last()
			} else if !bytes.Equal(k, orderKey(f.Owner, ^uint64(0))) {
				k, v = c.Prev()
			}
		}
		skipped := 0
		for ; k != nil && within(k); k, v = c.Prev() {
			raw := record(k, v)
			if raw == nil {
				continue // an index entry whose record is gone: nothing to show
			}
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			if n.Seq != binary.BigEndian.Uint64(k[len(k)-8:]) {
				continue // a stale entry: the id holds a newer note, listed under its own key
			}
			if !f.matches(n) {
				continue
			}
			total++
			if f.Before != 0 && n.Seq >= f.Before {
				continue
			}
			switch {
			case skipped < offset:
				skipped++
			case len(page) < limit:
				page = append(page, n)
			default:
				more = true
			}
		}
		return nil
	})
	return page, total, more, err
}

// Usage counts the account's voice notes and their seconds of audio.
func (s *Store) Usage() (count int, seconds float64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(notesBucket).ForEach(func(k, raw []byte) error {
			if !strings.Contains(string(k), "/") {
				return nil
			}
			var n VoiceNote
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			count++
			seconds += n.Duration
			return nil
		})
	})
	return count, seconds, err
}

package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// StoredBytes is the audio the owner keeps: the sum of its voice notes' sizes, counted
// from the records themselves, so it is never out of step with them (a storage quota is
// checked against it). Each record is read only as far as its size: metadata, which
// comes after it and may be 16 KB, is not decoded.
func (s *Store) StoredBytes(owner Owner) (total int64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(string(owner) + "/")
		c := tx.Bucket(notesBucket).Cursor()
		for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			size, err := recordSize(raw)
			if err != nil {
				return fmt.Errorf("voice note %s: %w", k, err)
			}
			total += size
		}
		return nil
	})
	return total, err
}

// recordSize reads a VoiceNote record's "size" without decoding the rest of it.
func recordSize(raw []byte) (int64, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, fmt.Errorf("not a JSON object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, err
		}
		if key == "size" {
			var size int64
			err := dec.Decode(&size)
			return size, err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, err
		}
	}
	return 0, nil // no size recorded: nothing to count
}

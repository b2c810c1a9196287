package store

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"
)

// The names of the server's own temporary files in tmp/: nothing else there is removed.
const (
	uploadPrefix = "upload-"
	deletePrefix = "delete-"
)

// Upload is audio on its way in: a temporary file in the data directory, hashed as it is
// written, so that an upload is never held in memory and is checked where it lies. It
// becomes a voice note only through Commit; Discard throws it away.
type Upload struct {
	file *os.File
	path string
	hash hash.Hash
	size int64
	gone bool
}

// NewUpload starts an upload.
func (s *Store) NewUpload() (*Upload, error) {
	f, err := os.CreateTemp(s.tmpDir, uploadPrefix+"*")
	if err != nil {
		return nil, err
	}
	return &Upload{file: f, path: f.Name(), hash: sha256.New()}, nil
}

// Write appends to the upload.
func (u *Upload) Write(p []byte) (int, error) {
	n, err := u.file.Write(p)
	u.hash.Write(p[:n])
	u.size += int64(n)
	return n, err
}

// ReadAt reads what has been written, for probing the audio before it is committed.
func (u *Upload) ReadAt(p []byte, off int64) (int, error) { return u.file.ReadAt(p, off) }

// Size is the number of bytes written so far.
func (u *Upload) Size() int64 { return u.size }

// SHA256 is the hex SHA-256 of the bytes written so far.
func (u *Upload) SHA256() string { return hex.EncodeToString(u.hash.Sum(nil)) }

// finish makes the bytes durable and closes the file, ready to be renamed into place.
func (u *Upload) finish() error {
	if err := u.file.Sync(); err != nil {
		return err
	}
	return u.file.Close()
}

// Discard closes and removes the temporary file. It is safe to call more than once, and
// after Commit has moved the file into place (the rename left nothing to remove).
func (u *Upload) Discard() {
	if u.gone {
		return
	}
	u.gone = true
	_ = u.file.Close()
	_ = os.Remove(u.path)
}

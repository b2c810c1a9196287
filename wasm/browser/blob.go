//go:build js && wasm

package browser

import (
	"errors"
	"fmt"
	"io"

	"github.com/hack-pad/safejs"
)

// blobReader reads a Blob through io.ReaderAt, one slice at a time: the audio stays in
// JavaScript and only the bytes a parser asks for enter wasm memory. A window of
// readAhead bytes is kept, since parsers read many small pieces in order.
type blobReader struct {
	b      boundary
	blob   safejs.Value
	size   int64
	window []byte
	start  int64 // offset of window in the blob
}

const readAhead = 64 << 10

func newBlobReader(b boundary, blob safejs.Value) (*blobReader, error) {
	v, err := blob.Get("size")
	if err != nil {
		return nil, err
	}
	size, err := v.Float()
	if err != nil {
		return nil, fmt.Errorf("not a Blob: %w", err)
	}
	return &blobReader{b: b, blob: blob, size: int64(size)}, nil
}

func (r *blobReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= r.size {
			return n, io.EOF
		}
		if at < r.start || at >= r.start+int64(len(r.window)) {
			if err := r.fill(at, len(p)-n); err != nil {
				return n, err
			}
		}
		n += copy(p[n:], r.window[at-r.start:])
	}
	return n, nil
}

// heldBytes reads a file already in hand, a Uint8Array, with no trip: it is the window.
func heldBytes(b boundary, bytes safejs.Value) (*blobReader, error) {
	n, err := bytes.Length()
	if err != nil {
		return nil, err
	}
	r := &blobReader{b: b, blob: safejs.Undefined(), size: int64(n), window: make([]byte, n)}
	_, err = safejs.CopyBytesToGo(r.window, bytes)
	return r, err
}

// fill loads the window starting at off, at least want bytes (up to the end of the blob).
func (r *blobReader) fill(off int64, want int) error {
	length := int64(max(want, readAhead))
	end := min(off+length, r.size)
	slice, err := r.blob.Call("slice", off, end)
	if err != nil {
		return jsError(err)
	}
	promise, err := slice.Call("arrayBuffer")
	if err != nil {
		return jsError(err)
	}
	buf, err := r.b.await(promise)
	if err != nil {
		return err
	}
	bytes, err := global("Uint8Array").New(buf)
	if err != nil {
		return jsError(err)
	}
	if cap(r.window) < int(end-off) {
		r.window = make([]byte, end-off)
	}
	r.window = r.window[:end-off]
	if _, err := safejs.CopyBytesToGo(r.window, bytes); err != nil {
		return err
	}
	r.start = off
	return nil
}

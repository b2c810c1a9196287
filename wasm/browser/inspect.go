//go:build js && wasm

package browser

import (
	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/wasm/recorder"
)

// inspectRecording reads a finished recording's container: a WebM that MediaRecorder
// left without a duration gets one (so players show its length and can seek), and the
// duration the container states is returned (0 when it cannot be read). The repaired
// Blob is the new header followed by a slice of the original; wasm memory holds at most
// the reader's window of it.
func inspectRecording(b boundary, blob safejs.Value, mime string) (safejs.Value, float64) {
	r, err := newBlobReader(b, blob)
	if err != nil {
		return blob, 0
	}
	return inspectFile(r, blob, mime)
}

// inspectRead is inspectRecording of a MediaRecorder take whose chunks were read as they
// came (read, a promise of the file's bytes): the stop makes no trip to a Blob, and the
// recording's one Blob is made of those bytes, not of its many chunks (each chunk a Blob
// part costs Chromium about 0.1 ms).
func inspectRead(b boundary, read safejs.Value, mime string) (safejs.Value, float64, error) {
	bytes, err := b.await(read)
	if err != nil {
		return bytes, 0, err
	}
	r, err := heldBytes(b, bytes)
	if err != nil {
		return bytes, 0, err
	}
	finished, duration := inspectFile(r, bytes, mime)
	if finished.Equal(bytes) { // nothing repaired: the bytes as they are
		finished, err = spliceBlob(nil, bytes, 0, mime)
	}
	return finished, duration, err
}

// inspectFile does inspectRecording's reading from r; source is the file the repaired
// one's tail is sliced from (a Blob, or a Uint8Array of its bytes), and what is answered
// when nothing is repaired.
func inspectFile(r *blobReader, source safejs.Value, mime string) (safejs.Value, float64) {
	if recorder.FormatOfMIME(mime) == "webm" {
		// One reading gives the repair and the repaired file's duration.
		head, tailFrom, ok, info, err := audio.Repair(r, r.size)
		if err == nil {
			if !ok {
				return source, info.Duration
			}
			if repaired, err := spliceBlob(head, source, tailFrom, mime); err == nil {
				return repaired, info.Duration
			}
		}
	}
	info, err := audio.Probe(r, r.size)
	if err != nil {
		return source, 0
	}
	return source, info.Duration
}

// spliceBlob makes a Blob of head followed by blob's bytes from tailFrom on (blob a Blob
// or a Uint8Array: both slice).
func spliceBlob(head []byte, blob safejs.Value, tailFrom int64, mime string) (safejs.Value, error) {
	u8, err := bytesToJS(head)
	if err != nil {
		return safejs.Undefined(), err
	}
	tail, err := blob.Call("slice", tailFrom)
	if err != nil {
		return safejs.Undefined(), jsError(err)
	}
	parts, err := safejs.ValueOf([]any{safejs.Unsafe(u8), safejs.Unsafe(tail)})
	if err != nil {
		return safejs.Undefined(), err
	}
	return newBlob(parts, mime)
}

// bytesToJS copies b into a new Uint8Array.
func bytesToJS(b []byte) (safejs.Value, error) {
	u8, err := global("Uint8Array").New(len(b))
	if err != nil {
		return u8, jsError(err)
	}
	_, err = safejs.CopyBytesToJS(u8, b)
	return u8, err
}

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
// Blob is the new header followed by a slice of the original: the recording is never
// copied whole into wasm memory.
func inspectRecording(b boundary, blob safejs.Value, mime string) (safejs.Value, float64) {
	r, err := newBlobReader(b, blob)
	if err != nil {
		return blob, 0
	}
	if recorder.FormatOfMIME(mime) == "webm" {
		// One reading gives the repair and the repaired file's duration.
		head, tailFrom, ok, info, err := audio.Repair(r, r.size)
		if err == nil {
			if !ok {
				return blob, info.Duration
			}
			if repaired, err := spliceBlob(head, blob, tailFrom, mime); err == nil {
				return repaired, info.Duration
			}
		}
	}
	info, err := audio.Probe(r, r.size)
	if err != nil {
		return blob, 0
	}
	return blob, info.Duration
}

// spliceBlob makes a Blob of head followed by blob's bytes from tailFrom on.
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

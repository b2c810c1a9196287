//go:build js && wasm

package browser

import (
	"sync"
	"syscall/js"
	"time"

	"github.com/hack-pad/safejs"
)

// audioBitsPerSecond: Opus at 32 kb/s is transparent for a single voice, and a
// 60-second note stays near 240 KB.
const audioBitsPerSecond = 32000

// mediaRecorderCapture records with the browser's MediaRecorder, in one-second slices
// that go to the journal as they come and into one Blob at the stop event; the chunks
// stay in JavaScript.
type mediaRecorderCapture struct {
	recorder safejs.Value
	b        boundary
	unlisten []func()
	stopped  bool         // the stop event has come
	onHang   func(string) // reports a recorder that never delivers
	onFail   func(error)  // reports a pause or resume the recorder refused
}

// warmReading reads the page's first recorded chunk, while it records, as the stop will
// read the whole file: a browser compiles a wasm function the first time it runs, and
// the stop would otherwise pay for compiling the container's reader and repair.
var warmReading sync.Once

// stopDeadline bounds the wait for the stop event, so a recorder that never delivers
// cannot keep the microphone open.
const stopDeadline = 5 * time.Second

func (c *Control) startMediaRecorder(n int, t *take) capture {
	mc := &mediaRecorderCapture{recorder: safejs.Undefined(), b: c.b}
	mc.onHang = func(state string) {
		c.loop.post(func() {
			if !mc.stopped {
				c.machine.Fail(n, mediaFailure("MediaRecorder", DOMError{Name: "AbortError",
					Message: "the recorder did not finish (state " + state + ")"}, time.Now()))
			}
		})
	}
	mc.onFail = func(err error) { c.fail(n, mediaFailure("MediaRecorder", err, time.Now())) }
	failed := func(err error) {
		mc.release()
		c.settled(n, t)
		mc.onFail(err)
	}
	opts := must(safejs.ValueOf(map[string]any{"mimeType": t.choice.MIME, "audioBitsPerSecond": audioBitsPerSecond}))
	rec, err := global("MediaRecorder").New(t.stream, opts)
	if err != nil {
		failed(jsError(err))
		return mc
	}
	mc.recorder = rec
	chunks := js.Global().Get("Array").New()
	reads := js.Global().Get("Array").New() // each chunk's bytes, read as it comes: the stop finds them in hand
	mime := t.choice.MIME
	handlers := []struct {
		event string
		on    func(ev safejs.Value)
	}{
		// A BlobEvent's data is a Blob, whose size and type cannot throw: the listener's
		// boundary reports what would.
		{"dataavailable", func(ev safejs.Value) {
			// Pushed right here, not posted, so every chunk is in before the stop event.
			data := prop(ev, "data")
			if propNumber(data, "size") > 0 {
				chunks.Call("push", safejs.Unsafe(data))
				reads.Call("push", safejs.Unsafe(data).Call("arrayBuffer"))
				t.journalChunk(data)
				warmReading.Do(func() { c.b.spawn(func() { inspectRecording(c.b, data, mime) }) })
			}
			// The recorder's own type names the codec it really used.
			if m := propString(data, "type"); m != "" {
				mime = m
			}
		}},
		{"start", func(safejs.Value) { c.captureStarted(n, t) }},
		{"stop", func(safejs.Value) {
			mc.stopped = true
			mc.release()
			c.loop.post(func() {
				read, err := makers.recorded.Invoke(safejs.Safe(chunks), safejs.Safe(reads), mime)
				if err != nil {
					c.settled(n, t)
					c.machine.Fail(n, mediaFailure("Blob", err, time.Now()))
					return
				}
				c.captureFinished(n, t, read, mime)
			})
		}},
		{"error", func(ev safejs.Value) {
			c.fail(n, mediaFailure("MediaRecorder", domError(prop(ev, "error")), time.Now()))
		}},
	}
	for _, h := range handlers {
		release, err := c.b.listen(rec, h.event, h.on)
		if err != nil {
			failed(err)
			return mc
		}
		mc.unlisten = append(mc.unlisten, release)
	}
	// In one-second slices, each written to the journal as it comes.
	if err := callMethod(rec, "start", journalSlice); err != nil {
		failed(err) // no stop event will come
	}
	return mc
}

func (mc *mediaRecorderCapture) release() {
	for _, release := range mc.unlisten {
		release()
	}
	mc.unlisten = nil
}

func (mc *mediaRecorderCapture) pause()  { mc.call("recording", "pause") }
func (mc *mediaRecorderCapture) resume() { mc.call("paused", "resume") }

// call calls a method of the recorder when it is in the state that method needs; one it
// refuses fails the take, whose file would otherwise hold the paused time.
func (mc *mediaRecorderCapture) call(state, method string) {
	if mc.state() == state {
		if err := callMethod(mc.recorder, method); err != nil {
			mc.onFail(err)
		}
	}
}

// state is the recorder's state.
func (mc *mediaRecorderCapture) state() string { return propString(mc.recorder, "state") }

func (mc *mediaRecorderCapture) stop() {
	if mc.recorder.IsUndefined() {
		return
	}
	if state := mc.state(); state != "inactive" {
		if err := callMethod(mc.recorder, "stop"); err != nil {
			mc.onHang(state + ", and stop threw " + err.Error()) // no stop event will come
			return
		}
		mc.b.after(stopDeadline, func() { mc.onHang(state) })
	}
}

// abort stops the recorder; its stop event finds the take discarded.
func (mc *mediaRecorderCapture) abort() { mc.stop() }

func newBlob(parts safejs.Value, mime string) (safejs.Value, error) {
	opts, err := safejs.ValueOf(map[string]any{"type": mime})
	if err != nil {
		return opts, err
	}
	blob, err := global("Blob").New(parts, opts)
	return blob, jsError(err)
}

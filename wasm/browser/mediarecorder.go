//go:build js && wasm

package browser

import (
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
}

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
	failed := func(err error) {
		mc.release()
		c.settled(n, t)
		c.fail(n, mediaFailure("MediaRecorder", err, time.Now()))
	}
	ctor, _ := safejs.Global().Get("MediaRecorder")
	opts, _ := safejs.ValueOf(map[string]any{"mimeType": t.choice.MIME, "audioBitsPerSecond": audioBitsPerSecond})
	rec, err := ctor.New(t.stream, opts)
	if err != nil {
		failed(jsError(err))
		return mc
	}
	mc.recorder = rec
	array, _ := safejs.Global().Get("Array")
	chunks, _ := array.New()
	mime := t.choice.MIME
	handlers := map[string]func(ev safejs.Value){
		"dataavailable": func(ev safejs.Value) {
			// Pushed right here, not posted, so every chunk is in before the stop event.
			if data, err := ev.Get("data"); err == nil {
				if size, _ := data.Get("size"); size.Type() == safejs.TypeNumber {
					if s, _ := size.Int(); s > 0 {
						_, _ = chunks.Call("push", data)
						t.journalChunk(data)
					}
					// The recorder's own type names the codec it really used.
					if m, _ := stringProp(data, "type"); m != "" {
						mime = m
					}
				}
			}
		},
		"start": func(safejs.Value) { c.captureStarted(n) },
		"stop": func(safejs.Value) {
			mc.stopped = true
			mc.release()
			c.loop.post(func() {
				blob, err := newBlob(chunks, mime)
				if err != nil {
					c.settled(n, t)
					c.machine.Fail(n, mediaFailure("Blob", err, time.Now()))
					return
				}
				c.captureFinished(n, t, blob, mime)
			})
		},
		"error": func(ev safejs.Value) {
			cause, _ := ev.Get("error")
			c.fail(n, mediaFailure("MediaRecorder", domError(cause), time.Now()))
		},
	}
	for event, h := range handlers {
		release, err := c.b.listen(rec, event, h)
		if err != nil {
			failed(err)
			return mc
		}
		mc.unlisten = append(mc.unlisten, release)
	}
	// In one-second slices, each written to the journal as it comes.
	if _, err := rec.Call("start", journalSlice); err != nil {
		failed(jsError(err)) // no stop event will come
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

// call calls a method of the recorder when it is in the state that method needs.
func (mc *mediaRecorderCapture) call(state, method string) {
	if s, _ := stringProp(mc.recorder, "state"); s == state {
		_, _ = mc.recorder.Call(method)
	}
}

func (mc *mediaRecorderCapture) stop() {
	if mc.recorder.IsUndefined() {
		return
	}
	if state, _ := stringProp(mc.recorder, "state"); state != "inactive" {
		_, _ = mc.recorder.Call("stop")
		mc.b.after(stopDeadline, func() { mc.onHang(state) })
	}
}

// abort stops the recorder; its stop event finds the take discarded.
func (mc *mediaRecorderCapture) abort() { mc.stop() }

func newBlob(parts safejs.Value, mime string) (safejs.Value, error) {
	ctor, _ := safejs.Global().Get("Blob")
	opts, _ := safejs.ValueOf(map[string]any{"type": mime})
	blob, err := ctor.New(parts, opts)
	return blob, jsError(err)
}

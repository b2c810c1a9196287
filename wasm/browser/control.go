//go:build js && wasm

package browser

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/recorder"
)

// audioBitsPerSecond: Opus at 32 kb/s is transparent for a single voice, and a
// 60-second note stays near 240 KB.
const audioBitsPerSecond = 32000

// Control is one addVoiceNote: a recorder state machine and the browser objects of its
// takes. Everything below runs on the control's loop goroutine.
type Control struct {
	loop    *loop
	machine *recorder.Machine
	formats []string
	onEvent safejs.Value // the shim's function(kind, payload)
	takes   map[int]*take
}

// take holds the browser objects of one attempt at a recording.
type take struct {
	mime     string
	stream   safejs.Value // MediaStream once getUserMedia resolves
	recorder safejs.Value // MediaRecorder once created
	chunks   safejs.Value // JS array of Blobs: the audio never enters wasm memory
	unlisten []func()
	clock    chan struct{} // closed to stop the progress ticks and the limit
	closed   bool          // the microphone must be (or has been) released
	discard  bool          // the recorder's data is to be thrown away
}

// NewControl makes a control. onEvent receives every event of the recorder.
func NewControl(maxDuration time.Duration, formats []string, onEvent safejs.Value) *Control {
	c := &Control{formats: formats, onEvent: onEvent, takes: map[int]*take{}}
	c.loop = newLoop(c.recoverPanic)
	c.machine = recorder.New(recorder.Config{
		Effects:     c,
		Now:         time.Now,
		NewID:       newID,
		MaxDuration: maxDuration,
	})
	return c
}

func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// The control's commands. Each only posts: it is called from a JavaScript callback.
func (c *Control) Toggle()  { c.loop.post(c.machine.Toggle) }
func (c *Control) Start()   { c.loop.post(c.machine.Start) }
func (c *Control) Stop()    { c.loop.post(c.machine.Stop) }
func (c *Control) Cancel()  { c.loop.post(c.machine.Cancel) }
func (c *Control) Destroy() { c.loop.post(c.machine.Destroy) }

// recoverPanic keeps a bug in one take from ending the Go program: the take's
// microphone is released and the page hears INTERNAL_ERROR.
func (c *Control) recoverPanic(p any) {
	for n := range c.takes {
		c.DiscardRecorder(n)
		c.StopClock(n)
		c.CloseMicrophone(n)
	}
	err := catalog.Newf(catalog.InternalError, nil, time.Now(), "recorder panicked: %v", p)
	if s := c.machine.State(); s == recorder.Requesting || s == recorder.Recording || s == recorder.Processing {
		c.machine.Fail(c.machine.Take(), err)
		return
	}
	c.Emit(recorder.Event{Kind: recorder.Errored, Err: err})
}

func (c *Control) fail(n int, err *catalog.Error) {
	c.loop.post(func() { c.machine.Fail(n, err) })
}

// checkSupport finds the MediaRecorder type to use, or says why this browser cannot record.
func (c *Control) checkSupport() (string, *catalog.Error) {
	g := safejs.Global()
	notSupported := func(reason string) (string, *catalog.Error) {
		return "", catalog.Newf(catalog.NotSupported, map[string]any{"reason": reason}, time.Now(),
			"this browser cannot record: %s", reason)
	}
	if secure, _ := g.Get("isSecureContext"); secure.Type() == safejs.TypeBoolean {
		if ok, _ := secure.Bool(); !ok {
			return notSupported("the page is not a secure context (https or localhost)")
		}
	}
	nav, _ := g.Get("navigator")
	devices, err := nav.Get("mediaDevices")
	if err != nil || devices.Type() != safejs.TypeObject || !isFunction(devices, "getUserMedia") {
		return notSupported("navigator.mediaDevices.getUserMedia is missing")
	}
	mr, err := g.Get("MediaRecorder")
	if err != nil || mr.Type() != safejs.TypeFunction {
		return notSupported("MediaRecorder is missing")
	}
	mime, _, ok := recorder.ChooseMIME(c.formats, func(m string) bool {
		v, err := mr.Call("isTypeSupported", m)
		if err != nil {
			return false
		}
		yes, _ := v.Bool()
		return yes
	})
	if !ok {
		return notSupported(fmt.Sprintf("MediaRecorder makes none of the formats %v", c.formats))
	}
	return mime, nil
}

// OpenMicrophone asks for a mono voice stream.
func (c *Control) OpenMicrophone(n int) {
	mime, unsupported := c.checkSupport()
	if unsupported != nil {
		c.fail(n, unsupported)
		return
	}
	t := &take{mime: mime, stream: safejs.Undefined(), recorder: safejs.Undefined()}
	c.takes[n] = t
	failed := func(err error) { c.fail(n, mediaFailure("getUserMedia", err, time.Now())) }
	constraints := map[string]any{"audio": map[string]any{
		"channelCount":     map[string]any{"ideal": 1},
		"echoCancellation": true,
		"noiseSuppression": true,
		"autoGainControl":  true,
	}}
	devices, err := getPath(safejs.Global(), "navigator", "mediaDevices")
	if err != nil {
		failed(err)
		return
	}
	js, err := safejs.ValueOf(constraints)
	if err != nil {
		failed(err)
		return
	}
	promise, err := devices.Call("getUserMedia", js)
	if err != nil {
		failed(jsError(err))
		return
	}
	err = settle(promise, func(stream safejs.Value) {
		c.loop.post(func() {
			t.stream = stream
			c.emit("stream", stream) // the shim stops these tracks if the Go program ever dies
			if t.closed {
				c.stopTracks(t)
				return
			}
			c.machine.MicrophoneOpened(n)
		})
	}, failed)
	if err != nil {
		failed(err)
	}
}

// StartRecorder makes the MediaRecorder and starts it without a timeslice, so the whole
// recording arrives as one Blob that carries its duration.
func (c *Control) StartRecorder(n int) {
	t := c.takes[n]
	if t == nil {
		return
	}
	failed := func(err error) { c.fail(n, mediaFailure("MediaRecorder", err, time.Now())) }
	ctor, _ := safejs.Global().Get("MediaRecorder")
	opts, _ := safejs.ValueOf(map[string]any{"mimeType": t.mime, "audioBitsPerSecond": audioBitsPerSecond})
	rec, err := ctor.New(t.stream, opts)
	if err != nil {
		failed(jsError(err))
		return
	}
	t.recorder = rec
	array, _ := safejs.Global().Get("Array")
	t.chunks, _ = array.New()
	handlers := map[string]func(ev safejs.Value){
		"dataavailable": func(ev safejs.Value) {
			// Pushed right here, not posted, so every chunk is in before the stop event.
			if data, err := ev.Get("data"); err == nil {
				if size, _ := data.Get("size"); size.Type() == safejs.TypeNumber {
					if s, _ := size.Int(); s > 0 {
						_, _ = t.chunks.Call("push", data)
					}
				}
			}
		},
		"start": func(safejs.Value) { c.loop.post(func() { c.machine.RecorderStarted(n) }) },
		"stop":  func(safejs.Value) { c.loop.post(func() { c.recorderStopped(n, t) }) },
		"error": func(ev safejs.Value) {
			cause, _ := ev.Get("error")
			failed(domError(cause))
		},
	}
	for event, h := range handlers {
		release, err := listen(rec, event, h)
		if err != nil {
			unlistenAll(t)
			failed(err)
			return
		}
		t.unlisten = append(t.unlisten, release)
	}
	if _, err := rec.Call("start"); err != nil {
		unlistenAll(t) // no stop event will come
		failed(jsError(err))
	}
}

func unlistenAll(t *take) {
	for _, release := range t.unlisten {
		release()
	}
	t.unlisten = nil
}

func (c *Control) recorderStopped(n int, t *take) {
	unlistenAll(t)
	if t.discard {
		t.chunks = safejs.Undefined()
		c.forget(n)
		return
	}
	mime := t.mime
	if m, _ := stringProp(t.recorder, "mimeType"); m != "" {
		mime = m
	}
	blobCtor, _ := safejs.Global().Get("Blob")
	opts, _ := safejs.ValueOf(map[string]any{"type": mime})
	blob, err := blobCtor.New(t.chunks, opts)
	t.chunks = safejs.Undefined()
	if err != nil {
		c.machine.Fail(n, mediaFailure("Blob", jsError(err), time.Now()))
		return
	}
	size := 0
	if v, err := blob.Get("size"); err == nil {
		size, _ = v.Int()
	}
	c.machine.RecorderStopped(n, recorder.Captured{Audio: blob, MimeType: mime, Size: size})
	c.forget(n)
}

// StopRecorder asks the recorder to finish; its stop event delivers the data.
func (c *Control) StopRecorder(n int) {
	if t := c.takes[n]; t != nil {
		stopRecorder(t)
	}
}

// DiscardRecorder stops the recorder and drops what it made.
func (c *Control) DiscardRecorder(n int) {
	if t := c.takes[n]; t != nil {
		t.discard = true
		stopRecorder(t)
		c.forget(n)
	}
}

func stopRecorder(t *take) {
	if t.recorder.IsUndefined() {
		return
	}
	if state, _ := stringProp(t.recorder, "state"); state != "inactive" {
		_, _ = t.recorder.Call("stop")
	}
}

// CloseMicrophone stops every track of the take's stream, now or as soon as it arrives.
func (c *Control) CloseMicrophone(n int) {
	t := c.takes[n]
	if t == nil {
		return
	}
	t.closed = true
	c.stopTracks(t)
	c.forget(n)
}

func (c *Control) stopTracks(t *take) {
	if t.stream.IsUndefined() {
		return // getUserMedia has not answered; its handler sees t.closed
	}
	if tracks, err := t.stream.Call("getTracks"); err == nil {
		count, _ := tracks.Length()
		for i := 0; i < count; i++ {
			if track, err := tracks.Index(i); err == nil {
				_, _ = track.Call("stop")
			}
		}
	}
	c.emit("streamclosed", t.stream)
}

// forget drops a take once its microphone is released and its recorder is done with.
// A take still waiting for getUserMedia is safe to drop: its handler holds it.
func (c *Control) forget(n int) {
	if t := c.takes[n]; t != nil && t.closed && t.unlisten == nil {
		delete(c.takes, n)
	}
}

// StartClock reports progress and enforces the limit with Go timers, which the runtime
// schedules with setTimeout.
func (c *Control) StartClock(n int, limit time.Duration) {
	t := c.takes[n]
	if t == nil || t.clock != nil {
		return
	}
	stop := make(chan struct{})
	t.clock = stop
	go func() {
		ticks := time.NewTicker(recorder.ProgressInterval)
		deadline := time.NewTimer(limit)
		defer ticks.Stop()
		defer deadline.Stop()
		for {
			select {
			case <-ticks.C:
				c.loop.post(func() { c.machine.Tick(n) })
			case <-deadline.C:
				c.loop.post(func() { c.machine.LimitReached(n) })
				return
			case <-stop:
				return
			}
		}
	}()
}

// StopClock stops the take's ticks and limit.
func (c *Control) StopClock(n int) {
	if t := c.takes[n]; t != nil && t.clock != nil {
		select {
		case <-t.clock:
		default:
			close(t.clock)
		}
	}
}

// Emit hands a recorder event to the shim.
func (c *Control) Emit(e recorder.Event) {
	switch e.Kind {
	case recorder.StateChanged:
		c.emit(string(e.Kind), string(e.State))
	case recorder.Started:
		c.emit(string(e.Kind), nil)
	case recorder.Progressed:
		c.emit(string(e.Kind), map[string]any{"elapsed": e.Elapsed, "remaining": e.Remaining})
	case recorder.Stopped:
		r := e.Recording
		c.emit(string(e.Kind), map[string]any{
			"id": r.ID, "blob": r.Audio, "mimeType": r.MimeType, "format": r.Format,
			"duration": r.Duration, "size": r.Size,
		})
	case recorder.Errored:
		c.emit(string(e.Kind), e.Err.Fields())
	}
}

func (c *Control) emit(kind string, payload any) {
	v, err := safejs.ValueOf(toJS(payload))
	if err != nil {
		v = safejs.Undefined()
	}
	// The shim's handler catches what page callbacks throw; an error here is not ours to act on.
	_, _ = c.onEvent.Invoke(kind, v)
}

func getPath(v safejs.Value, path ...string) (safejs.Value, error) {
	var err error
	for _, p := range path {
		if v, err = v.Get(p); err != nil {
			return v, jsError(err)
		}
	}
	return v, nil
}

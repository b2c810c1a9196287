//go:build js && wasm

package browser

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/recorder"
	"github.com/vocafuse/recorder/wasm/upload"
)

// Control is one addVoiceNote: a recorder state machine and the browser objects of its
// takes. Everything below runs on the control's loop goroutine.
type Control struct {
	loop       *loop
	machine    *recorder.Machine
	formats    []string
	limit      time.Duration
	workletURL string       // the PCM capture's AudioWorklet module
	onEvent    safejs.Value // the shim's function(kind, payload)
	takes      map[int]*take
	client     *Client      // nil: recordings are not uploaded
	metadata   string       // JSON sent with each recording
	outbox     safejs.Value // the shim's outbox: hold(recording) before an upload, settle(id, error) after

	// Browsers (Safari, Firefox) only let an AudioContext run when it is made during a
	// user gesture, and a take reaches Web Audio long after the click. So a click that
	// will start a PCM take makes the AudioContext at once, and the take picks it up.
	mu     sync.Mutex
	idle   bool         // the machine can start a take; a copy kept for the click handler
	primed safejs.Value // an AudioContext made during the last click, not yet used
}

// take holds the browser objects of one attempt at a recording.
type take struct {
	choice  recorder.Choice
	stream  safejs.Value  // MediaStream once getUserMedia resolves
	capture capture       // what turns the stream into audio, once started
	clock   chan struct{} // closed to stop the progress ticks and the limit
	closed  bool          // the microphone must be (or has been) released
	discard bool          // what the capture made is to be thrown away
	busy    bool          // the capture, or the reading of its result, is still under way
}

// capture is one way of recording a stream: MediaRecorder, or PCM through Web Audio.
// It reports through the control's captureStarted, captureFinished and fail.
type capture interface {
	stop()  // finish; the result arrives through captureFinished
	abort() // stop and report nothing
}

// NewControl makes a control. onEvent receives every event of the recorder.
func NewControl(maxDuration time.Duration, formats []string, workletURL string, client *Client, metadata string,
	outbox, onEvent safejs.Value) *Control {
	c := &Control{formats: formats, limit: maxDuration, workletURL: workletURL, onEvent: onEvent, takes: map[int]*take{},
		client: client, metadata: metadata, outbox: outbox, idle: true, primed: safejs.Undefined()}
	c.loop = newLoop(c.recoverPanic)
	c.machine = recorder.New(recorder.Config{
		Effects:     c,
		Now:         time.Now,
		NewID:       newID,
		MaxDuration: maxDuration,
		AutoUpload:  client != nil,
	})
	return c
}

// Upload sends a finished recording; the outcome comes back through the loop. The shim's
// outbox holds the recording first (in IndexedDB, under a lock on its id) and settles it
// after: deleted once stored, kept with its error for the retries otherwise.
func (c *Control) Upload(n int, rec *recorder.Output) {
	blob, _ := rec.Audio.(safejs.Value)
	req := upload.Request{ID: rec.ID, ContentType: rec.MimeType, Size: int64(rec.Size), Metadata: c.metadata}
	go func() {
		ctx := context.Background()
		held := c.outboxCall("hold", map[string]any{
			"id": rec.ID, "blob": blob, "mimeType": rec.MimeType, "format": rec.Format,
			"duration": rec.Duration, "size": rec.Size, "metadata": c.metadata,
		})
		if held.Type() == safejs.TypeObject {
			_, _ = await(ctx, held) // the shim answers even when storage fails: it keeps the recording in memory
		}
		resource, err := c.sendRecovered(ctx, blob, req,
			func(sent, total int64) { c.loop.post(func() { c.machine.UploadProgress(n, sent, total) }) },
			func(trouble *catalog.Error) { c.loop.post(func() { c.machine.UploadTrouble(n, trouble) }) })
		var failure any
		if err != nil {
			failure = safejs.Unsafe(errorValue(err))
		}
		c.outboxCall("settle", rec.ID, failure)
		// A take leaves garbage behind (the windows read from the Blob, the repaired
		// header, the upload's buffers) and wasm memory never shrinks: collect it now,
		// while it is small, rather than let the heap grow to twice its size first.
		runtime.GC()
		c.loop.post(func() {
			if err != nil {
				c.machine.UploadFailed(n, err)
				return
			}
			c.machine.UploadDone(n, resource)
		})
	}()
}

// sendRecovered is client.send on the upload's own goroutine, where a panic would end
// the Go program: it becomes the upload's INTERNAL_ERROR, and the outbox keeps the recording.
func (c *Control) sendRecovered(ctx context.Context, blob safejs.Value, req upload.Request,
	progress func(sent, total int64), trouble func(*catalog.Error)) (resource safejs.Value, err *catalog.Error) {
	defer func() {
		if p := recover(); p != nil {
			resource, err = safejs.Undefined(), catalog.Newf(catalog.InternalError, nil, time.Now(), "upload panicked: %v", p)
		}
	}()
	return c.client.send(ctx, blob, req, progress, trouble)
}

// outboxCall calls a method of the shim's outbox; undefined when there is none.
func (c *Control) outboxCall(name string, args ...any) safejs.Value {
	if c.outbox.Type() != safejs.TypeObject {
		return safejs.Undefined()
	}
	for i, a := range args {
		args[i] = toJS(a)
	}
	v, _ := c.outbox.Call(name, args...)
	return v
}

// CancelUpload lets a take's upload go on without the control: a recording that has
// stopped is never discarded, and the outbox settles it whatever the control does.
func (c *Control) CancelUpload(int) {}

func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// The control's commands. Each only posts: it is called from a JavaScript callback.
func (c *Control) Toggle()  { c.primeAudio(); c.loop.post(c.machine.Toggle) }
func (c *Control) Start()   { c.primeAudio(); c.loop.post(c.machine.Start) }
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

// checkSupport chooses how to record, or says why this browser cannot.
func (c *Control) checkSupport() (recorder.Choice, *catalog.Error) {
	g := safejs.Global()
	notSupported := func(reason string) (recorder.Choice, *catalog.Error) {
		return recorder.Choice{}, catalog.Newf(catalog.NotSupported, map[string]any{"reason": reason}, time.Now(),
			"this browser cannot record: %s", reason)
	}
	if secure, _ := g.Get("isSecureContext"); secure.Type() == safejs.TypeBoolean {
		if ok, _ := secure.Bool(); !ok {
			return notSupported("the page is not a secure context (https or localhost)")
		}
	}
	devices, err := getPath(g, "navigator", "mediaDevices")
	if err != nil || devices.Type() != safejs.TypeObject || !isFunction(devices, "getUserMedia") {
		return notSupported("navigator.mediaDevices.getUserMedia is missing")
	}
	var mediaRecorder func(string) bool
	if mr, err := g.Get("MediaRecorder"); err == nil && mr.Type() == safejs.TypeFunction {
		mediaRecorder = func(m string) bool {
			v, err := mr.Call("isTypeSupported", m)
			yes, _ := v.Bool()
			return err == nil && yes
		}
	}
	choice, ok := recorder.Choose(c.formats, mediaRecorder, pcmSupported())
	if !ok {
		formats := c.formats
		if len(formats) == 0 {
			formats = recorder.DefaultFormats
		}
		return notSupported(fmt.Sprintf("this browser can make none of the formats %v", formats))
	}
	return choice, nil
}

// OpenMicrophone asks for a mono voice stream.
func (c *Control) OpenMicrophone(n int) {
	choice, unsupported := c.checkSupport()
	if unsupported != nil {
		c.fail(n, unsupported)
		return
	}
	t := &take{choice: choice, stream: safejs.Undefined()}
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

// StartRecorder starts the take's capture.
func (c *Control) StartRecorder(n int) {
	t := c.takes[n]
	if t == nil || t.capture != nil {
		return
	}
	t.busy = true
	if t.choice.PCM {
		t.capture = c.startPCM(n, t)
	} else {
		t.capture = c.startMediaRecorder(n, t)
	}
}

// captureStarted: the capture is really recording; the limit's clock starts now.
func (c *Control) captureStarted(n int) {
	c.loop.post(func() { c.machine.RecorderStarted(n) })
}

// captureFinished: the capture's audio is complete. The container is read (and a WebM
// without a duration repaired) on a goroutine of its own, since that awaits the Blob.
func (c *Control) captureFinished(n int, t *take, blob safejs.Value, mime string) {
	if t.discard {
		c.settled(n, t)
		return
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				c.loop.post(func() { panic(p) }) // reported by the loop like any other panic
			}
		}()
		finished, info := inspectRecording(blob, mime)
		c.loop.post(func() {
			defer c.settled(n, t)
			if t.discard {
				return
			}
			size := 0
			if v, err := finished.Get("size"); err == nil {
				size, _ = v.Int()
			}
			c.machine.RecorderStopped(n, recorder.Captured{Audio: finished, MimeType: mime, Size: size, Duration: info})
		})
	}()
}

// settled: nothing more will come from the take's capture.
func (c *Control) settled(n int, t *take) {
	t.busy = false
	c.forget(n)
}

// StopRecorder asks the capture to finish; its result arrives later.
func (c *Control) StopRecorder(n int) {
	if t := c.takes[n]; t != nil && t.capture != nil {
		t.capture.stop()
	}
}

// DiscardRecorder stops the capture and drops what it made.
func (c *Control) DiscardRecorder(n int) {
	t := c.takes[n]
	if t == nil || t.capture == nil {
		c.dropPrimedAudio() // the take never reached its capture
	}
	if t == nil {
		return
	}
	t.discard = true
	if t.capture != nil {
		t.capture.abort()
	}
	c.forget(n)
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
	if t := c.takes[n]; t != nil && t.closed && !t.busy {
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
		c.mu.Lock()
		c.idle = e.State == recorder.Idle || e.State == recorder.Failed || e.State == recorder.Uploaded
		c.mu.Unlock()
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
	case recorder.UploadMoved:
		percent := 0.0
		if e.Total > 0 {
			percent = float64(e.Loaded) * 100 / float64(e.Total)
		}
		c.emit(string(e.Kind), map[string]any{"loaded": e.Loaded, "total": e.Total, "percent": percent})
	case recorder.UploadStored:
		c.emit(string(e.Kind), e.VoiceNote)
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

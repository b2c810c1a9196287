//go:build js && wasm

package browser

import (
	"runtime"
	"syscall/js"
	"time"

	"github.com/google/uuid"
	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/delivery"
	"github.com/vocafuse/recorder/wasm/journal"
	"github.com/vocafuse/recorder/wasm/recorder"
)

// Control is one addVoiceNote: a recorder state machine and the browser objects of its
// takes. Everything below runs on the control's loop goroutine.
type Control struct {
	sdk          *SDK
	b            boundary // a panic in any callback becomes this control's INTERNAL_ERROR
	funcs        []safejs.Func
	loop         *loop
	machine      *recorder.Machine
	formats      []string
	limitSeconds float64 // maxDuration; seconds, not a Duration, whose String the wasm would carry
	workletURL   string  // the PCM capture's AudioWorklet module
	deviceID     string  // the microphone the page chose; "" for the browser's default
	autoUpload   bool
	levels       safejs.Value // the shim's levels(audioContext, stream): a probe of the input's peak
	onEvent      safejs.Value // the shim's function(kind, payload)
	takes        map[int]*take
	metadata     string       // JSON sent with each recording
	progress     safejs.Value // the shim's upload progress callback: the courier's glue calls it, not Go
	progressKind js.Value     // "progress" as a JavaScript string, made once: ticks come five times a second
}

// take holds the browser objects of one attempt at a recording.
type take struct {
	choice   recorder.Choice
	stream   safejs.Value  // MediaStream once getUserMedia resolves
	audio    safejs.Value  // the take's AudioContext, made in the click: its levels, and its PCM capture
	input    *inputWatch   // reads the input while recording, once the capture starts
	unlisten []func()      // the tracks' ended listeners
	tape     *journal.Tape // the journal of its audio, once recording
	owner    string        // the identity it is recorded under (the token's sub), "" if unknown
	capture  capture       // what turns the stream into audio, once started
	audioOn  bool          // the AudioContext runs: known before the capture starts
	clock    chan struct{} // closed to stop the progress ticks and the limit
	// What stops the next progress tick and the limit (a *time.Timer here would keep
	// time's formatting code in the wasm: a take sits behind an interface).
	stopTick, stopLimit func() bool
	closed              bool // the microphone must be (or has been) released
	discard             bool // what the capture made is to be thrown away
	busy                bool // the capture, or the reading of its result, is still under way
}

// capture is one way of recording a stream: MediaRecorder, or PCM through Web Audio.
// It reports through the control's captureStarted, captureFinished and fail.
type capture interface {
	pause()  // stop encoding until resume: paused time is not in the file
	resume() // go on encoding
	stop()   // finish; the result arrives through captureFinished
	abort()  // stop and report nothing
}

// NewControl makes a control of sdk. onEvent receives every event of the recorder.
func NewControl(sdk *SDK, o controlOptions, onEvent safejs.Value) *Control {
	c := &Control{sdk: sdk, formats: o.formats, limitSeconds: o.maxDuration.Seconds(), workletURL: o.workletURL,
		deviceID: o.deviceID, autoUpload: o.autoUpload, levels: o.levels, onEvent: onEvent, takes: map[int]*take{}, metadata: o.metadata,
		progress: o.progress, progressKind: js.ValueOf(string(recorder.Progressed))}
	c.loop = newLoop(c.recoverPanic)
	c.b = boundary{onPanic: func(p any) { c.loop.post(func() { c.recoverPanic(p) }) }}
	c.machine = recorder.New(recorder.Config{
		Effects:     c,
		Clock:       monotonic,
		NewID:       newID,
		MaxDuration: o.maxDuration,
		AutoUpload:  o.autoUpload,
	})
	live.Lock()
	live.controls++
	live.Unlock()
	// A browser compiles a wasm function the first time it runs: the support check (and
	// the browser's own first isTypeSupported) runs once here, not first in a click.
	c.checkSupport()
	return c
}

// controlOptions are addVoiceNote's options, as the shim has checked them.
type controlOptions struct {
	maxDuration          time.Duration
	formats              []string
	workletURL, deviceID string
	autoUpload           bool
	metadata             string       // JSON
	progress, levels     safejs.Value // the shim's upload progress callback and level probe maker
}

// start is what monotonic counts from; time.Since reads the monotonic clock.
var start = time.Now()

func monotonic() time.Duration { return time.Since(start) }

// Upload hands a finished recording to the SDK's courier, which owns it from here on:
// held in the outbox, sent, retried, until the server has it. What the page should hear
// comes back through the take's watcher.
func (c *Control) Upload(n int, rec *recorder.Output) {
	t := c.takes[n]
	owner := ""
	if t != nil {
		owner = t.owner
	}
	c.sdk.courier.SendHeld(&delivery.Record{
		ID: rec.ID, Audio: rec.Audio, ContentType: rec.MimeType, Format: rec.Format, Duration: rec.Duration,
		Size: int64(rec.Size), Metadata: c.metadata, Created: time.Now().UnixMilli(), Owner: owner,
	}, takeWatcher{c, n, rec.ID}, c.progress, t.handOver())
}

// takeWatcher passes a delivery's news to the control's loop.
type takeWatcher struct {
	c  *Control
	n  int
	id string
}

func (w takeWatcher) Heard(err *catalog.Error, final bool) {
	w.c.loop.post(func() {
		if final {
			w.c.machine.UploadFailed(w.n, err)
		} else {
			w.c.machine.UploadTrouble(w.n, err)
		}
	})
}

// Delivered: the machine decides whether the page hears it (see UploadDone). A
// control still showing this take's failure (nothing recorded since) leaves error for
// uploaded: the page said it failed, and it landed after all.
func (w takeWatcher) Delivered(resource any) {
	note := noteJS(resource, w.id)
	w.c.loop.post(func() {
		m := w.c.machine
		failedLast := m.State() == recorder.Error && m.Take() == w.n+1
		if m.UploadDone(w.n, note) && failedLast {
			w.c.Emit(recorder.Event{Kind: recorder.StateChanged, State: recorder.Uploaded})
		}
	})
}

func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// The control's commands. Each only posts: it is called from a JavaScript callback.
func (c *Control) Toggle() { c.loop.post(c.machine.Toggle) }
func (c *Control) Start()  { c.loop.post(c.machine.Start) }
func (c *Control) Stop()   { c.loop.post(c.machine.Stop) }
func (c *Control) Pause()  { c.loop.post(c.machine.Pause) }
func (c *Control) Resume() { c.loop.post(c.machine.Resume) }
func (c *Control) Cancel() { c.loop.post(c.machine.Cancel) }
func (c *Control) Destroy() {
	c.loop.post(func() {
		c.machine.Destroy()
		c.release()
	})
}

// release lets go of everything the control holds once its machine is destroyed: the
// handle's functions, its loop goroutine, its place in the SDK. A recording it made
// that is still being delivered is the courier's, not the control's.
func (c *Control) release() {
	c.releaseFuncs()
	c.loop.close()
	// The page's callbacks stay referenced from Go's table of JavaScript values until
	// Go's collector finalizes the values that hold them; until then they keep the
	// control, and the VocaFuse instance it belongs to, alive in JavaScript. Drop them
	// and collect now: destroy() is rare, and the heap is small.
	c.onEvent, c.progress, c.levels = safejs.Undefined(), safejs.Undefined(), safejs.Undefined()
	go runtime.GC()
	live.Lock()
	live.controls--
	live.Unlock()
}

func (c *Control) releaseFuncs() {
	for _, f := range c.funcs {
		f.Release()
	}
	c.funcs = nil
}

// recoverPanic keeps a bug in one take from ending the Go program: the take's
// microphone is released and the page hears INTERNAL_ERROR.
func (c *Control) recoverPanic(p any) {
	for n, t := range c.takes {
		t.busy = false // the goroutine that would have settled the take may be the one that panicked
		c.DiscardRecorder(n)
		c.StopWatches(n)
		c.CloseMicrophone(n)
	}
	c.machine.Crashed(catalog.Newf(catalog.InternalError, nil, time.Now(), "recorder panicked: %v", p))
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
	if secure := global("isSecureContext"); secure.Type() == safejs.TypeBoolean && !isTrue(secure) {
		return notSupported("the page is not a secure context (https or localhost)")
	}
	devices, err := getPath(g, "navigator", "mediaDevices")
	if err != nil || devices.Type() != safejs.TypeObject || !isFunction(devices, "getUserMedia") {
		return notSupported("navigator.mediaDevices.getUserMedia is missing")
	}
	var mediaRecorder func(string) bool
	if mr, err := g.Get("MediaRecorder"); err == nil && mr.Type() == safejs.TypeFunction {
		mediaRecorder = func(m string) bool {
			v, err := mr.Call("isTypeSupported", m)
			return err == nil && isTrue(v) // a type it throws on is one it cannot make
		}
	}
	choice, ok := recorder.Choose(c.formats, mediaRecorder, pcmSupported())
	if !ok {
		formats := c.formats
		if len(formats) == 0 {
			formats = recorder.DefaultFormats
		}
		list := "" // strings.Join, by hand: it costs the wasm 2.7 KB for this one message
		for i, f := range formats {
			if i > 0 {
				list += " "
			}
			list += f
		}
		return notSupported("this browser can make none of the formats [" + list + "]")
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
	t := &take{choice: choice, stream: safejs.Undefined(), audio: safejs.Undefined()}
	c.takes[n] = t
	failed := func(err error) { c.fail(n, mediaFailure("getUserMedia", err, time.Now())) }
	audio := map[string]any{
		"channelCount":     map[string]any{"ideal": 1},
		"echoCancellation": true,
		"noiseSuppression": true,
		"autoGainControl":  true,
	}
	if c.deviceID != "" {
		// exact: another microphone than the one chosen would record the wrong person
		// or room; a deviceId that matches nothing is DEVICE_NOT_FOUND.
		audio["deviceId"] = map[string]any{"exact": c.deviceID}
	}
	constraints := map[string]any{"audio": audio}
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
	// Browsers (Safari, Firefox, Chromium's autoplay policy) only let an AudioContext run
	// when it is made during a user gesture, and the take reaches Web Audio long after the
	// click. This is still the click's own turn (Go runs every goroutine that can run
	// before a JavaScript callback returns), and after the request for the microphone, so
	// that the browser opens it meanwhile.
	t.audio = newAudioContext()
	err = c.b.settle(promise, func(stream safejs.Value) {
		c.loop.post(func() {
			t.stream = stream
			c.emit("stream", stream) // the shim stops these tracks if the Go program ever dies
			if t.closed {
				c.stopTracks(t)
				return
			}
			c.listenForLoss(n, t)
			c.machine.MicrophoneOpened(n)
		})
	}, failed)
	if err != nil {
		failed(err)
	}
}

// How long a take waits for its AudioContext to run before it starts recording: the PCM
// capture cannot record without it; a MediaRecorder take only loses its levels, so it
// waits briefly (a context made during the click runs within milliseconds, and one
// that cannot run, in a browser without a sound device, never does).
const (
	audioStartPCM   = 3 * time.Second
	audioStartLevel = 300 * time.Millisecond
)

// StartRecorder starts the take's capture once its AudioContext runs, or is known not
// to. The context made in the click usually runs by the time the microphone opens: the
// capture then starts at once, with nothing else on the track (the level meter joins it
// once it has started, see captureStarted).
func (c *Control) StartRecorder(n int) {
	t := c.takes[n]
	if t == nil || t.capture != nil || t.busy {
		return
	}
	t.busy = true
	audio := t.audio
	if audio.Type() == safejs.TypeObject && contextState(audio) == "running" {
		t.audioOn = true
		c.beginCapture(n, t)
		return
	}
	wait := audioStartLevel
	if t.choice.PCM {
		wait = audioStartPCM
	}
	c.b.spawn(func() {
		running := audio.Type() == safejs.TypeObject && audioRuns(c.b, audio, wait)
		c.loop.post(func() {
			t.audioOn = running
			c.beginCapture(n, t)
		})
	})
}

func (c *Control) beginCapture(n int, t *take) {
	if t.discard || t.closed {
		c.settled(n, t)
		return
	}
	switch {
	case !t.choice.PCM:
		t.capture = c.startMediaRecorder(n, t)
	case t.audioOn:
		c.watchInput(n, t)
		t.capture = c.startPCM(n, t)
	default:
		c.settled(n, t)
		c.machine.Fail(n, catalog.Newf(catalog.NotSupported, map[string]any{"reason": "the browser did not start audio capture"},
			time.Now(), "the audio context did not start"))
	}
}

// audioRuns waits up to d for an AudioContext to run.
func audioRuns(b boundary, audio safejs.Value, d time.Duration) bool {
	if contextState(audio) == "running" {
		return true
	}
	promise, err := audio.Call("resume")
	if err != nil {
		return false // a context that cannot resume does not run: the take says so
	}
	_, err = b.awaitWithin(promise, d)
	return err == nil && contextState(audio) == "running"
}

// contextState is an AudioContext's state.
func contextState(audio safejs.Value) string { return propString(audio, "state") }

func (c *Control) PauseRecorder(n int) {
	if t := c.takes[n]; t != nil && t.capture != nil {
		t.capture.pause()
	}
}

func (c *Control) ResumeRecorder(n int) {
	if t := c.takes[n]; t != nil && t.capture != nil {
		t.capture.resume()
	}
}

// captureStarted: the capture is really recording; the limit's clock starts now and the
// page hears onStart. Then a MediaRecorder take's level meter joins its track (its Web
// Audio graph takes a few ms that the start need not wait for), and the token is asked
// for, whose subject the journal's head keeps (usually in hand; if not, it is fetched
// while the take records). Not inlined: its two callers would each get a copy of its
// closures (2 KB of wasm).
//
//go:noinline
func (c *Control) captureStarted(n int, t *take) {
	c.loop.post(func() {
		c.machine.RecorderStarted(n)
		c.b.spawn(func() {
			c.loop.post(func() { c.joinLevelMeter(n, t) })
			owner := c.sdk.courier.Identity()
			c.loop.post(func() { c.ownerKnown(t, owner) })
		})
	})
}

// captureFinished: the capture's audio is complete, a Blob or (a MediaRecorder take's) the
// promise of its bytes. Its container is read (and a WebM without a duration repaired) on
// a goroutine of its own, since that awaits the bytes.
func (c *Control) captureFinished(n int, t *take, audio safejs.Value, mime string) {
	if t.discard {
		c.settled(n, t)
		return
	}
	c.b.spawn(func() {
		var (
			finished safejs.Value
			info     float64
			err      error
		)
		if _, isMediaRecorder := t.capture.(*mediaRecorderCapture); isMediaRecorder {
			finished, info, err = inspectRead(c.b, audio, mime)
		} else {
			finished, info = inspectRecording(c.b, audio, mime)
		}
		c.loop.post(func() {
			defer c.settled(n, t)
			if t.discard {
				return
			}
			if err != nil {
				c.machine.Fail(n, mediaFailure("Blob", err, time.Now()))
				return
			}
			size := propNumber(finished, "size")
			peak := -1.0
			if t.input != nil {
				peak = t.input.peak()
			}
			c.machine.RecorderStopped(n, recorder.Captured{Audio: finished, MimeType: mime, Size: int(size), Duration: info,
				PeakLevel: peak})
		})
	})
}

// settled: nothing more will come from the take's capture.
func (c *Control) settled(n int, t *take) {
	t.busy = false
	if t.closed {
		c.closeAudio(t)
	}
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
	if t == nil {
		return
	}
	t.discard = true
	c.dropTape(t)
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
	for _, release := range t.unlisten {
		release()
	}
	t.unlisten = nil
	c.stopTracks(t)
	c.closeAudio(t)
	c.forget(n)
}

// closeAudio releases the take's AudioContext once its capture no longer needs it.
func (c *Control) closeAudio(t *take) {
	if t.busy || t.audio.Type() != safejs.TypeObject {
		return // a PCM capture still finishing closes it when it settles
	}
	letGo(t.audio, "close")
	t.audio = safejs.Undefined()
}

func (c *Control) stopTracks(t *take) {
	if t.stream.IsUndefined() {
		return // getUserMedia has not answered; its handler sees t.closed
	}
	stopStream(t.stream)
	c.emit("streamclosed", t.stream)
}

// forget drops a take once its microphone is released and its recorder is done with.
// A take still waiting for getUserMedia is safe to drop: its handler holds it.
func (c *Control) forget(n int) {
	if t := c.takes[n]; t != nil && t.closed && !t.busy {
		delete(c.takes, n)
	}
}

// StartWatches reports progress and enforces the limit with timers (setTimeout
// underneath), each run through the control's boundary, and reads the input.
func (c *Control) StartWatches(n int, limit time.Duration) {
	t := c.takes[n]
	if t == nil || t.clock != nil {
		return
	}
	if t.input != nil {
		t.input.start()
	}
	stop := make(chan struct{})
	t.clock = stop
	running := func() bool {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	var tick func()
	tick = func() {
		if running() {
			c.loop.post(func() { c.machine.Tick(n) })
			t.stopTick = c.b.after(recorder.ProgressInterval, tick).Stop
		}
	}
	t.stopTick = c.b.after(recorder.ProgressInterval, tick).Stop
	t.stopLimit = c.b.after(limit, func() {
		if running() {
			c.loop.post(func() { c.machine.LimitReached(n) })
		}
	}).Stop
}

// StopWatches stops the take's ticks, limit and input watch.
func (c *Control) StopWatches(n int) {
	t := c.takes[n]
	if t == nil || t.clock == nil {
		return
	}
	close(t.clock)
	t.clock = nil // a resume starts it again
	t.stopTick()
	t.stopLimit()
	if t.input != nil {
		t.input.stop()
	}
}

// Emit hands a recorder event to the shim.
func (c *Control) Emit(e recorder.Event) {
	switch e.Kind {
	case recorder.StateChanged:
		c.emit(string(e.Kind), string(e.State))
	case recorder.Started:
		t := c.takes[c.machine.Take()]
		c.emit(string(e.Kind), t != nil && c.measures(t))
		if t != nil {
			if t.owner == "" {
				t.owner = c.sdk.courier.KnownIdentity() // else it comes with the token asked for at the start (ownerKnown)
			}
			c.openTape(t, e.ID)
		}
	case recorder.Progressed:
		tellShimAs(c.onEvent, string(e.Kind), c.progressKind, e.Elapsed, e.Remaining)
	case recorder.Stopped:
		if !c.autoUpload { // the page has the recording: no journal needed
			c.dropTape(c.takes[c.machine.Take()])
		}
		r := e.Recording
		var peak any // null where the level could not be measured
		if r.PeakLevel >= 0 {
			peak = r.PeakLevel
		}
		c.emit(string(e.Kind), r.ID, r.Audio, r.MimeType, r.Format, r.Duration, r.Size, peak)
	case recorder.Errored, recorder.Warned:
		c.emit(string(e.Kind), errorValue(e.Err))
	case recorder.UploadStored:
		c.emit(string(e.Kind), e.VoiceNote)
	}
}

// emit calls the shim's onEvent(kind, ...values).
func (c *Control) emit(kind string, values ...any) { tellShim(c.onEvent, kind, values...) }

func getPath(v safejs.Value, path ...string) (safejs.Value, error) {
	var err error
	for _, p := range path {
		if v, err = v.Get(p); err != nil {
			return v, jsError(err)
		}
	}
	return v, nil
}

// stopStream stops every track of a MediaStream: the browser's recording indicator goes off.
// A MediaStream's getTracks cannot fail; were it to, the panic goes to the boundary (or,
// while a panic is being reported, to the console).
func stopStream(stream safejs.Value) {
	tracks := safejs.Unsafe(stream).Call("getTracks")
	for i, n := 0, tracks.Length(); i < n; i++ {
		letGo(safejs.Safe(tracks.Index(i)), "stop")
	}
}

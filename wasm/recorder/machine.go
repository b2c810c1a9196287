// Package recorder is the recording state machine of docs/sdk.md, free of any browser API.
//
// The browser glue (package browser) feeds it events (the microphone opened, the
// recorder started, a clock tick, …) from one goroutine and carries out the effects it
// asks for. Every attempt at a recording is a numbered take; an event for a take that
// is no longer current (the user stopped while the microphone was still being
// requested, say) is answered by releasing that take's microphone and nothing else.
// That is what keeps rapid clicks and start/stop races from leaving a live microphone
// or a control in a state it cannot leave.
package recorder

import (
	"math"
	"strconv"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// State is the control's state as pages see it (onStateChange, data-state).
type State string

// The states of docs/sdk.md.
const (
	Idle       State = "idle"
	Requesting State = "requesting"
	Recording  State = "recording"
	Paused     State = "paused"
	Processing State = "processing"
	Uploading  State = "uploading"
	Uploaded   State = "uploaded"
	Error      State = "error"
)

// MaxDuration is the API's limit on a voice note.
const MaxDuration = 60 * time.Second

// ProgressInterval is how often a recording reports its progress (docs/sdk.md asks for at least 4 Hz).
const ProgressInterval = 200 * time.Millisecond

// Effects is what the machine asks of the browser. Every method returns at once; the
// outcome comes back later as an event on the Machine, tagged with the same take.
type Effects interface {
	// OpenMicrophone checks that this browser can record and asks for the microphone.
	// Outcome: MicrophoneOpened or Fail.
	OpenMicrophone(take int)
	// StartRecorder starts encoding the take's stream. Outcome: RecorderStarted or Fail.
	StartRecorder(take int)
	// PauseRecorder and ResumeRecorder pause and resume encoding (and measuring the
	// input): what is recorded while paused is not in the file, not even as silence.
	PauseRecorder(take int)
	ResumeRecorder(take int)
	// StopRecorder ends encoding and keeps what was recorded. Outcome: RecorderStopped.
	StopRecorder(take int)
	// DiscardRecorder ends encoding and throws the data away. No outcome.
	DiscardRecorder(take int)
	// CloseMicrophone stops every track of the take. Safe to call more than once.
	CloseMicrophone(take int)
	// StartWatches starts the three watches on a recording take: its progress ticks
	// (Tick), its limit (LimitReached), due after left, and its input (Warn). It runs
	// again after a pause.
	StartWatches(take int, left time.Duration)
	// StopWatches stops all three. Safe to call more than once.
	StopWatches(take int)
	// Upload hands the take's recording to the delivery, which owns it from then on: a
	// control that moves on (cancel, destroy, a new take) never abandons a recording.
	// Outcome: UploadDone or UploadFailed; UploadTrouble while retries go on; UploadDone
	// may still follow UploadFailed when a background retry lands it.
	Upload(take int, rec *Output)
	// Emit hands an event to the page.
	Emit(Event)
}

// EventKind names what an Event tells the page.
type EventKind string

// The events a control reports; each matches an option callback of docs/sdk.md.
const (
	StateChanged EventKind = "state"
	Started      EventKind = "start"
	Progressed   EventKind = "progress"
	Stopped      EventKind = "stop"
	Errored      EventKind = "error"
	Warned       EventKind = "warning"
	UploadStored EventKind = "uploaded"
)

// Event is one report to the page.
type Event struct {
	Kind      EventKind
	State     State          // StateChanged
	ID        string         // Started: the recording's id
	Elapsed   float64        // Progressed: seconds recorded (paused time is not counted)
	Remaining float64        // Progressed: seconds left before the limit
	Recording *Output        // Stopped
	Err       *catalog.Error // Errored, Warned
	VoiceNote any            // UploadStored: the server's resource, opaque here
}

// Captured is what the browser hands back when a recorder stops: an opaque handle to
// the audio (a Blob, which stays in JavaScript), its MIME type, its size in bytes, and
// its duration as the container states it (0 when it could not be read), and the
// loudest level of the input (negative when it could not be measured).
type Captured struct {
	Audio     any
	MimeType  string
	Size      int
	Duration  float64
	PeakLevel float64
}

// Output is the finished recording that onStop delivers.
type Output struct {
	ID       string
	Audio    any
	MimeType string
	Format   string
	Duration float64 // seconds, as the container states it (else the clock)
	Size     int
	// PeakLevel is the loudest level of the input, linear in [0, 1]; negative where it
	// could not be measured (the page sees null).
	PeakLevel float64
}

// Machine is one control's recorder. It is not safe for concurrent use: the glue calls
// it from a single goroutine.
type Machine struct {
	fx     Effects
	clock  func() time.Duration
	newID  func() string
	limit  time.Duration
	upload bool // autoUpload
	state  State
	take   int // the current take; takes before it are stale
	id     string
	// Recorded time: what runs before the last pause, and when the recorder last
	// started or resumed, as a reading of clock rather than a time.Time (a Machine sits
	// behind an interface, and a time.Time there, even in a func's result, keeps time's
	// formatting code, 90 KB, in the wasm).
	before  time.Duration
	resumed time.Duration
	lost    bool // the microphone went away during this take
	gone    bool // destroyed
	// landing holds the takes whose upload failed as far as the page knows, while the
	// delivery goes on trying: when one lands, the page hears onUploaded after all.
	landing map[int]bool
}

// Config builds a Machine.
type Config struct {
	Effects     Effects
	Clock       func() time.Duration // monotonic: what Elapsed and the limit are measured with
	NewID       func() string        // a UUIDv7 in the SDK
	MaxDuration time.Duration        // 0 means MaxDuration
	AutoUpload  bool                 // upload each recording as soon as it stops
}

// New makes an idle machine.
func New(c Config) *Machine {
	limit := c.MaxDuration
	if limit <= 0 || limit > MaxDuration {
		limit = MaxDuration
	}
	return &Machine{fx: c.Effects, clock: c.Clock, newID: c.NewID, limit: limit, upload: c.AutoUpload, state: Idle}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Take is the number of the current take (0 before the first).
func (m *Machine) Take() int { return m.take }

func (m *Machine) setState(s State) {
	if m.state == s {
		return
	}
	m.state = s
	m.fx.Emit(Event{Kind: StateChanged, State: s})
}

func (m *Machine) current(take int) bool { return !m.gone && take == m.take }

// Toggle is a click: it starts when no recording is under way and stops one that is.
func (m *Machine) Toggle() {
	switch m.state {
	case Requesting, Recording, Paused:
		m.Stop()
	default:
		m.Start()
	}
}

// recorded is the time recorded so far in the take: paused time is not in it.
func (m *Machine) recorded() time.Duration {
	if m.state == Recording {
		return m.before + m.clock() - m.resumed
	}
	return m.before
}

// Pause pauses the take under way; it does nothing in any other state.
func (m *Machine) Pause() {
	if m.gone || m.state != Recording {
		return
	}
	m.before = m.recorded()
	m.fx.StopWatches(m.take)
	m.fx.PauseRecorder(m.take)
	m.setState(Paused)
}

// Resume goes on recording after a pause; the limit counts what is left of it.
func (m *Machine) Resume() {
	if m.gone || m.state != Paused {
		return
	}
	m.resumed = m.clock()
	m.fx.ResumeRecorder(m.take)
	m.fx.StartWatches(m.take, m.limit-m.before)
	m.setState(Recording)
}

// Start begins a new take. It does nothing while a take is already under way, so a
// second start while the first is still asking for the microphone is harmless.
func (m *Machine) Start() {
	if m.gone {
		return
	}
	switch m.state {
	case Idle, Error, Uploaded:
	default:
		return
	}
	m.take++
	m.id = ""
	m.lost = false
	m.setState(Requesting)
	m.fx.OpenMicrophone(m.take)
}

// Stop ends the take under way, keeping the recording. Stopping while the microphone is
// still being requested abandons the take: nothing was recorded.
func (m *Machine) Stop() {
	if m.gone {
		return
	}
	switch m.state {
	case Requesting:
		m.abandon()
	case Recording, Paused:
		m.finish()
	}
}

// Cancel ends the take under way and discards it: no onStop, no upload.
func (m *Machine) Cancel() {
	if m.gone {
		return
	}
	switch m.state {
	case Requesting, Recording, Paused, Processing, Uploading:
		m.abandon()
	}
}

// Destroy releases everything; the machine ignores every later call and event but
// still releases the microphone of a take that opens late.
func (m *Machine) Destroy() {
	if m.gone {
		return
	}
	m.Cancel()
	m.setState(Idle)
	m.gone = true
}

// abandon leaves the current take without a recording. Its microphone may still be
// opening or its data still arriving: events for it are stale from now on.
func (m *Machine) abandon() {
	m.release(m.take)
	m.take++
	m.setState(Idle)
}

// release frees everything a take may hold. What it holds later (a microphone that
// opens late) is released when that arrives, since the take is stale by then.
func (m *Machine) release(take int) {
	m.fx.StopWatches(take)
	m.fx.DiscardRecorder(take)
	m.fx.CloseMicrophone(take)
}

// finish stops recording and waits for the recorder's data. The microphone stays open
// until the data is complete: an encoder still holds the last fraction of a second, and
// Firefox drops it when the tracks end first.
func (m *Machine) finish() {
	take := m.take
	m.before = m.recorded()
	m.fx.StopWatches(take)
	m.fx.StopRecorder(take)
	m.setState(Processing)
}

// MicrophoneOpened: the take's getUserMedia resolved.
func (m *Machine) MicrophoneOpened(take int) {
	if !m.current(take) || m.state != Requesting {
		m.fx.CloseMicrophone(take)
		return
	}
	m.fx.StartRecorder(take)
}

// RecorderStarted: the recorder's start event. The clock of the limit starts here,
// not at the click.
func (m *Machine) RecorderStarted(take int) {
	if !m.current(take) || m.state != Requesting {
		m.release(take)
		return
	}
	m.before, m.resumed = 0, m.clock()
	m.id = m.newID()
	m.fx.StartWatches(take, m.limit)
	m.setState(Recording)
	m.fx.Emit(Event{Kind: Started, ID: m.id})
}

// Tick reports progress while recording.
func (m *Machine) Tick(take int) {
	if !m.current(take) || m.state != Recording {
		return
	}
	elapsed := min(m.recorded(), m.limit)
	m.fx.Emit(Event{Kind: Progressed, Elapsed: elapsed.Seconds(), Remaining: (m.limit - elapsed).Seconds()})
}

// LimitReached: maxDuration of recorded time has passed. The SDK stops the recording
// itself, keeps it, and tells the page why.
func (m *Machine) LimitReached(take int) {
	if !m.current(take) || m.state != Recording {
		return
	}
	m.finish()
	limit := m.limit.Seconds()
	err := catalog.New(catalog.DurationExceeded, map[string]any{
		"max_duration":    limit,
		"actual_duration": roundMillis(min(m.before.Seconds(), limit)),
	}, time.Now())
	// The catalogue's text names the API's 60 seconds; a page may set a shorter limit.
	err.UserMessage = "The recording stopped at the " + strconv.FormatFloat(limit, 'f', -1, 64) +
		"-second limit. It has been kept."
	m.fx.Emit(Event{Kind: Errored, Err: err})
}

// DeviceLost: the microphone went away while recording (unplugged, revoked, its track
// ended). What was recorded is kept and delivered like any recording; the page hears
// DEVICE_LOST once it has it.
func (m *Machine) DeviceLost(take int) {
	if !m.current(take) || (m.state != Recording && m.state != Paused) {
		return
	}
	m.lost = true
	m.finish()
}

// Warn tells the page of a problem that does not stop the recording.
func (m *Machine) Warn(take int, err *catalog.Error) {
	if m.current(take) && (m.state == Recording || m.state == Paused) {
		m.fx.Emit(Event{Kind: Warned, Err: err})
	}
}

// RecorderStopped: the recorder's data is complete. A recorder that stops on its own
// while recording has lost its microphone (every track ended): what it has is kept.
func (m *Machine) RecorderStopped(take int, c Captured) {
	if !m.current(take) {
		return
	}
	switch m.state {
	case Recording, Paused:
		m.DeviceLost(take)
	case Processing:
	default:
		return
	}
	m.fx.CloseMicrophone(take)
	// The container's own duration is what every player and the API will see; the
	// clock is the fallback when the container could not be read.
	duration := c.Duration
	if duration <= 0 {
		duration = min(m.before, m.limit).Seconds()
	}
	rec := &Output{
		ID:        m.id,
		Audio:     c.Audio,
		MimeType:  c.MimeType,
		Format:    FormatOfMIME(c.MimeType),
		Duration:  roundMillis(duration),
		Size:      c.Size,
		PeakLevel: c.PeakLevel,
	}
	if !m.upload {
		m.setState(Idle)
	}
	m.fx.Emit(Event{Kind: Stopped, Recording: rec})
	if m.lost {
		// After onStop, so the page already holds what was kept when it hears why.
		m.fx.Emit(Event{Kind: Errored, Err: catalog.New(catalog.DeviceLost,
			map[string]any{"recorded": rec.Duration}, time.Now())})
	}
	if m.upload {
		m.setState(Uploading)
		m.fx.Upload(take, rec)
	}
}

// UploadDone: the server stored the recording and answered its resource. It answers
// whether the page heard of it: a take the control has left (cancelled) is not reported,
// one whose failure the page heard is (onUploaded, the state unchanged).
func (m *Machine) UploadDone(take int, voiceNote any) bool {
	if !m.current(take) || m.state != Uploading {
		if !m.gone && m.landing[take] {
			delete(m.landing, take)
			m.fx.Emit(Event{Kind: UploadStored, VoiceNote: voiceNote})
			return true
		}
		return false
	}
	if m.lost {
		// The contract: after a lost microphone the control is idle again, ready for
		// another (the upload's outcome is not the state's news).
		m.setState(Idle)
	} else {
		m.setState(Uploaded)
	}
	m.fx.Emit(Event{Kind: UploadStored, VoiceNote: voiceNote})
	return true
}

// UploadTrouble: the page should hear of a failure now while the upload goes on trying.
func (m *Machine) UploadTrouble(take int, err *catalog.Error) {
	if m.current(take) && m.state == Uploading {
		m.fx.Emit(Event{Kind: Errored, Err: err})
	}
}

// UploadFailed: the upload has given up.
func (m *Machine) UploadFailed(take int, err *catalog.Error) {
	if !m.current(take) || m.state != Uploading {
		return
	}
	if m.landing == nil {
		m.landing = map[int]bool{}
	}
	m.landing[take] = true
	m.take++
	m.setState(Error)
	m.fx.Emit(Event{Kind: Errored, Err: err})
}

// Crashed: a bug on the browser's side (a recovered panic), whose effects have already
// been undone. A take under way fails with err; otherwise the page hears err alone and
// the state stays.
func (m *Machine) Crashed(err *catalog.Error) {
	switch m.state {
	case Requesting, Recording, Paused, Processing:
		m.Fail(m.take, err)
	default:
		m.fx.Emit(Event{Kind: Errored, Err: err})
	}
}

// Fail: something went wrong with the take (the microphone was refused, the recorder
// failed). Everything the take holds is released and the page hears why.
func (m *Machine) Fail(take int, err *catalog.Error) {
	if !m.current(take) {
		m.release(take)
		return
	}
	switch m.state {
	case Requesting, Recording, Paused, Processing:
	default:
		return
	}
	m.release(take)
	m.take++
	m.setState(Error)
	m.fx.Emit(Event{Kind: Errored, Err: err})
}

func roundMillis(seconds float64) float64 { return math.Round(seconds*1000) / 1000 }

package recorder

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// fakeBrowser records the effects asked of it and tracks which takes hold a live
// microphone, the way the real glue must.
type fakeBrowser struct {
	calls     []string
	events    []Event
	live      map[int]bool // takes whose microphone is open
	clock     map[int]bool // takes whose clock runs
	uploading map[int]bool // takes whose upload runs
}

func newFake() *fakeBrowser {
	return &fakeBrowser{live: map[int]bool{}, clock: map[int]bool{}, uploading: map[int]bool{}}
}

func (f *fakeBrowser) note(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeBrowser) OpenMicrophone(take int)  { f.note("open %d", take) }
func (f *fakeBrowser) StartRecorder(take int)   { f.note("record %d", take) }
func (f *fakeBrowser) StopRecorder(take int)    { f.note("stop %d", take) }
func (f *fakeBrowser) PauseRecorder(take int)   { f.note("pause %d", take) }
func (f *fakeBrowser) ResumeRecorder(take int)  { f.note("resume %d", take) }
func (f *fakeBrowser) DiscardRecorder(take int) { f.note("discard %d", take) }
func (f *fakeBrowser) CloseMicrophone(take int) {
	f.note("close %d", take)
	delete(f.live, take)
}
func (f *fakeBrowser) StartWatches(take int, limit time.Duration) {
	f.note("clock %d %s", take, limit)
	f.clock[take] = true
}
func (f *fakeBrowser) StopWatches(take int) { delete(f.clock, take) }
func (f *fakeBrowser) Upload(take int, rec *Output) {
	f.note("upload %d %s", take, rec.ID)
	f.uploading[take] = true
}
func (f *fakeBrowser) Emit(e Event) { f.events = append(f.events, e) }

// opened simulates getUserMedia resolving: the browser now holds a live microphone.
func (f *fakeBrowser) opened(m *Machine, take int) {
	f.live[take] = true
	m.MicrophoneOpened(take)
}

func (f *fakeBrowser) states() []State {
	var s []State
	for _, e := range f.events {
		if e.Kind == StateChanged {
			s = append(s, e.State)
		}
	}
	return s
}

func (f *fakeBrowser) kinds(kind EventKind) []Event {
	var out []Event
	for _, e := range f.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) elapsed() time.Duration  { return c.t.Sub(time.Unix(0, 0)) }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func setup(limit time.Duration) (*Machine, *fakeBrowser, *fakeClock) {
	return setupWith(Config{MaxDuration: limit})
}

func setupWith(c Config) (*Machine, *fakeBrowser, *fakeClock) {
	fb, clk := newFake(), &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ids := 0
	c.Effects, c.Clock = fb, clk.elapsed
	m := New(c)
	c.NewID = func() string {
		ids++
		return fmt.Sprintf("id-%d", ids)
	}
	m.newID = c.NewID
	return m, fb, clk
}

// recordFor drives one whole take: click, microphone opens, recorder starts, d passes.
func recordFor(m *Machine, fb *fakeBrowser, clk *fakeClock, d time.Duration) int {
	m.Toggle()
	take := m.Take()
	fb.opened(m, take)
	m.RecorderStarted(take)
	clk.advance(d)
	return take
}

func assertReleased(t *testing.T, fb *fakeBrowser) {
	t.Helper()
	if len(fb.live) != 0 {
		t.Errorf("microphone left open for takes %v", fb.live)
	}
	if len(fb.clock) != 0 {
		t.Errorf("clock left running for takes %v", fb.clock)
	}
}

func TestClickRecordsAndSecondClickStops(t *testing.T) {
	m, fb, clk := setup(0)
	take := recordFor(m, fb, clk, 3*time.Second)
	if m.State() != Recording {
		t.Fatalf("state %s, want recording", m.State())
	}
	if len(fb.kinds(Started)) != 1 {
		t.Fatalf("onStart not emitted once: %v", fb.events)
	}
	m.Toggle()
	if m.State() != Processing {
		t.Fatalf("after second click: %s, want processing", m.State())
	}
	if !fb.live[take] {
		t.Fatal("microphone closed before the recorder delivered its last data")
	}
	m.RecorderStopped(take, Captured{Audio: "blob", MimeType: "audio/webm;codecs=opus", Size: 1234, Duration: 3})
	assertReleased(t, fb)
	stops := fb.kinds(Stopped)
	if len(stops) != 1 {
		t.Fatalf("want one onStop, got %v", fb.events)
	}
	rec := stops[0].Recording
	if rec.ID != "id-1" || rec.Format != "webm" || rec.Size != 1234 || rec.Duration != 3 || rec.Audio != "blob" {
		t.Errorf("recording = %+v", rec)
	}
	want := []State{Requesting, Recording, Processing, Idle}
	if got := fb.states(); !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if !slices.Contains(fb.calls, "clock 1 1m0s") {
		t.Errorf("default limit not 60 s: %v", fb.calls)
	}
}

func TestLimitStopsKeepsRecordingAndReportsDurationExceeded(t *testing.T) {
	m, fb, clk := setup(2 * time.Second)
	take := recordFor(m, fb, clk, 2*time.Second)
	m.LimitReached(take)
	if m.State() != Processing {
		t.Fatalf("state %s after limit", m.State())
	}
	errs := fb.kinds(Errored)
	if len(errs) != 1 || errs[0].Err.Code != catalog.DurationExceeded {
		t.Fatalf("want DURATION_EXCEEDED, got %v", fb.events)
	}
	if d := errs[0].Err.Details; d["max_duration"] != 2.0 || d["actual_duration"] != 2.0 || errs[0].Err.Retryable {
		t.Errorf("details %v retryable %v", d, errs[0].Err.Retryable)
	}
	if msg := errs[0].Err.UserMessage; !strings.Contains(msg, "2-second limit") {
		t.Errorf("userMessage %q does not name the page's limit", msg)
	}
	clk.advance(300 * time.Millisecond)                                  // the recorder's data arrives a little later
	m.RecorderStopped(take, Captured{MimeType: "audio/ogg;codecs=opus"}) // container unreadable: the clock, capped
	stops := fb.kinds(Stopped)
	if len(stops) != 1 || stops[0].Recording.Duration != 2 || stops[0].Recording.Format != "ogg" {
		t.Fatalf("recording not kept at the limit: %v", fb.events)
	}
	assertReleased(t, fb)
	if m.State() != Idle {
		t.Errorf("state %s", m.State())
	}
}

func TestAutoUploadRunsAfterStopAndReportsTheOutcome(t *testing.T) {
	m, fb, clk := setupWith(Config{AutoUpload: true})
	take := recordFor(m, fb, clk, 2*time.Second)
	m.Stop()
	m.RecorderStopped(take, Captured{MimeType: "audio/webm", Size: 100, Duration: 2})
	if m.State() != Uploading || !slices.Contains(fb.calls, "upload 1 id-1") {
		t.Fatalf("state %s calls %v", m.State(), fb.calls)
	}
	if len(fb.kinds(Stopped)) != 1 {
		t.Fatal("onStop not delivered before the upload")
	}
	m.UploadTrouble(take, catalog.New(catalog.NetworkError, nil, clk.now()))
	if m.State() != Uploading {
		t.Fatalf("a reported trouble ended the upload: %s", m.State())
	}
	m.UploadDone(take, "resource")
	if m.State() != Uploaded {
		t.Fatalf("state %s", m.State())
	}
	if up := fb.kinds(UploadStored); len(up) != 1 || up[0].VoiceNote != "resource" {
		t.Fatalf("uploaded events %v", up)
	}
	want := []State{Requesting, Recording, Processing, Uploading, Uploaded}
	if got := fb.states(); !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	// The next click records again.
	m.Toggle()
	if m.State() != Requesting {
		t.Fatalf("state %s after a click in uploaded", m.State())
	}
}

func TestUploadFailureAndCancel(t *testing.T) {
	m, fb, clk := setupWith(Config{AutoUpload: true})
	take := recordFor(m, fb, clk, time.Second)
	m.Stop()
	m.RecorderStopped(take, Captured{MimeType: "audio/webm"})
	m.UploadFailed(take, catalog.New(catalog.AuthenticationFailed, nil, clk.now()))
	if m.State() != Error || fb.kinds(Errored)[0].Err.Code != catalog.AuthenticationFailed {
		t.Fatalf("state %s events %v", m.State(), fb.events)
	}
	failed := take
	take = recordFor(m, fb, clk, time.Second)
	m.Stop()
	m.RecorderStopped(take, Captured{MimeType: "audio/webm"})
	m.Cancel()
	if m.State() != Idle || !fb.uploading[take] {
		t.Fatalf("cancel while uploading: state %s uploads %v (the recording must still be delivered)", m.State(), fb.uploading)
	}
	if m.UploadDone(take, "late") || len(fb.kinds(UploadStored)) != 0 {
		t.Fatal("the page heard of a recording whose control it cancelled")
	}
	// The failed take's recording lands on a background retry: the page hears it once,
	// and the control stays where it is.
	if !m.UploadDone(failed, "landed") || m.State() != Idle {
		t.Fatalf("a late landing: state %s", m.State())
	}
	if up := fb.kinds(UploadStored); len(up) != 1 || up[0].VoiceNote != "landed" || m.UploadDone(failed, "again") {
		t.Fatalf("uploaded events %v", up)
	}
}

func TestContainerDurationWins(t *testing.T) {
	m, fb, clk := setup(0)
	take := recordFor(m, fb, clk, 3*time.Second)
	m.Stop()
	m.RecorderStopped(take, Captured{MimeType: "audio/webm", Duration: 2.9404})
	if d := fb.kinds(Stopped)[0].Recording.Duration; d != 2.94 {
		t.Fatalf("duration %v, want the container's 2.94", d)
	}
}

func TestProgressCountsFromRecorderStartNotClick(t *testing.T) {
	m, fb, clk := setup(10 * time.Second)
	m.Toggle()
	take := m.Take()
	clk.advance(2 * time.Second) // the permission prompt takes two seconds
	fb.opened(m, take)
	m.RecorderStarted(take)
	clk.advance(1500 * time.Millisecond)
	m.Tick(take)
	p := fb.kinds(Progressed)
	if len(p) != 1 || p[0].Elapsed != 1.5 || p[0].Remaining != 8.5 {
		t.Fatalf("progress %v", p)
	}
}

func TestStartWhileStartingIsIgnored(t *testing.T) {
	m, fb, _ := setup(0)
	m.Start()
	m.Start()
	m.Start()
	if got := strings.Join(fb.calls, ","); got != "open 1" {
		t.Fatalf("calls %q, want a single open", got)
	}
	fb.opened(m, 1)
	m.Start()
	m.RecorderStarted(1)
	m.Start()
	if m.State() != Recording || m.Take() != 1 {
		t.Fatalf("state %s take %d", m.State(), m.Take())
	}
}

func TestStopWhileRequestingReleasesLateMicrophone(t *testing.T) {
	m, fb, _ := setup(0)
	m.Toggle()
	m.Toggle() // second click before the permission prompt is answered
	if m.State() != Idle {
		t.Fatalf("state %s, want idle", m.State())
	}
	fb.opened(m, 1) // the user allows the microphone after all
	assertReleased(t, fb)
	if slices.Contains(fb.calls, "record 1") {
		t.Errorf("recorder started for an abandoned take: %v", fb.calls)
	}
	// The next click works normally.
	fb.calls = nil
	take := recordFor(m, fb, &fakeClock{}, 0)
	if take != 3 || m.State() != Recording {
		t.Fatalf("take %d state %s", take, m.State())
	}
}

func TestLateRecorderStartOfAbandonedTakeIsDiscarded(t *testing.T) {
	m, fb, _ := setup(0)
	m.Toggle()
	fb.opened(m, 1) // recorder asked to start…
	m.Toggle()      // …and the user clicks again before its start event
	m.RecorderStarted(1)
	if m.State() != Idle || len(fb.kinds(Started)) != 0 {
		t.Fatalf("state %s events %v", m.State(), fb.events)
	}
	if !slices.Contains(fb.calls, "discard 1") {
		t.Errorf("late recorder not discarded: %v", fb.calls)
	}
	assertReleased(t, fb)
}

func TestCancelDiscards(t *testing.T) {
	for _, at := range []State{Requesting, Recording, Processing} {
		t.Run(string(at), func(t *testing.T) {
			m, fb, clk := setup(0)
			m.Toggle()
			take := m.Take()
			if at != Requesting {
				fb.opened(m, take)
				m.RecorderStarted(take)
				clk.advance(time.Second)
			}
			if at == Processing {
				m.Stop()
			}
			m.Cancel()
			if m.State() != Idle {
				t.Fatalf("state %s", m.State())
			}
			// Whatever arrives late for the cancelled take changes nothing.
			fb.opened(m, take)
			m.RecorderStopped(take, Captured{MimeType: "audio/webm"})
			if len(fb.kinds(Stopped)) != 0 {
				t.Fatalf("cancelled recording delivered: %v", fb.events)
			}
			assertReleased(t, fb)
		})
	}
}

func TestDestroyInEveryState(t *testing.T) {
	steps := map[State]func(m *Machine, fb *fakeBrowser){
		Idle:       func(m *Machine, fb *fakeBrowser) {},
		Requesting: func(m *Machine, fb *fakeBrowser) { m.Start() },
		Recording: func(m *Machine, fb *fakeBrowser) {
			m.Start()
			fb.opened(m, 1)
			m.RecorderStarted(1)
		},
		Processing: func(m *Machine, fb *fakeBrowser) {
			m.Start()
			fb.opened(m, 1)
			m.RecorderStarted(1)
			m.Stop()
		},
		Error: func(m *Machine, fb *fakeBrowser) {
			m.Start()
			m.Fail(1, catalog.New(catalog.PermissionDenied, nil, time.Now()))
		},
	}
	for state, reach := range steps {
		t.Run(string(state), func(t *testing.T) {
			m, fb, _ := setup(0)
			reach(m, fb)
			if m.State() != state {
				t.Fatalf("set-up reached %s, want %s", m.State(), state)
			}
			m.Destroy()
			if m.State() != Idle {
				t.Fatalf("state %s after destroy", m.State())
			}
			n := len(fb.events)
			// A destroyed control ignores clicks and late events but still frees a late microphone.
			m.Toggle()
			m.Start()
			fb.opened(m, 1)
			m.RecorderStarted(1)
			m.Tick(1)
			m.LimitReached(1)
			m.RecorderStopped(1, Captured{})
			if len(fb.events) != n {
				t.Errorf("events after destroy: %v", fb.events[n:])
			}
			assertReleased(t, fb)
			m.Destroy() // twice is fine
		})
	}
}

func TestFailureReleasesAndNextClickRetries(t *testing.T) {
	m, fb, clk := setup(0)
	m.Toggle()
	m.Fail(1, catalog.New(catalog.PermissionDenied, nil, clk.now()))
	if m.State() != Error {
		t.Fatalf("state %s", m.State())
	}
	errs := fb.kinds(Errored)
	if len(errs) != 1 || errs[0].Err.Code != catalog.PermissionDenied {
		t.Fatalf("events %v", fb.events)
	}
	// An error while recording releases the microphone that was open.
	take := recordFor(m, fb, clk, time.Second)
	m.Fail(take, catalog.New(catalog.DeviceBusy, nil, clk.now()))
	assertReleased(t, fb)
	if !slices.Contains(fb.calls, fmt.Sprintf("discard %d", take)) {
		t.Errorf("recorder not discarded: %v", fb.calls)
	}
	// A stale failure does not touch the current take.
	take = recordFor(m, fb, clk, time.Second)
	m.Fail(take-1, catalog.New(catalog.DeviceBusy, nil, clk.now()))
	if m.State() != Recording {
		t.Fatalf("stale failure changed state to %s", m.State())
	}
}

func TestRecorderStoppingOnItsOwnDeliversAndReleases(t *testing.T) {
	m, fb, clk := setup(0)
	take := recordFor(m, fb, clk, 4*time.Second)
	m.RecorderStopped(take, Captured{MimeType: "audio/webm"}) // microphone unplugged
	if len(fb.kinds(Stopped)) != 1 || m.State() != Idle {
		t.Fatalf("events %v state %s", fb.events, m.State())
	}
	assertReleased(t, fb)
}

// TestRandomRaces drives the machine with every interleaving of clicks and late browser
// events a short sequence can produce, and checks the invariants that users notice: the
// machine always reaches a state it can leave, at most one take holds the microphone,
// and once everything has settled no microphone stays open.
func TestRandomRaces(t *testing.T) {
	ops := []string{"toggle", "start", "stop", "cancel", "open", "started", "tick", "limit", "stopped", "fail"}
	var walk func(m *Machine, fb *fakeBrowser, clk *fakeClock, depth int, trail []string)
	walk = func(m *Machine, fb *fakeBrowser, clk *fakeClock, depth int, trail []string) {
		if len(fb.live) > 1 {
			t.Fatalf("%v: more than one live microphone %v", trail, fb.live)
		}
		if depth == 0 {
			// Settle: whatever is under way is stopped and its data arrives.
			m.Stop()
			m.RecorderStopped(m.Take(), Captured{})
			if len(fb.live) != 0 || (m.State() != Idle && m.State() != Error) {
				t.Fatalf("%v: settled in %s with live %v", trail, m.State(), fb.live)
			}
			return
		}
		for _, op := range ops {
			// Replay the trail on a fresh machine, then apply op.
			m2, fb2, clk2 := setup(5 * time.Second)
			for _, prev := range append(slices.Clone(trail), op) {
				apply(m2, fb2, clk2, prev)
			}
			walk(m2, fb2, clk2, depth-1, append(slices.Clone(trail), op))
		}
	}
	walk(nil, newFake(), nil, 4, nil)
}

func apply(m *Machine, fb *fakeBrowser, clk *fakeClock, op string) {
	take := m.Take()
	clk.advance(time.Second)
	switch op {
	case "toggle":
		m.Toggle()
	case "start":
		m.Start()
	case "stop":
		m.Stop()
	case "cancel":
		m.Cancel()
	case "open":
		if take > 0 {
			fb.opened(m, take)
		}
	case "started":
		m.RecorderStarted(take)
	case "tick":
		m.Tick(take)
	case "limit":
		m.LimitReached(take)
	case "stopped":
		m.RecorderStopped(take, Captured{})
	case "fail":
		m.Fail(take, catalog.New(catalog.DeviceBusy, nil, clk.now()))
	}
}

func TestChoose(t *testing.T) {
	chromium := func(m string) bool { return strings.HasPrefix(m, "audio/webm") }
	firefox := func(m string) bool { return strings.HasPrefix(m, "audio/webm") || strings.HasPrefix(m, "audio/ogg") }
	safari := func(m string) bool { return m == "audio/mp4" }
	webm := Choice{Format: "webm", MIME: "audio/webm;codecs=opus"}
	ogg := Choice{Format: "ogg", MIME: "audio/ogg;codecs=opus"}
	wav := Choice{Format: "wav", MIME: "audio/wav", PCM: true}
	cases := []struct {
		formats   []string
		recorder  func(string) bool
		pcm       bool
		want      Choice
		supported bool
	}{
		{nil, chromium, true, webm, true},
		{nil, firefox, true, ogg, true},
		{[]string{"webm", "ogg"}, firefox, true, webm, true},
		{[]string{"ogg", "webm"}, chromium, true, webm, true},
		{[]string{"ogg"}, chromium, true, Choice{}, false},
		{nil, safari, true, wav, true}, // Safari: MediaRecorder makes only mp4
		{nil, safari, false, Choice{}, false},
		{[]string{"wav"}, firefox, true, wav, true},
		{[]string{"wav", "webm"}, chromium, false, webm, true},
		{nil, nil, true, wav, true}, // no MediaRecorder at all
		{nil, func(m string) bool { return m == "audio/webm" }, false, Choice{Format: "webm", MIME: "audio/webm"}, true},
	}
	for _, c := range cases {
		got, ok := Choose(c.formats, c.recorder, c.pcm)
		if got != c.want || ok != c.supported {
			t.Errorf("Choose(%v, pcm %v) = %+v %v, want %+v %v", c.formats, c.pcm, got, ok, c.want, c.supported)
		}
	}
}

func TestFormatOfMIME(t *testing.T) {
	for mime, want := range map[string]string{
		"audio/webm;codecs=opus":  "webm",
		"audio/ogg; codecs=opus":  "ogg",
		"AUDIO/WAV":               "wav",
		"audio/mp4":               "",
		"":                        "",
		"video/webm;codecs=vp8":   "webm",
		"application/ogg;foo=bar": "ogg",
	} {
		if got := FormatOfMIME(mime); got != want {
			t.Errorf("FormatOfMIME(%q) = %q, want %q", mime, got, want)
		}
	}
}

// A panic on the browser's side fails a take under way, and is heard alone otherwise.
func TestCrashed(t *testing.T) {
	boom := catalog.New(catalog.InternalError, nil, time.Now())
	for _, tc := range []struct {
		name  string
		setUp func(m *Machine, fb *fakeBrowser)
		want  State
	}{
		{"idle", func(*Machine, *fakeBrowser) {}, Idle},
		{"recording", func(m *Machine, fb *fakeBrowser) {
			m.Start()
			fb.opened(m, 1)
			m.RecorderStarted(1)
		}, Error},
		{"requesting", func(m *Machine, _ *fakeBrowser) { m.Start() }, Error},
	} {
		m, fb, _ := setup(MaxDuration)
		tc.setUp(m, fb)
		m.Crashed(boom)
		if m.State() != tc.want || len(fb.kinds(Errored)) != 1 || fb.kinds(Errored)[0].Err != boom {
			t.Errorf("%s: state %s, errors %v; want %s and the one error", tc.name, m.State(), fb.kinds(Errored), tc.want)
		}
	}
}

package recorder

import (
	"slices"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// Record 2 s, pause 2 s, resume 2 s: progress, the limit and the fallback duration
// count the 4 s recorded, never the pause.
func TestPauseCountsRecordedTimeOnly(t *testing.T) {
	m, fb, clk := setup(10 * time.Second)
	take := recordFor(m, fb, clk, 2*time.Second)
	m.Pause()
	if m.State() != Paused || !slices.Contains(fb.calls, "pause 1") || len(fb.clock) != 0 {
		t.Fatalf("state %s calls %v clock %v", m.State(), fb.calls, fb.clock)
	}
	m.Pause() // means nothing now
	clk.advance(2 * time.Second)
	m.Tick(take) // a tick already on its way when the clock stopped
	if n := len(fb.kinds(Progressed)); n != 0 {
		t.Fatalf("%d progress events while paused", n)
	}
	m.Resume()
	if m.State() != Recording || !slices.Contains(fb.calls, "resume 1") || !slices.Contains(fb.calls, "clock 1 8s") {
		t.Fatalf("after resume: state %s calls %v", m.State(), fb.calls)
	}
	m.Resume() // means nothing now
	clk.advance(2 * time.Second)
	m.Tick(take)
	p := fb.kinds(Progressed)
	if len(p) != 1 || p[0].Elapsed != 4 || p[0].Remaining != 6 {
		t.Fatalf("progress %+v, want 4 s elapsed, 6 s left", p)
	}
	m.Stop()
	m.RecorderStopped(take, Captured{MimeType: "audio/webm", PeakLevel: 0.5}) // container unreadable: the clock
	rec := fb.kinds(Stopped)[0].Recording
	if rec.Duration != 4 || rec.PeakLevel != 0.5 {
		t.Errorf("duration %v peak %v, want 4 s of recorded time and the peak", rec.Duration, rec.PeakLevel)
	}
	assertReleased(t, fb)
}

func TestLimitAfterAPauseIsRecordedTime(t *testing.T) {
	m, fb, clk := setup(3 * time.Second)
	take := recordFor(m, fb, clk, 1500*time.Millisecond)
	m.Pause()
	clk.advance(3 * time.Second)
	m.LimitReached(take) // a stale limit timer firing during the pause does nothing
	if m.State() != Paused {
		t.Fatalf("the limit fired while paused: %s", m.State())
	}
	m.Resume()
	if !slices.Contains(fb.calls, "clock 1 1.5s") {
		t.Fatalf("the limit was not restarted with what is left: %v", fb.calls)
	}
	clk.advance(1500 * time.Millisecond)
	m.LimitReached(take)
	errs := fb.kinds(Errored)
	if len(errs) != 1 || errs[0].Err.Code != catalog.DurationExceeded || errs[0].Err.Details["actual_duration"] != 3.0 {
		t.Fatalf("errors %+v", errs)
	}
}

func TestClickWhilePausedStopsAndKeeps(t *testing.T) {
	m, fb, clk := setup(0)
	take := recordFor(m, fb, clk, time.Second)
	m.Pause()
	m.Toggle()
	if m.State() != Processing || !slices.Contains(fb.calls, "stop 1") {
		t.Fatalf("state %s calls %v", m.State(), fb.calls)
	}
	m.RecorderStopped(take, Captured{MimeType: "audio/webm", Duration: 1})
	if len(fb.kinds(Stopped)) != 1 || len(fb.kinds(Errored)) != 0 {
		t.Fatalf("events %v", fb.events)
	}
	assertReleased(t, fb)
}

func TestPauseAndResumeMeanNothingOutsideARecording(t *testing.T) {
	m, fb, _ := setup(0)
	m.Pause()
	m.Resume()
	m.Toggle() // requesting
	m.Pause()
	m.Resume()
	if m.State() != Requesting || len(fb.calls) != 1 {
		t.Fatalf("state %s calls %v", m.State(), fb.calls)
	}
}

// The microphone went away: what was recorded is delivered and uploaded, then the
// page hears DEVICE_LOST with the seconds kept, and the control is idle after the upload.
func TestDeviceLostKeepsUploadsAndReports(t *testing.T) {
	for _, how := range []string{"track ended", "recorder stopped by itself", "lost while paused"} {
		t.Run(how, func(t *testing.T) {
			m, fb, clk := setupWith(Config{AutoUpload: true})
			take := recordFor(m, fb, clk, 2*time.Second)
			captured := Captured{Audio: "blob", MimeType: "audio/webm", Size: 10, Duration: 2.02}
			switch how {
			case "track ended":
				m.DeviceLost(take)
				if m.State() != Processing || !fb.live[take] {
					t.Fatalf("state %s; the microphone must stay until the data is in", m.State())
				}
				m.RecorderStopped(take, captured)
			case "recorder stopped by itself":
				m.RecorderStopped(take, captured)
				m.DeviceLost(take) // the ended event, after: nothing more
			case "lost while paused":
				m.Pause()
				m.DeviceLost(take)
				m.RecorderStopped(take, captured)
			}
			kinds := []EventKind{}
			for _, e := range fb.events {
				if e.Kind != StateChanged {
					kinds = append(kinds, e.Kind)
				}
			}
			if want := []EventKind{Started, Stopped, Errored}; !slices.Equal(kinds, want) {
				t.Fatalf("events %v, want %v", kinds, want)
			}
			err := fb.kinds(Errored)[0].Err
			if err.Code != catalog.DeviceLost || err.Details["recorded"] != 2.02 || !err.Retryable {
				t.Fatalf("error %+v", err)
			}
			if m.State() != Uploading || !slices.Contains(fb.calls, "upload 1 id-1") {
				t.Fatalf("not uploaded: state %s calls %v", m.State(), fb.calls)
			}
			assertReleased(t, fb)
			m.UploadDone(take, "resource")
			if m.State() != Idle || len(fb.kinds(UploadStored)) != 1 {
				t.Fatalf("after the upload: state %s", m.State())
			}
			// The next recording is an ordinary one.
			next := recordFor(m, fb, clk, time.Second)
			m.Stop()
			m.RecorderStopped(next, captured)
			m.UploadDone(next, "resource")
			if m.State() != Uploaded || len(fb.kinds(Errored)) != 1 {
				t.Fatalf("the next take: state %s events %v", m.State(), fb.events)
			}
		})
	}
}

func TestWarningsOnlyForTheTakeRecording(t *testing.T) {
	m, fb, clk := setup(0)
	take := recordFor(m, fb, clk, 3*time.Second)
	warning := catalog.New(catalog.SilentInput, map[string]any{"seconds": 3.0}, clk.now())
	m.Warn(take-1, warning) // a stale take's
	m.Warn(take, warning)
	m.Stop()
	m.Warn(take, warning) // too late: processing
	if w := fb.kinds(Warned); len(w) != 1 || w[0].Err.Code != catalog.SilentInput {
		t.Fatalf("warnings %v", w)
	}
	if len(fb.kinds(Errored)) != 0 {
		t.Fatal("a warning reached onError")
	}
}

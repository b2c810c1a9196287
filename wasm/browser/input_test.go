//go:build js && wasm

package browser

import (
	"syscall/js"
	"testing"
	"time"
)

// The input is read twenty times a second for as long as a recording lasts, and wasm
// memory never shrinks: one reading must not allocate in Go. The probe here is a
// JavaScript function like the shim's, answering a level; the track has a muted flag.
func TestInputFrameDoesNotAllocate(t *testing.T) {
	probe := js.Global().Get("Function").New("return 0.25")
	track := js.Global().Get("Object").New()
	track.Set("muted", false)
	warned := 0
	w := &inputWatch{read: probe, track: track, warn: func(time.Duration) { warned++ }}
	w.watch.Start(monotonic())
	if n := testing.AllocsPerRun(2000, func() { w.b.run("", w.frame) }); n != 0 {
		t.Fatalf("%v allocations per reading", n)
	}
	if peak := w.peak(); peak != 0.25 || warned != 0 {
		t.Fatalf("peak %v, warned %d", peak, warned)
	}
}

// A muted track with no level is silence: the page is warned once, after 3 s.
func TestInputWatchWarnsOfAMutedTrackOnce(t *testing.T) {
	track := js.Global().Get("Object").New()
	track.Set("muted", true)
	warned := make(chan time.Duration, 2)
	w := &inputWatch{read: js.Undefined(), track: track, warn: func(d time.Duration) { warned <- d }}
	w.start()
	defer w.stop()
	if d := <-warned; d < 3*time.Second || d > 3500*time.Millisecond {
		t.Fatalf("warned after %v", d)
	}
	if w.canMeasure() || w.peak() >= 0 {
		t.Fatal("a level without a probe")
	}
}

// The track's muted flag is read only where the level shows no sound: while someone
// speaks, a frame costs one crossing less.
func TestInputFrameReadsMutedOnlyWhenQuiet(t *testing.T) {
	for _, c := range []struct {
		level string
		reads int
	}{{"0.25", 0}, {"0", 1}, {"-1", 1}} {
		track := js.Global().Get("Function").New("let n = 0; return { get muted() { n++; return false }, reads: () => n }").Invoke()
		w := &inputWatch{read: js.Global().Get("Function").New("return " + c.level), track: track, warn: func(time.Duration) {}}
		w.watch.Start(monotonic())
		w.b.run("", w.frame)
		if got := track.Call("reads").Int(); got != c.reads {
			t.Errorf("level %s: muted read %d times, want %d", c.level, got, c.reads)
		}
	}
}

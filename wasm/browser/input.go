//go:build js && wasm

package browser

import (
	"math"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/level"
)

// inputWatch reads a take's input every level.Interval while it records, on a goroutine
// of its own: the level (through the shim's probe, which also tells the page's onLevel)
// and whether the track is muted. What they mean (the peak, silence) is package level's.
type inputWatch struct {
	b     boundary
	read  js.Value // the shim's probe: an AnalyserNode's peak since the last read; undefined where none runs
	track js.Value // the microphone track, for its muted flag
	watch level.Watch
	// run numbers the goroutine that may read: start and stop move it on, and a
	// goroutine whose number has passed ends at its next wake.
	run  atomic.Int32
	warn func(silent time.Duration) // posts SILENT_INPUT to the control's loop
}

// canMeasure: the input's level can be read (an AudioContext runs).
func (w *inputWatch) canMeasure() bool { return w.read.Type() == js.TypeFunction }

// start begins (or, after a pause, resumes) reading; silence in a row counts afresh.
func (w *inputWatch) start() {
	gen := w.run.Add(1)
	w.watch.Start(monotonic())
	w.b.spawn(func() {
		for {
			time.Sleep(level.Interval)
			if w.run.Load() != gen || w.b.run("", w.frame) {
				return
			}
		}
	})
}

func (w *inputWatch) stop() { w.run.Add(1) }

// frame takes one reading. It runs twenty times a second for as long as a recording
// lasts and wasm memory never shrinks, so it must not allocate: numbers and booleans
// cross from JavaScript without a Go object, and the probe is called with no
// arguments (TestInputFrameDoesNotAllocate measures it).
func (w *inputWatch) frame() {
	lvl := -1.0
	if w.canMeasure() {
		lvl = w.read.Invoke().Float()
	}
	// A muted track delivers silence: its flag is read only where the level shows none
	// (or cannot be read), one crossing less per frame while someone speaks.
	muted := lvl < level.Silence && w.track.Type() == js.TypeObject && w.track.Get("muted").Bool()
	if silent, warn := w.watch.Observe(monotonic(), lvl, muted); warn {
		w.warn(silent)
	}
}

// peak is the loudest level of the recording, negative where none was measured.
func (w *inputWatch) peak() float64 {
	if p, ok := w.watch.Peak(); ok {
		return p
	}
	return -1
}

// watchInput prepares the take's input watch once its stream is open and its audio
// context is known; levels are read only where that context runs.
func (c *Control) watchInput(n int, t *take) {
	w := &inputWatch{b: c.b, read: js.Undefined(), track: js.Undefined()}
	w.track = safejs.Unsafe(t.stream).Call("getAudioTracks").Index(0) // a live stream's: cannot throw
	if c.meterable(t) {
		// A probe the shim could not make leaves the take without levels, as a context
		// that does not run does: the page hears canMeasure false.
		if probe, err := c.levels.Invoke(t.audio, t.stream); err == nil && probe.Type() == safejs.TypeFunction {
			w.read = safejs.Unsafe(probe)
		}
	}
	w.warn = func(silent time.Duration) {
		seconds := math.Round(silent.Seconds()*10) / 10
		c.loop.post(func() {
			c.machine.Warn(n, catalog.New(catalog.SilentInput, map[string]any{"seconds": seconds}, time.Now()))
		})
	}
	t.input = w
}

// joinLevelMeter adds the level watch to a take already recording, started if the
// take's watches run (a pause or a stop before it leaves it to the resume, or to none).
func (c *Control) joinLevelMeter(n int, t *take) {
	if t.closed || t.discard || t.input != nil {
		return
	}
	c.watchInput(n, t)
	if t.clock != nil {
		t.input.start()
	}
}

// measures: the take's level can be read, or will be once its meter joins (a probe the
// shim then fails to make leaves the meter at rest).
func (c *Control) measures(t *take) bool {
	if t.input != nil {
		return t.input.canMeasure()
	}
	return c.meterable(t)
}

// meterable: the take's audio context runs and the shim can make a level probe.
func (c *Control) meterable(t *take) bool {
	return t.audioOn && c.levels.Type() == safejs.TypeFunction
}

// listenForLoss reports the take's microphone going away (unplugged, revoked): a track
// that ends by itself. The SDK's own stop() of a track fires no ended event. A live
// stream's tracks cannot fail to be read or listened to: a failure is INTERNAL_ERROR.
func (c *Control) listenForLoss(n int, t *take) {
	tracks := safejs.Unsafe(t.stream).Call("getAudioTracks")
	for i, n := 0, tracks.Length(); i < n; i++ {
		release := must(c.b.listen(safejs.Safe(tracks.Index(i)), "ended", func(safejs.Value) {
			c.loop.post(func() { c.machine.DeviceLost(n) })
		}))
		t.unlisten = append(t.unlisten, release)
	}
}

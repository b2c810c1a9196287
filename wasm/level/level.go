// Package level watches a recording's input from readings of its peak level: the
// loudest moment of the recording, and whether the microphone is delivering silence
// (a muted headset, a hardware mute switch, a suspended device), which the page hears
// as SILENT_INPUT while the recording goes on.
//
// It holds no clock and no browser API: the glue reads the input every Interval and
// hands each reading here with the time it was taken. Nothing here allocates.
package level

import "time"

const (
	// Interval is how often the glue reads the input: 20 times a second, twice what a
	// meter needs to look live.
	Interval = 50 * time.Millisecond
	// Silence is -60 dBFS as a linear peak: below it nobody is speaking into the
	// microphone, whatever the room.
	Silence = 0.001
	// SilentFor is how long the input must stay silent before the page is warned: at
	// the start of a recording, or in a row later.
	SilentFor = 3 * time.Second
)

// Watch is one recording's input. Its zero value is not ready: call Start first.
// It is not safe for concurrent use.
type Watch struct {
	peak     float64
	measured bool
	heard    time.Duration // when the input was last not silent (or the watch started)
	warned   bool
}

// Start begins watching at the given time, and again after a pause: silence in a row
// counts from here, since a pause breaks the row.
func (w *Watch) Start(at time.Duration) { w.heard = at }

// Observe takes one reading taken at the given time. level is the peak of the input
// since the last reading, linear, or negative where it cannot be measured; muted is
// whether the browser says the track delivers no audio. It answers, once per
// recording, how long the input has been silent when the page should be warned now.
func (w *Watch) Observe(at time.Duration, level float64, muted bool) (silent time.Duration, warn bool) {
	if level >= 0 {
		w.measured = true
		w.peak = max(w.peak, min(level, 1))
	}
	// A level that cannot be measured is not silence: only a muted track says so then.
	if !muted && (level < 0 || level >= Silence) {
		w.heard = at
		return 0, false
	}
	if w.warned || at-w.heard < SilentFor {
		return 0, false
	}
	w.warned = true
	return at - w.heard, true
}

// Peak is the loudest level of the recording, in [0, 1], and whether any reading
// measured one.
func (w *Watch) Peak() (float64, bool) { return w.peak, w.measured }

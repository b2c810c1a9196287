package level

import (
	"math/rand/v2"
	"testing"
	"time"
)

// feed reads the same input for d, from `from`, every Interval; it answers when the
// watch warned (relative to `from`), or -1.
func feed(w *Watch, from, d time.Duration, level float64, muted bool) time.Duration {
	for at := from + Interval; at <= from+d; at += Interval {
		if _, warn := w.Observe(at, level, muted); warn {
			return at - from
		}
	}
	return -1
}

func TestSilenceFromTheStartWarnsAfterThreeSecondsOnce(t *testing.T) {
	var w Watch
	w.Start(0)
	if at := feed(&w, 0, 10*time.Second, 0.0005, false); at != SilentFor {
		t.Fatalf("warned at %v, want %v", at, SilentFor)
	}
	if at := feed(&w, 10*time.Second, 10*time.Second, 0, false); at != -1 {
		t.Fatalf("warned a second time at %v", at)
	}
	if peak, ok := w.Peak(); !ok || peak != 0.0005 {
		t.Errorf("peak %v %v", peak, ok)
	}
}

func TestSpeechWithShortGapsNeverWarns(t *testing.T) {
	var w Watch
	w.Start(0)
	at := time.Duration(0)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		gap := time.Duration(rng.IntN(2900)) * time.Millisecond // pauses between words, under 3 s
		if feed(&w, at, gap, 0, false) != -1 || feed(&w, at+gap, 500*time.Millisecond, 0.3, false) != -1 {
			t.Fatalf("warned during speech, round %d", i)
		}
		at += gap + 500*time.Millisecond
	}
	if peak, _ := w.Peak(); peak != 0.3 {
		t.Errorf("peak %v", peak)
	}
}

func TestSilenceLaterInARowWarns(t *testing.T) {
	var w Watch
	w.Start(0)
	feed(&w, 0, 5*time.Second, 0.2, false)
	silent, warned := time.Duration(0), false
	for at := 5*time.Second + Interval; !warned; at += Interval {
		silent, warned = w.Observe(at, 0.00001, false)
	}
	if silent != SilentFor {
		t.Errorf("silent for %v when warned", silent)
	}
}

// A muted track is silence even where the level cannot be measured; an unmeasured
// level alone is not.
func TestMutedWarnsWithoutLevels(t *testing.T) {
	var w Watch
	w.Start(0)
	if at := feed(&w, 0, 5*time.Second, -1, false); at != -1 {
		t.Fatalf("an unmeasurable input warned at %v", at)
	}
	if at := feed(&w, 5*time.Second, 5*time.Second, -1, true); at != SilentFor {
		t.Fatalf("muted warned at %v, want %v", at, SilentFor)
	}
	if _, ok := w.Peak(); ok {
		t.Error("a peak without a measurement")
	}
}

func TestAPauseBreaksTheRow(t *testing.T) {
	var w Watch
	w.Start(0)
	feed(&w, 0, 2*time.Second, 0, false)
	w.Start(10 * time.Second) // resumed after 8 s paused
	if at := feed(&w, 10*time.Second, 2*time.Second, 0, false); at != -1 {
		t.Fatalf("2 s + 2 s around a pause warned at %v", at)
	}
}

func TestPeakIsClamped(t *testing.T) {
	var w Watch
	w.Start(0)
	w.Observe(Interval, 1.7, false)
	if peak, _ := w.Peak(); peak != 1 {
		t.Errorf("peak %v", peak)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	var w Watch
	w.Start(0)
	at := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() { at += Interval; w.Observe(at, 0.1, false) }); n != 0 {
		t.Errorf("%v allocations per reading", n)
	}
}

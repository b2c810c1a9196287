package browser

import (
	"sync"
	"testing"
	"time"
)

func TestLoopRunsInOrderAndSurvivesPanics(t *testing.T) {
	var mu sync.Mutex
	var got []int
	var panics []any
	done := make(chan struct{})
	l := newLoop(func(p any) {
		mu.Lock()
		panics = append(panics, p)
		mu.Unlock()
	})
	for i := 0; i < 100; i++ {
		i := i
		l.post(func() {
			if i == 50 {
				panic("boom")
			}
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
			if i == 99 {
				close(done)
			}
		})
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("loop stalled")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 99 || len(panics) != 1 || panics[0] != "boom" {
		t.Fatalf("ran %d pieces, panics %v", len(got), panics)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order at %d: %v", i, got)
		}
	}
}

func TestLoopSurvivesAPanickingReport(t *testing.T) {
	done := make(chan struct{})
	l := newLoop(func(any) { panic("the report fails too") })
	l.post(func() { panic("first") })
	l.post(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("loop died with its report")
	}
}

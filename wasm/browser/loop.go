package browser

import "sync"

// loop runs posted work one piece at a time on a single goroutine.
//
// JavaScript event handlers (a MediaRecorder's start, a promise settling, a timer) only
// post here and return: they never block, and the recorder's state machine is only
// ever touched by the loop's goroutine.
type loop struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{}
	// onPanic is told of a panic in posted work; the loop goes on with the next piece.
	onPanic func(recovered any)
}

func newLoop(onPanic func(any)) *loop {
	l := &loop{wake: make(chan struct{}, 1), onPanic: onPanic}
	go l.run()
	return l
}

// post queues fn. It never blocks, so it is safe inside a js.FuncOf callback.
// Work posted after close is dropped.
func (l *loop) post(fn func()) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, fn)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// close ends the loop's goroutine once the work already queued has run.
func (l *loop) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loop) run() {
	for range l.wake {
		for {
			l.mu.Lock()
			if len(l.queue) == 0 {
				l.queue = nil // let the backing array go after a burst
				closed := l.closed
				l.mu.Unlock()
				if closed {
					return
				}
				break
			}
			fn := l.queue[0]
			l.queue = l.queue[1:]
			l.mu.Unlock()
			l.safely(fn)
		}
	}
}

func (l *loop) safely(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			defer swallowPanic() // a failing report must not end the program either
			l.onPanic(p)
		}
	}()
	fn()
}

// swallowPanic, deferred, ends a panic where nothing is left to report it to: the
// console hears of it.
func swallowPanic() {
	if recover() != nil {
		println("vocafuse: a panic while reporting a panic")
	}
}

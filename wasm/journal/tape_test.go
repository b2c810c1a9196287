package journal

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// loop is the take's loop: one function at a time.
type loop struct{ mu sync.Mutex }

func (l *loop) post(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn()
}

// tapeRun is one take's journal as the glue drives it.
type tapeRun struct {
	tp    *Tape
	loop  *loop
	store *fakeStore
	locks *fakeLocks
}

func newTapeRun(head Head) *tapeRun {
	return &tapeRun{tp: NewTape("a", head), loop: &loop{}, store: newStore(), locks: newLocks()}
}

func (r *tapeRun) start()         { go r.tp.Run(r.locks, r.loop.post, r.store) }
func (r *tapeRun) chunk(c string) { r.loop.post(func() { r.tp.Chunk([]byte(c)) }) }
func (r *tapeRun) handOver() (l func()) {
	r.loop.post(func() { l = r.tp.HandOver() })
	return l
}

func (r *tapeRun) drop() {
	var drop func()
	r.loop.post(func() { drop = r.tp.Drop(r.store) })
	if drop != nil {
		go drop()
	}
}

// written is the journal on disk: its chunks, or nil when it was never started.
func (r *tapeRun) written() []string {
	if !r.store.has("a") {
		return nil
	}
	out := []string{}
	for _, c := range chunksOf(r.store.journal("a").Chunks) {
		out = append(out, string(c))
	}
	return out
}

// TestTape: a take's journal, from its start to its hand-over or its removal.
func TestTape(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run drives the take; other lets go of the lock a recovering tab held at the start.
		run        func(r *tapeRun, other func())
		other      bool // another holder has the recording's lock at the start (a recovery of it)
		noLocks    bool
		startErr   error
		written    []string // the journal's chunks at the end; nil: none on disk
		held       bool     // the lock is held at the end
		wantHanded bool     // handOver answered a lock
	}{
		{
			name: "the lock free: the head, then each chunk as it comes",
			run: func(r *tapeRun, _ func()) {
				r.start()
				synctest.Wait()
				r.chunk("1")
				r.chunk("2")
			},
			written: []string{"1", "2"}, held: true,
		},
		{
			name:  "chunks before the lock come are kept, and written after the head in order",
			other: true,
			run: func(r *tapeRun, other func()) {
				r.start()
				r.chunk("1")
				r.chunk("2")
				synctest.Wait()
				other()
				synctest.Wait()
				r.chunk("3")
			},
			written: []string{"1", "2", "3"}, held: true,
		},
		{
			name: "handed over: the lock passes to the outbox, later chunks are not written, a drop does nothing",
			run: func(r *tapeRun, _ func()) {
				r.start()
				synctest.Wait()
				r.chunk("1")
				if r.handOver() == nil {
					panic("no lock handed over")
				}
				r.chunk("2")
				r.drop()
			},
			written: []string{"1"}, held: true, wantHanded: true,
		},
		{
			name:  "handed over before the lock came: none handed (the outbox waits), and it is given back when it comes",
			other: true,
			run: func(r *tapeRun, other func()) {
				r.start()
				r.chunk("1")
				if r.handOver() != nil {
					panic("a lock handed over before it was held")
				}
				other()
			},
			written: nil, held: false,
		},
		{
			name: "dropped: the journal removed, then the lock given back",
			run: func(r *tapeRun, _ func()) {
				r.start()
				synctest.Wait()
				r.chunk("1")
				r.drop()
			},
			written: nil, held: false,
		},
		{
			name:  "dropped before the lock came: nothing written, the lock given back when it comes",
			other: true,
			run: func(r *tapeRun, other func()) {
				r.start()
				r.chunk("1")
				r.drop()
				synctest.Wait()
				other()
			},
			written: nil, held: false,
		},
		{
			name:     "the journal cannot be started: nothing written, the lock kept for the delivery",
			startErr: errors.New("no store"),
			run: func(r *tapeRun, _ func()) {
				r.start()
				synctest.Wait()
				r.chunk("1")
			},
			written: nil, held: true,
		},
		{
			name:    "without Web Locks: written all the same",
			noLocks: true,
			run: func(r *tapeRun, _ func()) {
				r.start()
				synctest.Wait()
				r.chunk("1")
			},
			written: []string{"1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newTapeRun(Head{MIME: "audio/webm", Format: "webm"})
				r.store.startErr = tc.startErr
				r.locks.absent = tc.noLocks
				other := func() {}
				if tc.other {
					other, _ = r.locks.Lock("a", false)
				}
				tc.run(r, other)
				synctest.Wait()
				if got := r.written(); !slices.Equal(got, tc.written) || (got == nil) != (tc.written == nil) {
					t.Errorf("written %q, want %q", got, tc.written)
				}
				if got := r.locks.isHeld("a"); got != tc.held {
					t.Errorf("lock held %v, want %v", got, tc.held)
				}
			})
		})
	}
}

// TestTapeOwner: the first identity heard is the recording's; the head says it from then
// on, written again only once the journal has started.
func TestTapeOwner(t *testing.T) {
	for _, tc := range []struct {
		known, heard string
		news         bool
	}{
		{"", "alice", true},
		{"", "", false},
		{"alice", "bob", false}, // the page's token changed: the recording stays alice's
		{"alice", "alice", false},
	} {
		if got := FirstOwner(tc.known, tc.heard); got != tc.news {
			t.Errorf("FirstOwner(%q, %q) = %v, want %v", tc.known, tc.heard, got, tc.news)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		// Heard before the journal started: its first head says it.
		r := newTapeRun(NewHead("audio/webm", 0, 1, "", "{}"))
		r.tp.Owned("alice", r.store)
		r.start()
		synctest.Wait()
		if len(r.store.heads) != 1 || r.store.heads[0].Owner != "alice" {
			t.Errorf("heads written %+v, want one of alice", r.store.heads)
		}
		// Heard after: the head is written again.
		r = newTapeRun(NewHead("audio/webm", 0, 1, "", "{}"))
		r.start()
		synctest.Wait()
		r.loop.post(func() { r.tp.Owned("bob", r.store) })
		if got := r.store.journal("a").Head; len(r.store.heads) != 2 || got.Owner != "bob" || got.Metadata != "{}" {
			t.Errorf("heads written %+v, want the first rewritten with bob", r.store.heads)
		}
		// After the hand-over: the journal is the outbox's, not written.
		r.handOver()
		r.loop.post(func() { r.tp.Owned("carol", r.store) })
		if len(r.store.heads) != 2 {
			t.Errorf("a head written after the hand-over: %+v", r.store.heads)
		}
		r.drop()
		synctest.Wait()
	})
}

// TestNewHead: a PCM take's journal is a WAV's, whatever MIME type was asked for.
func TestNewHead(t *testing.T) {
	for _, tc := range []struct {
		mime    string
		pcmRate int
		want    Head
	}{
		{"audio/webm;codecs=opus", 0, Head{MIME: "audio/webm;codecs=opus", Format: "webm"}},
		{"audio/ogg;codecs=opus", 0, Head{MIME: "audio/ogg;codecs=opus", Format: "ogg"}},
		{"audio/webm", 16000, Head{MIME: "audio/wav", Format: "wav", Rate: 16000}},
	} {
		h := NewHead(tc.mime, tc.pcmRate, 5, "o", "m")
		w := tc.want
		if h.MIME != w.MIME || h.Format != w.Format || h.Rate != w.Rate || h.Created != 5 || h.Owner != "o" || h.Metadata != "m" {
			t.Errorf("NewHead(%q, %d) = %+v, want %+v", tc.mime, tc.pcmRate, h, w)
		}
	}
}

// TestTapePCM: encoded PCM goes to the journal a second at a time, each chunk answered
// so the caller lets its bytes go; a chunk that could not be made goes with the next. A
// take without a journal gets its chunks all the same.
func TestTapePCM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTapeRun(NewHead("", 16000, 1, "", ""))
		r.start()
		synctest.Wait()
		second := PCMChunkBytes(16000)
		fail := false
		chunk := func(b []byte) (any, error) {
			if fail {
				return nil, errors.New("no Blob")
			}
			return append([]byte(nil), b...), nil
		}
		var buf []byte
		var made [][]byte
		feed := func(n int) {
			buf = append(buf, make([]byte, n)...)
			r.loop.post(func() {
				if c := r.tp.PCM(buf, second, chunk); c != nil {
					made, buf = append(made, c.([]byte)), nil
				}
			})
		}
		lengths := func() []int {
			var out []int
			for _, c := range chunksOf(r.store.journal("a").Chunks) {
				out = append(out, len(c))
			}
			return out
		}
		feed(second - 2) // under a second: kept
		if got := lengths(); len(got) != 0 {
			t.Fatalf("written %v before a second of PCM", got)
		}
		feed(2) // a second
		fail = true
		feed(second) // could not be made: goes with the next
		fail = false
		feed(second / 2)
		if got, want := lengths(), []int{second, second + second/2}; !slices.Equal(got, want) {
			t.Errorf("chunks of %v bytes, want %v", got, want)
		}
		if len(made) != 2 || len(buf) != 0 {
			t.Errorf("%d chunks answered, %d bytes left, want 2 and 0", len(made), len(buf))
		}
		r.drop()
		synctest.Wait()
		if c := r.tp.PCM(make([]byte, second), second, chunk); c == nil {
			t.Error("a dropped tape made no chunk of a second of PCM")
		}
		if c := (*Tape)(nil).PCM(make([]byte, second), second, chunk); c == nil {
			t.Error("no tape made no chunk of a second of PCM")
		}
	})
}

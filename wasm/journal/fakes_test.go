package journal

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/delivery"
)

// The glue's primitives, faked: journals in a map, locks shared between "tabs", files
// of bytes, an outbox that records what it is handed. Tests that wait run inside
// synctest.Test, so synctest.Wait says when every goroutine is blocked.

// fakeLocks are Web Locks: shared by every tab made with them.
type fakeLocks struct {
	mu     sync.Mutex
	held   map[string]chan struct{} // closed on release
	absent bool                     // no Web Locks: every Lock answers ok false at once
	asked  []string                 // "id wait" or "id no-wait", in order
}

func newLocks() *fakeLocks { return &fakeLocks{held: map[string]chan struct{}{}} }

func (l *fakeLocks) Lock(id string, wait bool) (func(), bool) {
	l.mu.Lock()
	if wait {
		l.asked = append(l.asked, id+" wait")
	} else {
		l.asked = append(l.asked, id+" no-wait")
	}
	if l.absent {
		l.mu.Unlock()
		return func() {}, false
	}
	for {
		ch, taken := l.held[id]
		if !taken {
			mine := make(chan struct{})
			l.held[id] = mine
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, id)
					l.mu.Unlock()
					close(mine)
				})
			}, true
		}
		if !wait {
			l.mu.Unlock()
			return func() {}, false
		}
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
}

func (l *fakeLocks) isHeld(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[id]
	return ok
}

// fakeStore is the journals on disk; chunks are byte slices.
type fakeStore struct {
	mu       sync.Mutex
	journals map[string]*Journal
	order    []string
	listErr  error
	startErr error
	dropped  []string
	heads    []Head // every head written, Start's and Rewrite's
}

func newStore(js ...Journal) *fakeStore {
	s := &fakeStore{journals: map[string]*Journal{}}
	for _, j := range js {
		s.put(j)
	}
	return s
}

func (s *fakeStore) put(j Journal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.journals[j.ID]; !ok {
		s.order = append(s.order, j.ID)
	}
	j.Count = len(chunksOf(j.Chunks))
	s.journals[j.ID] = &j
}

func (s *fakeStore) Journals() ([]Journal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []Journal
	for _, id := range s.order {
		if j, ok := s.journals[id]; ok {
			out = append(out, *j)
		}
	}
	return out, nil
}

func (s *fakeStore) Drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.journals, id)
	s.dropped = append(s.dropped, id)
}

func (s *fakeStore) Start(id string, head Head) (func(chunk any), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startErr != nil {
		return nil, s.startErr
	}
	h := head
	s.heads = append(s.heads, head)
	s.journals[id] = &Journal{ID: id, Head: &h, Chunks: [][]byte{}}
	s.order = append(s.order, id)
	return func(chunk any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		j := s.journals[id]
		j.Chunks = append(chunksOf(j.Chunks), chunk.([]byte))
		j.Count++
	}, nil
}

func (s *fakeStore) Rewrite(id string, head Head) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := head
	s.heads = append(s.heads, head)
	if j, ok := s.journals[id]; ok {
		j.Head = &h
	}
}

func (s *fakeStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.journals[id]
	return ok
}

func (s *fakeStore) journal(id string) Journal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.journals[id]
}

func (s *fakeStore) droppedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.dropped...)
}

func chunksOf(c any) [][]byte { b, _ := c.([][]byte); return b }

// memFile is a file in memory.
type memFile struct {
	*bytes.Reader
	b []byte
}

func (f memFile) Size() int64 { return int64(len(f.b)) }
func (f memFile) Blob() any   { return f.b }

func newFile(b []byte) memFile { return memFile{bytes.NewReader(b), b} }

// memFiles makes files of bytes; Inspect reads the duration the container states, as
// the glue's does.
type memFiles struct{ joinErr error }

func (fs memFiles) Join(chunks any, mime string) (File, error) {
	if fs.joinErr != nil {
		return nil, fs.joinErr
	}
	return newFile(bytes.Join(chunksOf(chunks), nil)), nil
}

func (memFiles) Make(header []byte, f File, n int64, mime string) (File, error) {
	b := f.(memFile).b[:n]
	return newFile(append(append([]byte(nil), header...), b...)), nil
}

func (memFiles) Inspect(f File, mime string) (File, float64) {
	info, err := audio.Probe(f, f.Size())
	if err != nil {
		return f, 0
	}
	return f, info.Duration
}

// fakeOutbox is the courier: it records what it is handed, and holds each lock it is
// given until the test lets go of it (deliver), as a delivery does.
type fakeOutbox struct {
	mu      sync.Mutex
	pending map[string]bool
	sent    []*delivery.Record
	resumed []string
	held    map[string]func()
	store   *fakeStore // the journal goes once the outbox has the recording (Kept)
}

func newOutbox(store *fakeStore, pending ...string) *fakeOutbox {
	o := &fakeOutbox{pending: map[string]bool{}, held: map[string]func(){}, store: store}
	for _, id := range pending {
		o.pending[id] = true
	}
	return o
}

func (o *fakeOutbox) Pending(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending[id]
}

func (o *fakeOutbox) Resume(id string, held func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.resumed = append(o.resumed, id)
	o.held[id] = held
}

func (o *fakeOutbox) SendHeld(r *delivery.Record, w delivery.Watcher, progress any, held func()) {
	o.mu.Lock()
	o.sent = append(o.sent, r)
	o.pending[r.ID] = true
	o.held[r.ID] = held
	o.mu.Unlock()
	o.store.Drop(r.ID) // Kept: on disk in the outbox, so the journal goes
}

// deliver ends the delivery of id: the server has it, the lock is let go.
func (o *fakeOutbox) deliver(id string) {
	o.mu.Lock()
	release := o.held[id]
	delete(o.held, id)
	delete(o.pending, id)
	o.mu.Unlock()
	release()
}

func (o *fakeOutbox) sentIDs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []string
	for _, r := range o.sent {
		ids = append(ids, r.ID)
	}
	return ids
}

// tab is one page's recovery over the shared store and locks.
type tab struct {
	rc       *Recovery
	outbox   *fakeOutbox
	reports  []*catalog.Error
	rebuilt  []string
	mu       sync.Mutex
	sentSeen bool // a rebuilt recording was announced after the outbox had it
}

func newTab(store *fakeStore, locks *fakeLocks, outbox *fakeOutbox, files Files) *tab {
	tb := &tab{outbox: outbox}
	tb.rc = &Recovery{
		Store: store, Locks: locks, Outbox: outbox, Files: files,
		Go:  func(fn func()) { go fn() },
		Now: time.Now,
		Report: func(e *catalog.Error) {
			tb.mu.Lock()
			defer tb.mu.Unlock()
			tb.reports = append(tb.reports, e)
		},
		Rebuilt: func(r *delivery.Record) {
			tb.mu.Lock()
			defer tb.mu.Unlock()
			tb.rebuilt = append(tb.rebuilt, r.ID)
			if outbox.Pending(r.ID) {
				tb.sentSeen = true
			}
		},
		PCMRate: 16000,
	}
	return tb
}

func (tb *tab) reportReasons() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, e := range tb.reports {
		reason, _ := e.Details["reason"].(string)
		out = append(out, reason)
	}
	return out
}

// Recordings as a journal holds them.

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../internal/audio/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// timeslices cuts b into n chunks, as a MediaRecorder's timeslices.
func timeslices(b []byte, n int) [][]byte {
	var out [][]byte
	step := (len(b) + n - 1) / n
	for len(b) > 0 {
		k := min(step, len(b))
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

var errBroken = errors.New("broken")

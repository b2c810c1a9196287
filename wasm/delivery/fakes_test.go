package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// The browser's primitives, faked: an outbox in a map, locks shared between "tabs", a
// network that answers from a script. Every test runs inside synctest.Test, so time is
// fake: a five-minute backoff passes at once, and synctest.Wait says when every
// goroutine is blocked.

type fakeStore struct {
	mu      sync.Mutex
	records map[string]Record
	failPut error // every Put answers it (the record is kept anyway, as the shim keeps it in memory)
	puts    int
	slowGet time.Duration // Get answers this long after it is asked, as IndexedDB does
}

func newStore() *fakeStore { return &fakeStore{records: map[string]Record{}} }

func (s *fakeStore) Put(r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[r.ID] = *r
	s.puts++
	return s.failPut
}

func (s *fakeStore) Get(id string) *Record {
	time.Sleep(s.slowGet)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id]
	if !ok {
		return nil
	}
	return &r
}

func (s *fakeStore) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, id)
}

func (s *fakeStore) List() []*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Record
	for _, r := range s.records {
		r := r
		out = append(out, &r)
	}
	return out
}

func (s *fakeStore) has(id string) bool { return s.Get(id) != nil }

// fakeLocks are Web Locks: shared by every courier (tab) made with them.
type fakeLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed on release
	slow time.Duration            // Lock answers this long after it is asked
}

func newLocks() *fakeLocks { return &fakeLocks{held: map[string]chan struct{}{}} }

func (l *fakeLocks) Lock(id string, wait bool) (func(), bool) {
	time.Sleep(l.slow)
	for {
		l.mu.Lock()
		released, taken := l.held[id]
		if !taken {
			ch := make(chan struct{})
			l.held[id] = ch
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, id)
					l.mu.Unlock()
					close(ch)
				})
			}, true
		}
		l.mu.Unlock()
		if !wait {
			return func() {}, false
		}
		<-released
	}
}

func (l *fakeLocks) isHeld(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[id]
	return ok
}

// reply is one scripted answer of the fake network.
type reply struct {
	status     int
	body       string // JSON envelope or any text
	retryAfter time.Duration
	noAnswer   bool
	panics     bool
	hang       bool          // no answer until the attempt's timeout
	delay      time.Duration // the answer comes this long after the request
}

func ok201() reply { return reply{status: 201, body: `{"id":"x","status":"uploaded"}`} }

func apiError(status, code int, extra string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"error":{"code":%d,"message":"m"%s}}`, code, extra)}
}

type sent struct {
	at      time.Time
	token   string
	timeout time.Duration
	url     string
}

type fakeNetwork struct {
	mu       sync.Mutex
	script   []reply // answers in order; the last one repeats
	puts     []sent
	tokens   int
	tokenErr error
	lifetime time.Duration
	sub      string // when set, tokens are JWTs of this identity
}

func (n *fakeNetwork) Token() (string, time.Duration, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tokens++
	if n.tokenErr != nil {
		return "", 0, n.tokenErr
	}
	if n.sub != "" {
		return jwt(fmt.Sprintf(`{"sub":%q,"n":%d}`, n.sub, n.tokens)), n.lifetime, nil
	}
	return fmt.Sprintf("tok-%d-secretvalue", n.tokens), n.lifetime, nil
}

func (n *fakeNetwork) Put(r Request) (Response, error) {
	n.mu.Lock()
	n.puts = append(n.puts, sent{at: time.Now(), token: r.Token, timeout: r.Timeout, url: r.URL})
	a := n.script[min(len(n.puts), len(n.script))-1]
	n.mu.Unlock()
	time.Sleep(a.delay)
	switch {
	case a.panics:
		panic("the glue broke")
	case a.hang:
		time.Sleep(r.Timeout)
		return Response{}, errors.New("timeout")
	case a.noAnswer:
		return Response{}, errors.New("connection refused")
	}
	var doc any
	if json.Unmarshal([]byte(a.body), &doc) != nil {
		doc = nil
	}
	if a.status >= 200 && a.status < 300 {
		return Response{Status: a.status, Resource: doc}, nil
	}
	return Response{Status: a.status, Envelope: doc, Body: a.body, RetryAfter: a.retryAfter}, nil
}

func (n *fakeNetwork) attempts() []sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sent(nil), n.puts...)
}

// heard is one report to a watcher.
type heard struct {
	at    time.Time
	err   *catalog.Error
	final bool
}

type fakeWatcher struct {
	mu        sync.Mutex
	heard     []heard
	delivered []any
	at        time.Time
}

func (w *fakeWatcher) Heard(err *catalog.Error, final bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.heard = append(w.heard, heard{time.Now(), err, final})
}

func (w *fakeWatcher) Delivered(resource any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.delivered = append(w.delivered, resource)
	w.at = time.Now()
}

func (w *fakeWatcher) reports() []heard {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]heard(nil), w.heard...)
}

func (w *fakeWatcher) deliveries() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.delivered)
}

// tab is one page's courier over shared storage and locks.
type tab struct {
	*Courier
	net *fakeNetwork
}

// newTab makes a courier whose deliveries end with the test (inside its bubble).
func newTab(t *testing.T, store *fakeStore, locks *fakeLocks, net *fakeNetwork) tab {
	p := DefaultPolicy()
	p.Jitter = func() float64 { return 0.5 }
	c := tab{New(store, locks, net, "https://api.test", p), net}
	t.Cleanup(func() {
		c.Close()
		after(AttemptTimeout) // an attempt under way ends, at the latest, when it times out
	})
	return c
}

// after lets d of fake time pass, then waits until every goroutine is blocked.
func after(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func record(id string) *Record {
	return &Record{ID: id, ContentType: "audio/webm", Format: "webm", Size: 100, Duration: 1, Created: time.Now().UnixMilli()}
}

func mustCode(t *testing.T, h heard, code catalog.Code, final bool) {
	t.Helper()
	if h.err == nil || h.err.Code != code || h.final != final {
		t.Fatalf("heard %+v (final %v), want %s (final %v)", h.err, h.final, code, final)
	}
}

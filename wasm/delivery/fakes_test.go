package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// The browser's primitives, faked: an outbox in a map, locks shared between "tabs", a
// network that answers from a script. Every test runs inside synctest.Test, so time is
// fake: a five-minute backoff passes at once, and synctest.Wait says when every
// goroutine is blocked.

type fakeStore struct {
	mu       sync.Mutex
	records  map[string]Record
	failPut  error // every Put answers it (the record is kept anyway, as the shim keeps it in memory)
	puts     int
	slowGet  time.Duration // Get answers this long after it is asked, as IndexedDB does
	removing chan struct{} // a Delete reaches the disk once this is closed (nil: at once)
	writing  chan struct{} // a recording's first Put reaches the disk once this is closed (nil: at once)
	order    []string      // "kept", "delete": what reached the outbox, in order
}

func newStore() *fakeStore { return &fakeStore{records: map[string]Record{}} }

func (s *fakeStore) Put(r *Record) (written func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *r
	c.Session = r.Session.clone() // what is on disk, not the courier's live session
	_, again := s.records[r.ID]
	s.records[r.ID] = c
	s.puts++
	failPut, writing := s.failPut, s.writing
	if again || writing == nil {
		return func() error { return failPut }
	}
	return func() error {
		<-writing
		return failPut
	}
}

func (s *fakeStore) Get(id string) *Record {
	time.Sleep(s.slowGet)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id]
	if !ok {
		return nil
	}
	r.Session = r.Session.clone()
	return &r
}

func (s *fakeStore) Delete(id string) (removed func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = append(s.order, "delete")
	delete(s.records, id)
	if s.removing != nil {
		return func() { <-s.removing }
	}
	return func() {}
}

func (s *fakeStore) List() []*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Record
	for _, r := range s.records {
		r := r
		r.Session = r.Session.clone()
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
	body       string // JSON envelope, XML or any text
	etag       string
	retryAfter time.Duration
	noAnswer   bool
	panics     bool
	hang       bool          // no answer until the request's timeout
	delay      time.Duration // the answer comes this long after the request
}

// ok201 is the answer of a PUT that completes the voice note (the single upload's, the
// last part's).
func ok201() reply { return reply{status: 200, body: `{"data":{"id":"x","status":"processing"}}`} }

// partIn is a part's receipt (the local API's); stored is object storage's empty 200.
func partIn() reply {
	return reply{status: 200, body: `{"data":{"part_number":1,"etag":"e"}}`, etag: `"e"`}
}
func stored() reply { return reply{status: 200, etag: `"3858f62230ac3c915f300c664312c63f"`} }

func apiError(status, code int, extra string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"error":{"code":%d,"message":"m"%s}}`, code, extra)}
}

// s3Error is object storage's XML error.
func s3Error(status int, code, message string) reply {
	return reply{status: status, body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>` + code + `</Code><Message>` + message + `</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`}
}

type sent struct {
	at      time.Time
	token   string
	timeout time.Duration
	url     string
	key     string // POST: the Idempotency-Key
	part    int    // PUT: the part's number (0 single)
	session int    // PUT: the number of the session whose URL it used
	length  int64
	a       Announcement
}

// fakeNetwork is the API and object storage: a POST answers a session (single up to
// 5 MiB, else 5 MiB parts) unless posts says otherwise; each PUT answers from script in
// order (or from parts, by part number), the last one repeating.
type fakeNetwork struct {
	mu        sync.Mutex
	script    []reply         // answers to the PUTs, in order; the last one repeats
	parts     map[int][]reply // answers to the PUTs of one part number, in order (last repeats); overrides script
	postReply []reply         // answers to the POSTs, in order (last repeats); empty: a session each time
	expiresIn float64         // the sessions' expires_in; 0: 3600
	freshIDs  bool            // each session another upload_id (object storage after the key was forgotten)
	puts      []sent
	posts     []sent
	sessions  int
	tokens    int
	tokenErr  error
	lifetime  time.Duration
	sub       string          // when set, tokens are JWTs of this identity
	onSend    func(delta int) // told +1 when a PUT starts and -1 when it is answered
	progress  []int64         // each attempt's Progress.Before, in order
	counters  map[*Progress]bool
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

func (n *fakeNetwork) Announce(a Announcement) (Response, error) {
	n.mu.Lock()
	n.posts = append(n.posts, sent{at: time.Now(), token: a.Token, timeout: a.Timeout, url: a.URL, key: a.Key, a: a})
	var rp reply
	if len(n.postReply) > 0 {
		rp = n.postReply[min(len(n.posts), len(n.postReply))-1]
	}
	if rp.status == 0 && !rp.noAnswer && !rp.hang && !rp.panics {
		n.sessions++
		rp = reply{status: 201, body: n.session(a)}
	}
	n.mu.Unlock()
	return play(rp, a.Timeout)
}

// session is the POST's answer for a: the voice note named by the key.
func (n *fakeNetwork) session(a Announcement) string {
	expires := n.expiresIn
	if expires == 0 {
		expires = 3600
	}
	upload := "up-" + a.Key
	if n.freshIDs {
		upload += fmt.Sprintf("-%d", n.sessions)
	}
	url := func(part int) string {
		return fmt.Sprintf("https://store.test/%s/%d?session=%d", upload, part, n.sessions)
	}
	if !a.Multipart {
		return fmt.Sprintf(`{"data":{"voicenote_id":%q,"upload_type":"single","presigned_url":%q,"expires_in":%v}}`,
			a.Key, url(0), expires)
	}
	var parts []string
	for i, start := 1, int64(0); start < a.Size; i, start = i+1, start+MultipartThreshold {
		end := min(start+MultipartThreshold, a.Size) - 1
		parts = append(parts, fmt.Sprintf(`{"part_number":%d,"presigned_url":%q,"start_byte":%d,"end_byte":%d,"content_length":%d}`,
			i, url(i), start, end, end-start+1))
	}
	return fmt.Sprintf(`{"data":{"voicenote_id":%q,"upload_type":"multipart","upload_info":{"upload_id":%q,"parts":[%s]},"expires_in":%v}}`,
		a.Key, upload, strings.Join(parts, ","), expires)
}

func (n *fakeNetwork) Send(p PartRequest) (Response, error) {
	var part, session int
	fmt.Sscanf(p.URL[strings.LastIndex(p.URL[:strings.Index(p.URL, "?")], "/")+1:], "%d?session=%d", &part, &session)
	n.mu.Lock()
	n.puts = append(n.puts, sent{at: time.Now(), timeout: p.Timeout, url: p.URL, part: part, session: session, length: p.Length})
	if p.Progress != nil && !n.counters[p.Progress] {
		if n.counters == nil {
			n.counters = map[*Progress]bool{}
		}
		n.counters[p.Progress] = true
		n.progress = append(n.progress, p.Progress.Before)
	}
	if n.onSend != nil {
		n.onSend(1)
		defer n.onSend(-1)
	}
	var rp reply
	if script, ok := n.parts[part]; ok {
		count := 0
		for _, s := range n.puts {
			if s.part == part {
				count++
			}
		}
		rp = script[min(count, len(script))-1]
	} else {
		rp = n.script[min(len(n.puts), len(n.script))-1]
	}
	n.mu.Unlock()
	return play(rp, p.Timeout)
}

// play answers one scripted reply.
func play(a reply, timeout time.Duration) (Response, error) {
	time.Sleep(a.delay)
	switch {
	case a.panics:
		panic("the glue broke")
	case a.hang:
		time.Sleep(timeout)
		return Response{}, errors.New("timeout")
	case a.noAnswer:
		return Response{}, errors.New("connection refused")
	}
	var doc any
	if json.Unmarshal([]byte(a.body), &doc) != nil {
		doc = nil
	}
	resp := Response{Status: a.status, Doc: doc, ETag: a.etag, RetryAfter: a.retryAfter}
	if a.status >= 200 && a.status < 300 {
		if root, ok := doc.(map[string]any); ok {
			resp.Resource = root["data"]
		}
	} else {
		resp.Body = a.body
	}
	return resp, nil
}

// attempts is the PUTs made.
func (n *fakeNetwork) attempts() []sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sent(nil), n.puts...)
}

// announced is the POSTs made.
func (n *fakeNetwork) announced() []sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sent(nil), n.posts...)
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
	c := tab{New(store, locks, net, "https://api.test/v1", p), net}
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

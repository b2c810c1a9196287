package delivery

import (
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// Record is one recording on its way to the server, as the outbox keeps it.
type Record struct {
	ID          string  // the recording's UUID, its Idempotency-Key on every POST: the server is idempotent by it
	Audio       any     // the recording's Blob: opaque here, it stays in JavaScript
	ContentType string  // its MIME type, codec parameters allowed
	Format      string  // webm, ogg or wav
	Duration    float64 // seconds
	Size        int64   // bytes
	Metadata    string  // the page's JSON object for the voice note's metadata, or ""
	Created     int64   // milliseconds since the Unix epoch
	Attempts    int
	LastError   *catalog.Error
	Refused     bool // the API refused it: only a Retry(all) sends it again
	// Owner is the identity the recording was made under (the token's sub), "" where it
	// could not be told: it is only ever sent with a token of that identity.
	Owner     string
	Recovered bool // rebuilt from the journal of a page that died while recording
	// Session is the upload session in use (nil before the first POST): the URLs, their
	// expiry, which parts are in. Kept with the recording so that any later attempt, in
	// this tab, after a reload or in another tab, sends only what is missing.
	Session *Session
}

// Store keeps records across page loads: IndexedDB in the browser.
type Store interface {
	// Put begins saving r (writes land in the order Put is called) and answers written,
	// which waits: for the first Put of r until its audio is on disk, for a later one,
	// which writes its state alone, until the write is queued. An error says r is kept
	// in memory only (the database failed): it survives failed uploads but not a reload.
	Put(r *Record) (written func() error)
	Get(id string) *Record // nil when absent
	// Delete removes id: it is gone from Get and List at once, and removed answers once
	// the disk has let it go too.
	Delete(id string) (removed func())
	List() []*Record // oldest first
}

// Locks lets one tab at a time deliver a recording: Web Locks in the browser.
type Locks interface {
	// Lock takes the lock named after id. With wait false it answers ok false at once
	// when another holder has it. release gives it back.
	Lock(id string, wait bool) (release func(), ok bool)
}

// Response is one answer of the API or of object storage.
type Response struct {
	Status     int
	Doc        any           // the body parsed as JSON into plain values, nil when not JSON
	Resource   any           // a 2xx answer's data as the page gets it (the voice note): opaque here
	Body       string        // the start of a non-2xx answer's body, as text (an XML error is read from it)
	ETag       string        // the ETag header, object storage's receipt of a part
	RetryAfter time.Duration // the Retry-After header (seconds or an HTTP-date), 0 if absent
}

// Network carries the requests of VocaFuse's flow: the token, the POST that opens an
// upload session, and the PUT of a part's bytes to its presigned URL. The glue
// implements it with fetch and XMLHttpRequest; err is there was no response.
type Network interface {
	Token() (value string, expiresIn time.Duration, err error)
	Announce(a Announcement) (Response, error)
	Send(p PartRequest) (Response, error)
}

// Watcher is told what the page should hear of one recording's delivery.
type Watcher interface {
	// Heard: the page should hear err now. final: it is the upload's outcome (the
	// recording stays in the outbox and may still land later); otherwise a warning while
	// the same upload goes on.
	Heard(err *catalog.Error, final bool)
	// Delivered: the server has the recording; resource is its voice note.
	Delivered(resource any)
}

// AttemptTimeout bounds an attempt once the page has heard the outcome (before that,
// the policy's deadline does): a slow uplink still gets two minutes for 25 MB.
const AttemptTimeout = 2 * time.Minute

// Courier is one SDK instance's delivery: it owns every recording of that instance from
// stop until stored, and those that earlier page loads left in the outbox. It is safe
// for concurrent use.
type Courier struct {
	store   Store
	locks   Locks
	net     Network
	tokens  *Cache
	policy  Policy
	baseURL string

	// Kept, when set, is told that a recording is in the outbox on disk (so its
	// journal may go); Landed that the server has one, whichever page load made it.
	// Both are set before the first Send.
	Kept   func(id string)
	Landed func(r *Record, resource any)

	mu            sync.Mutex
	runs          map[string]*run    // deliveries under way in this page, by id
	awaiting      map[string]bool    // outbox recordings whose lock another tab holds, waited for
	watchers      map[string]Watcher // who recorded what, until it lands or is discarded
	closed        bool
	storageWarned bool
}

// run is one recording's delivery by this page, on its own goroutine, from asking for the
// recording's lock until giving it back.
type run struct {
	wake     chan struct{}   // an early end to the wait (online, retryPending, discard, close)
	waiters  []chan struct{} // closed when the next attempt to start has been made
	holding  bool            // the recording's lock is taken: the attempts are this run's
	kept     chan struct{}   // closed once the outbox's first write of the recording has ended; nil: none made
	discard  bool
	progress any
}

// New makes a courier. baseURL is the API's, version prefix included (…/v1).
func New(store Store, locks Locks, net Network, baseURL string, policy Policy) *Courier {
	for strings.HasSuffix(baseURL, "/") { // strings.TrimRight would cost the wasm its Unicode path
		baseURL = baseURL[:len(baseURL)-1]
	}
	return &Courier{
		store: store, locks: locks, net: net, policy: policy,
		tokens:   NewCache(net.Token),
		baseURL:  baseURL,
		runs:     map[string]*run{},
		awaiting: map[string]bool{},
		watchers: map[string]Watcher{},
	}
}

// SendHeld delivers a recording that has just stopped. It is kept in the outbox, under
// its lock, and stays there until the server has it: every failure after that is
// retried on the policy's schedule for as long as the page is open, and by a later page
// load otherwise. progress is handed to the Network as it is. A caller that already
// holds the recording's lock (its journal's writer) passes its release as held: the lock
// passes to the delivery without a moment when another tab could take it; with held
// nil, the delivery waits for the lock itself.
//
// The first attempt starts beside the outbox's write; the Network's Announce waits, where
// it must, until the recording's journal rebuilds these very bytes or the write has
// landed (the browser's store, which holds both, answers which). A page that dies before
// the outbox has the recording leaves its journal, whose rebuild asks for the same
// session again; the journal goes only once the outbox has the recording (Kept), and the
// outbox lets it go only after that.
func (c *Courier) SendHeld(r *Record, w Watcher, progress any, held func()) {
	c.mu.Lock()
	if w != nil {
		c.watchers[r.ID] = w
	}
	c.mu.Unlock()
	lock := func() (func(), bool) { return c.locks.Lock(r.ID, true) }
	if held != nil {
		lock = func() (func(), bool) { return held, true }
	}
	keep := func(rn *run) *Record {
		written := c.store.Put(r) // begun here, so the attempt's own writes follow it
		rn.kept = make(chan struct{})
		go c.keepFirst(r.ID, written, rn.kept)
		return r
	}
	c.startHeld(r.ID, progress, lock, keep)
}

// Resume delivers the outbox's recording id under the lock the caller holds, one a Retry
// found taken and left: a journal's recovery held it, or another tab. A recording the
// API refused stays refused, as Retry(false) leaves it.
func (c *Courier) Resume(id string, held func()) {
	c.startHeld(id, nil, func() (func(), bool) { return held, true }, func(*run) *Record {
		if r := c.store.Get(id); r != nil && !r.Refused {
			return r
		}
		return nil
	})
}

// startHeld starts a delivery whose lock the caller holds or waits for. This page may
// already be at the recording: a Retry asking for that very lock, which will find it
// taken and end. The delivery starts when that has ended.
func (c *Courier) startHeld(id string, progress any, lock func() (func(), bool), read func(*run) *Record) {
	go func() {
		for {
			ended := make(chan struct{})
			if c.start(id, progress, ended, true, lock, read) {
				return
			}
			<-ended
		}
	}()
}

// Upload delivers a file the page already has (sdk.upload): the same attempts and
// answers as a recording, but nothing is kept: the outcome is the page's to act on, and
// it hears it through w once.
func (c *Courier) Upload(r *Record, w Watcher, progress any) {
	c.mu.Lock()
	c.watchers[r.ID] = w
	c.mu.Unlock()
	c.start(r.ID, progress, nil, false, func() (func(), bool) { return func() {}, true }, func(*run) *Record { return r })
}

// Retry makes one attempt now for every recording in the outbox that this tab can take
// (another tab may be delivering some), refused ones too when all is set, and answers once
// each has been tried. It is what the SDK's start, the `online` event and
// retryPending() call.
func (c *Courier) Retry(all bool) {
	var tried []chan struct{}
	for _, r := range c.store.List() {
		if r.Refused && !all {
			continue
		}
		id, done := r.ID, make(chan struct{})
		tried = append(tried, done)
		lock := func() (func(), bool) {
			release, ok := c.locks.Lock(id, false)
			if !ok {
				c.awaitLock(id)
			}
			return release, ok
		}
		c.start(id, nil, done, true, lock, func(*run) *Record {
			// Read again under the lock: the tab that held it may have delivered it.
			fresh := c.store.Get(id)
			if fresh == nil || (fresh.Refused && !all) {
				return nil
			}
			fresh.Refused = false
			return fresh
		})
	}
	for _, done := range tried {
		<-done
	}
}

// awaitLock waits in the background for the lock of an outbox recording another tab
// holds. That tab delivers it and lets go, or is closed (or dies) first, and this page
// takes over: a page reopened at once after one closed mid-upload still sends it.
func (c *Courier) awaitLock(id string) {
	c.mu.Lock()
	if c.awaiting[id] || c.closed {
		c.mu.Unlock()
		return
	}
	c.awaiting[id] = true
	c.mu.Unlock()
	go c.guard(id, func() {
		release, ok := c.locks.Lock(id, true)
		c.mu.Lock()
		delete(c.awaiting, id)
		c.mu.Unlock()
		if ok {
			c.Resume(id, release)
		}
	})
}

// start runs a delivery of id by this page on its own goroutine: lock takes the
// recording's lock (false: another tab has it), then read answers the record to deliver
// (nil: nothing to deliver). done, if not nil, is closed after the delivery's next
// attempt, or when it ends without one.
//
// The delivery is registered before the lock is asked for, so that a Retry meanwhile
// joins it rather than find the lock taken (by this very page) and answer without an
// attempt. When this page is already at id, done joins that delivery, which is woken
// for an attempt now, and start answers false.
func (c *Courier) start(id string, progress any, done chan struct{}, keep bool, lock func() (func(), bool), read func(*run) *Record) bool {
	c.mu.Lock()
	if rn := c.runs[id]; rn != nil {
		if done != nil {
			rn.waiters = append(rn.waiters, done)
		}
		c.mu.Unlock()
		wake(rn.wake)
		return false
	}
	rn := &run{wake: make(chan struct{}, 1), progress: progress}
	if done != nil {
		rn.waiters = append(rn.waiters, done)
	}
	c.runs[id] = rn
	c.mu.Unlock()
	go c.guard(id, func() {
		release := func() {}
		defer func() {
			c.mu.Lock()
			delete(c.runs, id)
			waiters := rn.waiters
			rn.waiters = nil
			c.mu.Unlock()
			closeAll(waiters)
			release()
		}()
		held, ok := lock()
		if !ok {
			return // another tab is delivering it
		}
		release = held
		if r := read(rn); r != nil {
			c.mu.Lock()
			rn.holding = true
			c.mu.Unlock()
			c.deliver(r, rn, keep)
		}
	})
	return true
}

// wake sends on a channel of capacity one without blocking: a wake already pending is
// enough.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Discard removes a recording without delivering it; false when there was none, or
// another tab is delivering it.
func (c *Courier) Discard(id string) bool {
	c.mu.Lock()
	// A delivery still asking for the lock may not get it: the lock below decides.
	if rn := c.runs[id]; rn != nil && rn.holding {
		rn.discard = true
		delete(c.watchers, id)
		c.mu.Unlock()
		wake(rn.wake)
		return true
	}
	c.mu.Unlock()
	release, ok := c.locks.Lock(id, false)
	if !ok {
		return false
	}
	defer release()
	had := c.store.Get(id) != nil
	c.store.Delete(id)()
	c.forget(id)
	return had
}

// Close ends every delivery of this courier after its current attempt, releasing the
// locks; what is not delivered stays in the outbox for the next SDK instance.
func (c *Courier) Close() {
	c.mu.Lock()
	c.closed = true
	for _, rn := range c.runs {
		wake(rn.wake)
	}
	c.mu.Unlock()
}

// deliver makes attempts until the recording is stored, refused, discarded or the courier
// closed. keep: the recording is in the outbox (not a page's own file).
func (c *Courier) deliver(r *Record, rn *run, keep bool) {
	var (
		first, deadline                      time.Time
		refreshed, renewed, warned, reported bool
	)
	for n := 1; ; n++ {
		if c.stopping(rn) {
			if rn.discard {
				firstWritten(rn)
				c.store.Delete(r.ID)()
			}
			return
		}
		// Who waits now waits for this attempt; who comes while it is on the wire waits for
		// the next one (retryPending must not answer with an attempt begun before it).
		waiting := c.takeWaiters(rn)
		res := c.attempt(r, rn.progress, deadline, keep)
		if res.failure == errOtherOwner {
			// Recorded by someone else: it waits, untried, for a token of theirs.
			if w := c.forget(r.ID); w != nil {
				w.Heard(catalog.Newf(catalog.AuthenticationFailed, map[string]any{"reason": "recorded under another identity"},
					time.Now(), "the recording belongs to another identity than the page's token"), true)
			}
			closeAll(waiting)
			return
		}
		if res.failure == nil {
			note := res.note
			if note == nil {
				note = Known{ID: r.Session.VoiceNoteID, RecordingID: r.ID, Format: r.Format, Duration: r.Duration, Size: r.Size}
			}
			if keep {
				// The page hears at once; the lock (let go when deliver returns) waits for
				// the disk, so no other tab finds the recording half removed. The outbox's
				// first write ends first: a removal must not come before it.
				firstWritten(rn)
				removed := c.store.Delete(r.ID)
				defer removed()
				if c.Landed != nil {
					c.Landed(r, note)
				}
			}
			// The outcome is told before whoever waits for this attempt (Retry) goes on.
			if w := c.forget(r.ID); w != nil {
				w.Delivered(note)
			}
			closeAll(waiting)
			return
		}
		if res.progressed {
			renewed = false // the session took bytes: a later refusal is news again
		}
		now := time.Now()
		f := Failure{N: n, Status: res.status, Err: res.failure, RetryAfter: res.retryAfter, Stale: res.stale,
			Refreshed: refreshed, Renewed: renewed, First: first, Warned: warned, Reported: reported}
		if first.IsZero() {
			first = now
		}
		d := c.policy.Decide(f, now)
		if d.RefreshToken {
			c.tokens.Invalidate(res.token)
			refreshed = true
		}
		if res.stale {
			renewed = true
		}
		if (res.stale || !d.Retry) && r.Session != nil {
			// Its URLs are refused or gone, or the recording was: the next attempt asks
			// again, with the same key (the server keeps what it has of the upload).
			r.Session.UsableUntil = 0
		}
		r.Attempts++
		r.LastError = res.failure
		r.Refused = !d.Retry
		if d.Report != nil {
			r.LastError = scrub(d.Report, res.token)
			if d.Final {
				reported = true
			} else {
				warned = true
			}
		}
		if keep {
			c.save(r)
		}
		if d.Report != nil {
			if w := c.watcher(r.ID); w != nil {
				w.Heard(r.LastError, d.Final)
			}
		}
		closeAll(waiting)
		if !d.Retry || (!keep && reported) {
			if !keep {
				c.forget(r.ID)
			}
			return
		}
		deadline = d.Deadline
		// The timer and an early wake both land on rn.wake: one channel, no select.
		timer := time.AfterFunc(d.Wait, func() { wake(rn.wake) })
		<-rn.wake
		timer.Stop()
	}
}

// keepFirst waits for the outbox's first write of recording id, written, then closes kept.
func (c *Courier) keepFirst(id string, written func() error, kept chan struct{}) {
	defer close(kept)
	c.guard(id, func() {
		if err := written(); err != nil {
			c.storageTrouble(id, err)
		} else if c.Kept != nil {
			c.Kept(id)
		}
	})
}

// firstWritten waits for the outbox's first write of the run's recording to end.
func firstWritten(rn *run) {
	if rn.kept != nil {
		<-rn.kept
	}
}

func (c *Courier) save(r *Record) {
	if err := c.store.Put(r)(); err != nil {
		c.storageTrouble(r.ID, err)
	}
}

// result is one attempt's outcome.
type result struct {
	token      string
	failure    *catalog.Error // nil: delivered
	status     int            // the failing answer's HTTP status, 0 without one
	retryAfter time.Duration
	stale      bool // the session's URLs were refused, expired or gone
	progressed bool // some part went in
	note       any  // the voice note the last answer carried, if any
}

// attempt is one try: a token; a session (the one kept while its URLs are good, else a
// POST with the recording's key); then the PUT of every missing part. A panic in the
// glue becomes the attempt's INTERNAL_ERROR, which the policy retries: a bug must not
// lose a recording.
func (c *Courier) attempt(r *Record, progress any, deadline time.Time, keep bool) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{token: res.token, failure: catalog.Newf(catalog.InternalError, nil, time.Now(), "upload panicked: %v", p)}
		}
	}()
	token, err := c.tokens.Get()
	if err != nil {
		return result{failure: asCatalogError(err)}
	}
	res.token = token
	if !Mine(r.Owner, token) {
		return result{token: token, failure: errOtherOwner}
	}
	timeout := func() time.Duration {
		if deadline.IsZero() {
			return AttemptTimeout
		}
		return max(min(AttemptTimeout, time.Until(deadline)), time.Millisecond)
	}
	if !r.Session.Usable(time.Now().UnixMilli()) {
		resp, err := c.net.Announce(announcement(c.baseURL, token, r, timeout()))
		now := time.Now()
		switch {
		case err != nil:
			res.failure = noResponse(err, token, now)
			return res
		case resp.Status < 200 || resp.Status > 299:
			res.status, res.retryAfter = resp.Status, resp.RetryAfter
			res.failure = scrub(catalog.FromAPI(resp.Status, resp.Doc, resp.Body, now), token)
			return res
		}
		s, reason := ReadSession(resp.Doc, r.Size, now.UnixMilli())
		if s == nil {
			res.status = resp.Status
			res.failure = catalog.Newf(catalog.APIError, map[string]any{"status": resp.Status, "reason": reason}, now,
				"the API's answer to POST /upload is not an upload session: %s", reason)
			res.failure.Retryable = true
			return res
		}
		s.keepDone(r.Session)
		r.Session = s
		if keep {
			c.save(r)
		}
	}
	c.sendParts(r, progress, timeout, keep, &res)
	return res
}

// sendParts PUTs the session's missing parts, at most MaxParallelParts at once, each on
// its own: a part that fails does not stop the others, and only it is sent again later.
// Each part is recorded in the outbox as it goes in. The attempt's failure is the one
// that says most about what to do next (rank).
func (c *Courier) sendParts(r *Record, page any, timeout func() time.Duration, keep bool, res *result) {
	s := r.Session
	todo := s.missing()
	progress := &Progress{Page: page, Total: r.Size, Before: s.doneBytes()}
	var (
		mu   sync.Mutex
		next int
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(todo) || res.stale {
			return 0, false // a stale session's other URLs are as good as gone
		}
		next++
		return todo[next-1], true
	}
	senders := min(MaxParallelParts, len(todo))
	finished := make(chan struct{}, senders) // a sync.WaitGroup would cost the wasm 3 KB
	for range senders {
		go func() {
			defer func() { finished <- struct{}{} }()
			for {
				i, ok := take()
				if !ok {
					return
				}
				mu.Lock()
				p := s.Parts[i]
				mu.Unlock()
				contentType := ""
				if !s.Multipart {
					contentType = r.ContentType
				}
				outcome, note, failure, resp := c.sendPart(PartRequest{URL: p.URL, Audio: r.Audio, Start: p.Start, Length: p.Length,
					ContentType: contentType, Timeout: timeout(), Progress: progress})
				mu.Lock()
				switch {
				case outcome == putDone:
					s.Parts[i].Done, s.Parts[i].ETag = true, resp.ETag
					res.progressed = true
					if note != nil {
						res.note = note
					}
					if keep && len(s.missing()) > 0 {
						c.save(r) // the outbox learns which parts are in (the last one: the recording goes)
					}
				case res.failure == nil || rank(outcome, failure) > rank(res.outcome(), res.failure):
					res.failure, res.status, res.retryAfter = failure, resp.Status, resp.RetryAfter
					res.stale = outcome == putStale
				case failure.Code == res.failure.Code:
					res.retryAfter = max(res.retryAfter, resp.RetryAfter)
				}
				mu.Unlock()
			}
		}()
	}
	for range senders {
		<-finished
	}
	if res.failure == nil && len(s.missing()) > 0 {
		res.failure = catalog.New(catalog.InternalError, map[string]any{"reason": "parts left unsent"}, time.Now())
	}
}

// sendPart is one PUT, read; a panic in the glue is this part's INTERNAL_ERROR.
func (c *Courier) sendPart(p PartRequest) (outcome put, note any, failure *catalog.Error, resp Response) {
	defer func() {
		if x := recover(); x != nil {
			outcome, note, resp = putFailed, nil, Response{}
			failure = catalog.Newf(catalog.InternalError, nil, time.Now(), "upload panicked: %v", x)
		}
	}()
	resp, err := c.net.Send(p)
	if err != nil {
		return putFailed, nil, noResponse(err, "", time.Now()), Response{}
	}
	outcome, note, failure = ReadPut(resp, time.Now())
	return outcome, note, failure, resp
}

func (res *result) outcome() put {
	if res.stale {
		return putStale
	}
	return putFailed
}

// rank orders the failures of one attempt's parts by what they say about the next
// attempt: a stale session (ask again), then a refusal (hold), then a wait the server
// asked for, then the backoff.
func rank(outcome put, e *catalog.Error) int {
	if outcome == putStale {
		return 4
	}
	switch classify(e.Status, e) {
	case otherRow:
		if !laterMayHelp(e) {
			return 3
		}
	case rateRow:
		return 2
	}
	return 1
}

// errOtherOwner marks an attempt not made: the token is another identity's.
var errOtherOwner = &catalog.Error{Code: catalog.AuthenticationFailed}

// Identity is the sub of the page's token now (fetching one if needed), "" where there
// is no token or it is not a JWT.
func (c *Courier) Identity() string {
	token, err := c.tokens.Get()
	if err != nil {
		return ""
	}
	return Subject(token)
}

// Pending: the recording is in the outbox.
func (c *Courier) Pending(id string) bool { return c.store.Get(id) != nil }

// KnownIdentity is the sub of the token in hand, without asking for one.
func (c *Courier) KnownIdentity() string { return Subject(c.tokens.Peek()) }

func (c *Courier) stopping(rn *run) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || rn.discard
}

// takeWaiters hands over who waits for the attempt about to start.
func (c *Courier) takeWaiters(rn *run) []chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	waiters := rn.waiters
	rn.waiters = nil
	return waiters
}

func closeAll(waiters []chan struct{}) {
	for _, w := range waiters {
		close(w)
	}
}

func (c *Courier) watcher(id string) Watcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watchers[id]
}

// forget drops the watcher of a recording whose delivery is over, and answers it.
func (c *Courier) forget(id string) Watcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.watchers[id]
	delete(c.watchers, id)
	return w
}

// storageTrouble says once, through the watcher of the recording that met it, that
// recordings are kept in memory only.
func (c *Courier) storageTrouble(id string, err error) {
	c.mu.Lock()
	warned := c.storageWarned
	c.storageWarned = true
	w := c.watchers[id]
	c.mu.Unlock()
	if warned || w == nil {
		return
	}
	reason := err.Error()
	w.Heard(catalog.Newf(catalog.StorageUnavailable, map[string]any{"reason": reason}, time.Now(),
		"recordings are kept in memory only, IndexedDB failed: %s", reason), false)
}

// guard runs a delivery's goroutine: a panic outside an attempt (in the store's glue,
// say) ends that delivery with INTERNAL_ERROR, and the recording stays in the outbox
// for the next round instead of the Go program ending.
func (c *Courier) guard(id string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			if w := c.forget(id); w != nil {
				w.Heard(catalog.Newf(catalog.InternalError, nil, time.Now(), "delivery panicked: %v", p), true)
			}
		}
	}()
	fn()
}

func asCatalogError(err error) *catalog.Error {
	if ce, ok := err.(*catalog.Error); ok {
		return ce
	}
	return catalog.Newf(catalog.NetworkError, nil, time.Now(), "%v", err)
}

// noResponse is the NETWORK_ERROR of an attempt without an answer.
func noResponse(err error, token string, now time.Time) *catalog.Error {
	if ce, ok := err.(*catalog.Error); ok && ce.Code == catalog.NetworkError {
		return scrub(ce, token)
	}
	return scrub(catalog.New(catalog.NetworkError, map[string]any{"reason": err.Error()}, now), token)
}

package delivery

import (
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// Record is one recording on its way to the server, as the outbox keeps it.
type Record struct {
	ID          string  // the recording's UUID, the same on every attempt: the server is idempotent by id
	Audio       any     // the recording's Blob: opaque here, it stays in JavaScript
	ContentType string  // its MIME type, codec parameters allowed
	Format      string  // webm, ogg or wav
	Duration    float64 // seconds
	Size        int64   // bytes
	Metadata    string  // JSON for X-VocaFuse-Metadata, or ""
	Created     int64   // milliseconds since the Unix epoch
	Attempts    int
	LastError   *catalog.Error
	Held        bool // the API refused it: it waits for RetryPending(all)
	// Owner is the identity the recording was made under (the token's sub), "" where it
	// could not be told: it is only ever sent with a token of that identity.
	Owner     string
	Recovered bool // rebuilt from the journal of a page that died while recording
}

// Store keeps records across page loads: IndexedDB in the browser.
type Store interface {
	// Put saves r and answers once it is on disk. An error says r is kept in memory only
	// (the database failed): it survives failed uploads but not a reload.
	Put(r *Record) error
	Get(id string) *Record // nil when absent
	Delete(id string)
	List() []*Record // oldest first
}

// Locks lets one tab at a time deliver a recording: Web Locks in the browser.
type Locks interface {
	// Lock takes the lock named after id. With wait false it answers ok false at once
	// when another holder has it. release gives it back.
	Lock(id string, wait bool) (release func(), ok bool)
}

// Request is one attempt at sending a recording.
type Request struct {
	URL         string // BaseURL + "/v1/voicenotes/" + the path-escaped id
	Token       string // the bearer token; never log it
	ContentType string
	Metadata    string
	Audio       any           // the Blob, sent by the glue straight from JavaScript
	Timeout     time.Duration // the attempt is cut (no response) after this long
	Progress    any           // where the glue reports upload progress: the page's, opaque here
}

// Response is the API's answer to one attempt.
type Response struct {
	Status     int
	Resource   any           // a 2xx answer's parsed body, the voice note: opaque here
	Envelope   any           // an error answer's body parsed as JSON (plain values), nil when not JSON
	Body       string        // the start of an error answer's body, as text
	RetryAfter time.Duration // the Retry-After header (seconds or an HTTP-date), 0 if absent
}

// Network carries the bytes: the token request and one upload attempt. The glue
// implements it with fetch and XMLHttpRequest.
type Network interface {
	Token() (value string, expiresIn time.Duration, err error)
	Put(r Request) (Response, error) // err: there was no response
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
	discard  bool
	progress any
}

// New makes a courier. baseURL is where the API lives, without /v1.
func New(store Store, locks Locks, net Network, baseURL string, policy Policy) *Courier {
	return &Courier{
		store: store, locks: locks, net: net, policy: policy,
		tokens:   NewCache(net.Token),
		baseURL:  strings.TrimRight(baseURL, "/"),
		runs:     map[string]*run{},
		awaiting: map[string]bool{},
		watchers: map[string]Watcher{},
	}
}

// Send delivers a recording that has just stopped. It is held in the outbox, under its
// lock, before the first attempt, and stays there until the server has it: every
// failure after that is retried on the policy's schedule for as long as the page is
// open, and by a later page load otherwise. progress is handed to the Network as it is.
func (c *Courier) Send(r *Record, w Watcher, progress any) { c.SendHeld(r, w, progress, nil) }

// SendHeld is Send for a caller that already holds the recording's lock (its journal's
// writer): the lock passes to the delivery without a moment when another tab could take it.
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
	keep := func() *Record {
		if err := c.store.Put(r); err != nil {
			c.storageTrouble(r.ID, err)
		} else if c.Kept != nil {
			c.Kept(r.ID)
		}
		return r
	}
	c.startHeld(r.ID, progress, lock, keep)
}

// Resume delivers the outbox's recording id under the lock the caller holds, one a Retry
// found taken and left: a journal's recovery held it, or another tab. A recording the
// API refused stays held, as Retry(false) leaves it.
func (c *Courier) Resume(id string, held func()) {
	c.startHeld(id, nil, func() (func(), bool) { return held, true }, func() *Record {
		if r := c.store.Get(id); r != nil && !r.Held {
			return r
		}
		return nil
	})
}

// startHeld starts a delivery whose lock the caller holds or waits for. This page may
// already be at the recording: a Retry asking for that very lock, which will find it
// taken and end. The delivery starts when that has ended.
func (c *Courier) startHeld(id string, progress any, lock func() (func(), bool), read func() *Record) {
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
	c.start(r.ID, progress, nil, false, func() (func(), bool) { return func() {}, true }, func() *Record { return r })
}

// Retry makes one attempt now for every recording in the outbox that this tab can take
// (another tab may be delivering some), held ones too when all is set, and answers once
// each has been tried. It is what the SDK's start, the `online` event and
// retryPending() call.
func (c *Courier) Retry(all bool) {
	var tried []chan struct{}
	for _, r := range c.store.List() {
		if r.Held && !all {
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
		c.start(id, nil, done, true, lock, func() *Record {
			// Read again under the lock: the tab that held it may have delivered it.
			fresh := c.store.Get(id)
			if fresh == nil || (fresh.Held && !all) {
				return nil
			}
			fresh.Held = false
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
func (c *Courier) start(id string, progress any, done chan struct{}, keep bool, lock func() (func(), bool), read func() *Record) bool {
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
		if r := read(); r != nil {
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
	c.store.Delete(id)
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

// deliver makes attempts until the recording is stored, held, discarded or the courier
// closed. keep: the recording is in the outbox (not a page's own file).
func (c *Courier) deliver(r *Record, rn *run, keep bool) {
	var (
		first                       time.Time
		deadline                    time.Time
		refreshed, warned, reported bool
	)
	for n := 1; ; n++ {
		if c.stopping(rn) {
			if rn.discard {
				c.store.Delete(r.ID)
			}
			return
		}
		// Who waits now waits for this attempt; who comes while it is on the wire waits for
		// the next one (retryPending must not answer with an attempt begun before it).
		waiting := c.takeWaiters(rn)
		resp, token, failure := c.attempt(r, rn.progress, deadline)
		if failure == errOtherOwner {
			// Recorded by someone else: it waits, untried, for a token of theirs.
			if w := c.forget(r.ID); w != nil {
				w.Heard(catalog.Newf(catalog.AuthenticationFailed, map[string]any{"reason": "recorded under another identity"},
					time.Now(), "the recording belongs to another identity than the page's token"), true)
			}
			closeAll(waiting)
			return
		}
		if failure == nil {
			if keep {
				c.store.Delete(r.ID)
				if c.Landed != nil {
					c.Landed(r, resp.Resource)
				}
			}
			// The outcome is told before whoever waits for this attempt (Retry) goes on.
			if w := c.forget(r.ID); w != nil {
				w.Delivered(resp.Resource)
			}
			closeAll(waiting)
			return
		}
		now := time.Now()
		f := Failure{N: n, Status: resp.Status, Err: failure, RetryAfter: resp.RetryAfter,
			Refreshed: refreshed, First: first, Warned: warned, Reported: reported}
		if first.IsZero() {
			first = now
		}
		d := c.policy.Decide(f, now)
		if d.RefreshToken {
			c.tokens.Invalidate(token)
			refreshed = true
		}
		r.Attempts++
		r.LastError = failure
		r.Held = !d.Retry
		if d.Report != nil {
			r.LastError = scrub(d.Report, token)
			if d.Final {
				reported = true
			} else {
				warned = true
			}
		}
		if keep {
			if err := c.store.Put(r); err != nil {
				c.storageTrouble(r.ID, err)
			}
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

// attempt is one try: a token, then the bytes. A panic in the glue becomes the
// attempt's INTERNAL_ERROR, which the policy retries: a bug must not lose a recording.
func (c *Courier) attempt(r *Record, progress any, deadline time.Time) (resp Response, token string, failure *catalog.Error) {
	defer func() {
		if p := recover(); p != nil {
			resp, failure = Response{}, catalog.Newf(catalog.InternalError, nil, time.Now(), "upload panicked: %v", p)
		}
	}()
	token, err := c.tokens.Get()
	if err != nil {
		return Response{}, "", asCatalogError(err)
	}
	if !Mine(r.Owner, token) {
		return Response{}, token, errOtherOwner
	}
	timeout := AttemptTimeout
	if !deadline.IsZero() {
		timeout = max(min(timeout, time.Until(deadline)), time.Millisecond)
	}
	resp, err = c.net.Put(Request{
		URL: c.baseURL + "/v1/voicenotes/" + r.ID, Token: token, // ids are UUIDs: the glue checks what it takes
		ContentType: r.ContentType, Metadata: r.Metadata, Audio: r.Audio, Timeout: timeout, Progress: progress,
	})
	now := time.Now()
	switch {
	case err != nil:
		return Response{}, token, noResponse(err, token, now)
	case resp.Status >= 200 && resp.Status < 300:
		return resp, token, nil
	}
	return resp, token, scrub(catalog.FromAPI(resp.Status, resp.Envelope, resp.Body, now), token)
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

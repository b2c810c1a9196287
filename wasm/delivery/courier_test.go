package delivery

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

func TestDeliveredOnTheFirstTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		c := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		synctest.Wait()
		if w.deliveries() != 1 || len(w.reports()) != 0 {
			t.Fatalf("delivered %d, heard %v", w.deliveries(), w.reports())
		}
		if store.has("a") || locks.isHeld("a") {
			t.Fatal("a stored recording is still in the outbox, locked or running")
		}
		// VocaFuse's flow: POST {apiBaseUrl}/upload with the recording's UUID as the key, then
		// the bytes to the presigned URL the answer gave.
		post := c.net.announced()
		if len(post) != 1 || post[0].url != "https://api.test/v1/upload" || post[0].key != "a" || post[0].token == "" {
			t.Fatalf("posts %+v", post)
		}
		if a := post[0].a; a.Size != 100 || a.Format != "webm" || a.Duration != 1 || a.Multipart || a.FileName != "voicenote-a.webm" {
			t.Fatalf("announced %+v", a)
		}
		if put := c.net.attempts(); len(put) != 1 || put[0].url != "https://store.test/up-a/0?session=1" || put[0].length != 100 {
			t.Fatalf("puts %+v", put)
		}
		// The recording was in the outbox before the POST, and its session before the PUT.
		if store.puts != 2 {
			t.Fatalf("store puts %d", store.puts)
		}
	})
}

// The first attempt goes while the outbox's first write is on its way to the disk (the
// browser's Announce waits where it must); the recording's journal goes (Kept) once the
// outbox has it, and its removal from the outbox comes after that.
func TestTheFirstAttemptGoesBesideTheOutboxWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		store.writing = make(chan struct{})
		c := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		c.Kept = func(string) {
			store.mu.Lock()
			store.order = append(store.order, "kept")
			store.mu.Unlock()
		}
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		synctest.Wait()
		if len(c.net.announced()) != 1 || len(c.net.attempts()) != 1 {
			t.Fatalf("POST %d, PUT %d before the outbox write landed, want 1 and 1", len(c.net.announced()), len(c.net.attempts()))
		}
		if w.deliveries() != 0 {
			t.Fatal("delivered before the outbox had the recording: its removal would come before its write")
		}
		close(store.writing)
		synctest.Wait()
		if w.deliveries() != 1 || store.has("a") {
			t.Fatalf("delivered %d, still in the outbox %v", w.deliveries(), store.has("a"))
		}
		if got := strings.Join(store.order, ","); got != "kept,delete" {
			t.Fatalf("outbox order %s, want kept,delete", got)
		}
	})
}

// The page hears the outcome while the outbox's removal is still on its way to the disk;
// the recording's lock waits for it, so no other tab finds it half removed.
func TestThePageHearsBeforeTheOutboxRemovalLands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		store.removing = make(chan struct{})
		c := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		landed := 0
		c.Landed = func(*Record, any) { landed++ }
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		synctest.Wait()
		if landed != 1 || w.deliveries() != 1 {
			t.Fatalf("landed %d, delivered %d before the removal reached the disk, want 1 and 1", landed, w.deliveries())
		}
		if store.has("a") || !locks.isHeld("a") {
			t.Fatalf("while the removal is on its way: listed %v, lock held %v; want gone and held", store.has("a"), locks.isHeld("a"))
		}
		close(store.removing)
		synctest.Wait()
		if locks.isHeld("a") {
			t.Fatal("the lock is still held once the removal is on disk")
		}
	})
}

// The page hears NETWORK_ERROR within 20 s of the first failure, the recording stays in
// the outbox, and the same backoff curve goes on in the background until it lands.
func TestTransientFailuresAreHeardWithin20sAndDeliveredLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		script := make([]reply, 0, 12)
		for range 11 {
			script = append(script, reply{noAnswer: true})
		}
		script = append(script, ok201())
		store := newStore()
		c := newTab(t, store, newLocks(), &fakeNetwork{script: script})
		w := &fakeWatcher{}
		start := time.Now()
		c.SendHeld(record("a"), w, nil, nil)
		after(21 * time.Second)
		h := w.reports()
		if len(h) != 1 {
			t.Fatalf("heard %v", h)
		}
		mustCode(t, h[0], catalog.NetworkError, true)
		if d := h[0].at.Sub(start); d > 20*time.Second {
			t.Fatalf("heard after %s", d)
		}
		// Still in the outbox, with its attempts and error, while the page is open.
		rec := store.Get("a")
		if rec == nil || rec.Attempts != 6 || rec.LastError.Code != catalog.NetworkError || rec.Refused {
			t.Fatalf("outbox record %+v", rec)
		}
		after(time.Hour)
		if w.deliveries() != 1 || store.has("a") {
			t.Fatalf("not delivered in the background: %d", w.deliveries())
		}
		// One schedule: each wait is the curve's, before and after the page heard.
		puts := c.net.attempts()
		p := DefaultPolicy()
		p.Jitter = func() float64 { return 0.5 }
		for i := 1; i < len(puts); i++ {
			want := p.Backoff(i)
			if i < 6 {
				want = min(want, 20*time.Second) // before the report the waits also fit the window
			}
			if got := puts[i].at.Sub(puts[i-1].at); got != want && i != 5 {
				t.Errorf("wait %d: %s, want %s", i, got, want)
			}
		}
	})
}

func TestAConflictIsHeldUntilRetryAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		net := &fakeNetwork{script: []reply{apiError(409, 2003, `,"details":{"field":"voicenote_id"}`), ok201()}}
		c := newTab(t, store, newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		synctest.Wait()
		h := w.reports()
		if len(h) != 1 || h[0].err.Status != 409 || h[0].err.APICode != 2003 || !h[0].final {
			t.Fatalf("heard %+v", h)
		}
		after(24 * time.Hour) // a day of fake time: nothing tries it again
		if n := len(net.attempts()); n != 1 || !store.Get("a").Refused {
			t.Fatalf("%d attempts; held %v", n, store.Get("a").Refused)
		}
		c.Retry(false) // online, a reload: held recordings wait
		if len(net.attempts()) != 1 {
			t.Fatal("a held recording was retried without retryPending")
		}
		c.Retry(true) // retryPending()
		if len(net.attempts()) != 2 || store.has("a") || w.deliveries() != 1 {
			t.Fatalf("retryPending: %d attempts, delivered %d", len(net.attempts()), w.deliveries())
		}
	})
}

func TestRateLimitWaitsWhatTheServerSays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &fakeNetwork{script: []reply{
			func() reply {
				r := apiError(429, 4003, `,"details":{"limit":100,"window":"1 minute","retry_after":2}`)
				r.retryAfter = 3 * time.Second // the header asks longer: the longer wins
				return r
			}(),
			ok201(),
		}}
		c := newTab(t, newStore(), newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(time.Minute)
		puts := net.attempts()
		if len(puts) != 2 || puts[1].at.Sub(puts[0].at) != 3*time.Second || len(w.reports()) != 0 || w.deliveries() != 1 {
			t.Fatalf("puts %v heard %v", puts, w.reports())
		}
	})
}

func TestAuthRefreshesTheTokenOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &fakeNetwork{script: []reply{ok201()}, postReply: []reply{apiError(401, 1002, ""), apiError(401, 1002, ""), {}}}
		c := newTab(t, newStore(), newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(time.Minute)
		puts := net.announced()
		// Refused, a new token at once; refused again: the page hears it; later a third
		// token lands it.
		if len(puts) != 3 || puts[0].token == puts[1].token || puts[1].token == puts[2].token {
			t.Fatalf("puts %+v", puts)
		}
		if puts[1].at != puts[0].at {
			t.Fatal("the refresh did not retry at once")
		}
		h := w.reports()
		if len(h) != 1 {
			t.Fatalf("heard %v", h)
		}
		mustCode(t, h[0], catalog.AuthenticationFailed, true)
		if h[0].err.APICode != 1002 || strings.Contains(h[0].err.Message, "secretvalue") {
			t.Fatalf("error %+v", h[0].err)
		}
		if w.deliveries() != 1 {
			t.Fatal("not delivered after the refusals")
		}
	})
}

func TestStorageTroubleIsHeardOnceAndTheRecordingStillGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		store.failPut = errAs("QuotaExceededError: full")
		c := newTab(t, store, newLocks(), &fakeNetwork{script: []reply{ok201()}})
		w1, w2 := &fakeWatcher{}, &fakeWatcher{}
		c.SendHeld(record("a"), w1, nil, nil)
		synctest.Wait()
		c.SendHeld(record("b"), w2, nil, nil)
		synctest.Wait()
		h := w1.reports()
		if len(h) != 1 || len(w2.reports()) != 0 {
			t.Fatalf("heard %v and %v", h, w2.reports())
		}
		mustCode(t, h[0], catalog.StorageUnavailable, false)
		if h[0].err.Details["reason"] != "QuotaExceededError: full" || w1.deliveries() != 1 || w2.deliveries() != 1 {
			t.Fatalf("%+v", h[0].err)
		}
	})
}

type errAs string

func (e errAs) Error() string { return string(e) }

// online or retryPending wakes a delivery waiting for its next try.
func TestRetryWakesAWaitingDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &fakeNetwork{script: []reply{{noAnswer: true}, {noAnswer: true}, {noAnswer: true}, {noAnswer: true},
			{noAnswer: true}, {noAnswer: true}, {noAnswer: true}, ok201()}}
		c := newTab(t, newStore(), newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(21 * time.Second) // heard, now waiting 8–16 s for the 7th try
		before := time.Now()
		c.Retry(false)
		if n := len(net.attempts()); n != 7 || time.Since(before) != 0 {
			t.Fatalf("%d attempts, %s later", n, time.Since(before))
		}
		c.Retry(false)
		if w.deliveries() != 1 {
			t.Fatal("not delivered")
		}
	})
}

// retryPending() while an attempt is on the wire answers after an attempt made after the
// call: the one under way started before it (the Send now that reported "still waiting"
// for a recording delivered a moment later).
func TestRetryWaitsForAnAttemptStartedAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slowOK := ok201()
		slowOK.delay = 10 * time.Second
		net := &fakeNetwork{script: []reply{{status: 503, body: `{"error":{"code":5002,"message":"m"}}`, delay: 10 * time.Second}, slowOK}}
		c := newTab(t, newStore(), newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(time.Second) // the first attempt is on the wire
		c.Retry(false)
		if n := len(net.attempts()); n != 2 || w.deliveries() != 1 {
			t.Fatalf("Retry answered after %d attempts, %d deliveries", n, w.deliveries())
		}
	})
}

// retryPending() just after the page loaded, while the SDK's own Retry has the
// recording's lock and reads it again: it waits for that delivery's attempt, instead of
// finding the lock taken (by its own page) and answering with nothing tried.
func TestRetryJoinsThePagesDeliveryTakingTheLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		_ = store.Put(record("a"))
		store.slowGet = time.Second
		net := &fakeNetwork{script: []reply{ok201()}}
		c := newTab(t, store, newLocks(), net)
		go c.Retry(false) // the SDK's start
		after(time.Millisecond)
		c.Retry(false) // retryPending()
		if n := len(net.attempts()); n != 1 || store.has("a") {
			t.Fatalf("Retry answered after %d attempts, in the outbox: %v", n, store.has("a"))
		}
	})
}

// A recording handed over with its lock (a journal's) while this page's Retry is asking
// for that lock: the Retry finds it taken and gives up, and the delivery goes on.
func TestSendHeldWhileARetryAsksForItsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		_ = store.Put(record("a"))
		release, _ := locks.Lock("a", false)
		locks.slow = time.Second
		c := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		go c.Retry(false)
		after(time.Millisecond)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, release)
		after(2 * time.Second)
		if w.deliveries() != 1 || store.has("a") || locks.isHeld("a") {
			t.Fatalf("delivered %d, in the outbox %v, lock held %v", w.deliveries(), store.has("a"), locks.isHeld("a"))
		}
	})
}

// A journal whose recording had reached the outbox: this load's Retry left the
// recording, whose lock the journal's recovery held, and the recovery hands that lock to
// its delivery. One the API refused stays held, and the lock is given back.
func TestResumeDeliversWhatRetryFoundLocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		_ = store.Put(record("a"))
		refused := record("b")
		refused.Refused = true
		_ = store.Put(refused)
		net := &fakeNetwork{script: []reply{ok201()}}
		c := newTab(t, store, locks, net)
		releaseA, _ := locks.Lock("a", false) // the journals' recovery
		releaseB, _ := locks.Lock("b", false)
		c.Retry(false) // the SDK's start
		if n := len(net.attempts()); n != 0 {
			t.Fatalf("%d attempts under another holder's lock", n)
		}
		c.Resume("a", releaseA)
		c.Resume("b", releaseB)
		after(time.Second)
		if n := len(net.attempts()); n != 1 || store.has("a") || !store.has("b") || locks.isHeld("a") || locks.isHeld("b") {
			t.Fatalf("%d attempts; in the outbox a %v, b %v; locks held a %v, b %v", n, store.has("a"), store.has("b"), locks.isHeld("a"), locks.isHeld("b"))
		}
	})
}

// A page reopened while the one before still holds a recording's lock (it was closed
// mid-upload and has not quite gone): this page's Retry finds the lock taken, answers,
// and sends the recording once the lock is let go.
func TestRetryTakesOverWhatAClosingTabLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		_ = store.Put(record("a"))
		closing, _ := locks.Lock("a", false)
		net := &fakeNetwork{script: []reply{ok201()}}
		c := newTab(t, store, locks, net)
		c.Retry(false)
		c.Retry(false) // online: still one wait for the lock
		if n := len(net.attempts()); n != 0 {
			t.Fatalf("%d attempts under the closing tab's lock", n)
		}
		closing()
		after(time.Second)
		if n := len(net.attempts()); n != 1 || store.has("a") || locks.isHeld("a") {
			t.Fatalf("%d attempts; in the outbox %v; lock held %v", n, store.has("a"), locks.isHeld("a"))
		}
	})
}

// Two tabs start with one recording left in the outbox: one of them sends it, once.
func TestTwoTabsDeliverOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		_ = store.Put(record("a"))
		_ = store.Put(record("b"))
		one := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		two := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		var wg sync.WaitGroup
		for _, c := range []tab{one, two} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Retry(false)
			}()
		}
		wg.Wait()
		synctest.Wait()
		if got := len(one.net.attempts()) + len(two.net.attempts()); got != 2 || len(store.List()) != 0 {
			t.Fatalf("%d puts for 2 recordings; left %d", got, len(store.List()))
		}
	})
}

func TestDiscardEndsADelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		net := &fakeNetwork{script: []reply{{noAnswer: true}}}
		c := newTab(t, store, locks, net)
		c.SendHeld(record("a"), &fakeWatcher{}, nil, nil)
		synctest.Wait()
		if !c.Discard("a") {
			t.Fatal("nothing discarded")
		}
		synctest.Wait()
		if store.has("a") || locks.isHeld("a") {
			t.Fatal("the discarded recording is still there")
		}
		n := len(net.attempts())
		after(time.Hour)
		if len(net.attempts()) != n || c.Discard("a") {
			t.Fatal("tried again after a discard")
		}
	})
}

// A dropped SDK instance ends its deliveries and leaves the outbox to the next one.
func TestCloseLeavesTheOutboxToTheNextInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		c := newTab(t, store, locks, &fakeNetwork{script: []reply{{noAnswer: true}}})
		c.SendHeld(record("a"), &fakeWatcher{}, nil, nil)
		synctest.Wait()
		c.Close()
		synctest.Wait()
		if locks.isHeld("a") || !store.has("a") {
			t.Fatal("close did not end the delivery and keep the recording")
		}
		next := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		next.Retry(false)
		if store.has("a") {
			t.Fatal("the next instance did not deliver it")
		}
	})
}

// sdk.upload's file is sent the same way but never kept: the page hears the outcome once.
func TestUploadOfAFileIsNotKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		net := &fakeNetwork{script: []reply{apiError(503, 5002, "")}}
		c := newTab(t, store, newLocks(), net)
		w := &fakeWatcher{}
		c.Upload(record("f"), w, nil)
		after(21 * time.Second)
		h := w.reports()
		if len(h) != 1 || store.puts != 0 {
			t.Fatalf("heard %v, store puts %d", h, store.puts)
		}
		mustCode(t, h[0], catalog.ServiceUnavailable, true)
		n := len(net.attempts())
		after(time.Hour)
		if len(net.attempts()) != n {
			t.Fatal("a file was retried in the background")
		}
	})
}

// A panic in the glue during an attempt is that attempt's INTERNAL_ERROR; the recording
// is kept and tried again.
func TestAPanicInTheGlueLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		c := newTab(t, store, newLocks(), &fakeNetwork{script: []reply{{panics: true}, ok201()}})
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(time.Minute)
		h := w.reports()
		if len(h) != 1 || w.deliveries() != 1 || store.has("a") {
			t.Fatalf("heard %v delivered %d", h, w.deliveries())
		}
		mustCode(t, h[0], catalog.InternalError, true)
	})
}

// An attempt that hangs is cut at the 20-second mark: the page never waits longer.
func TestAHangingAttemptIsCutAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &fakeNetwork{script: []reply{apiError(503, 5002, ""), {hang: true}}}
		c := newTab(t, newStore(), newLocks(), net)
		w := &fakeWatcher{}
		start := time.Now()
		c.SendHeld(record("a"), w, nil, nil)
		after(25 * time.Second)
		h := w.reports()
		if len(h) != 1 || h[0].at.Sub(start) > 20*time.Second {
			t.Fatalf("heard %v after %s", h, h[0].at.Sub(start))
		}
		if puts := net.attempts(); puts[1].timeout > 20*time.Second {
			t.Fatalf("the second attempt was given %s", puts[1].timeout)
		}
	})
}

// A recording belongs to whoever made it: a page whose token is another identity's never
// sends it (no attempt, nothing counted) and it stays pending; the owner's next visit
// sends it once. Kept and Landed hear of it on the way.
func TestARecordingIsOnlySentWithItsOwnersToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		other := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}, sub: "two"})
		var kept []string
		other.Kept = func(id string) { kept = append(kept, id) }
		r := record("a")
		r.Owner = "one"
		w := &fakeWatcher{}
		other.SendHeld(r, w, nil, nil)
		synctest.Wait()
		other.Retry(true)
		if n := len(other.net.attempts()); n != 0 {
			t.Fatalf("%d attempts with another identity's token", n)
		}
		if rec := store.Get("a"); rec == nil || rec.Attempts != 0 || rec.Owner != "one" {
			t.Fatalf("outbox %+v", rec)
		}
		if len(kept) != 1 || len(w.reports()) != 1 {
			t.Fatalf("kept %v heard %v", kept, w.reports())
		}
		if other.Identity() != "two" || other.KnownIdentity() != "two" {
			t.Fatalf("identity %q", other.Identity())
		}

		owner := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}, sub: "one"})
		landed := 0
		owner.Landed = func(r *Record, _ any) { landed++ }
		owner.Retry(false)
		synctest.Wait()
		if n := len(owner.net.attempts()); n != 1 || store.has("a") || landed != 1 {
			t.Fatalf("the owner's visit: %d attempts, still pending %v, landed %d", n, store.has("a"), landed)
		}
	})
}

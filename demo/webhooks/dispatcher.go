// Package webhooks delivers the local API's webhook events (docs/api.md, "Webhooks"):
// each pending delivery in the store is posted, signed, to its webhook's URL, and tried
// again with exponential backoff until an answer is 2xx or the attempts run out.
// Deliveries are kept in the store, so a restart goes on where the last run stopped.
//
// Each webhook is delivered to on its own: at most one of its deliveries is under way
// at a time, so a receiver that hangs holds one worker, not all of them, and a webhook
// whose attempt timed out is paused (its deliveries wait, no other webhook's do). An
// attempt is claimed and counted in the store before it is sent (store.Claim), so no
// delivery is posted more often than its attempts, even across a crash.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/vocafuse"
)

// Defaults, as docs/api.md promises: the first retry within 2 s, at least 5 attempts
// spread over at least a minute. With these, attempts go out at about 0 s, 1 s, 6 s,
// 31 s, 2.6 min, 13 min, 65 min and 2 h after the event.
const (
	DefaultFirstRetry  = time.Second
	DefaultMaxAttempts = 8
	DefaultWorkers     = 16
	backoffFactor      = 5
	maxBackoff         = time.Hour
	attemptTimeout     = 10 * time.Second // an answer must come within this to count
	pruneEvery         = time.Hour        // given-up deliveries past their retention are forgotten this often
)

// Config tunes a Dispatcher; zero values take the defaults.
type Config struct {
	Log         *slog.Logger
	FirstRetry  time.Duration // the wait before the second attempt; each next one is 5 times longer
	MaxAttempts int           // attempts before a delivery is given up
	Workers     int           // attempts under way at once, each to a different webhook (16)
	// Limits bound the deliveries the store keeps (store.DefaultDeliveryLimits).
	Limits store.DeliveryLimits
	// DialContext connects the default client (a safe dialer refusing private
	// addresses, say); nil: net.Dialer's.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Client makes the POSTs; default one over DialContext, following no redirect.
	Client *http.Client
	// Timeout is how long an attempt may take (10 s); tests shorten it.
	Timeout time.Duration
}

// Dispatcher sends the store's pending deliveries.
type Dispatcher struct {
	store *store.Store
	cfg   Config
	wake  chan struct{}

	mu      sync.Mutex
	hooks   map[string]*hookState // webhooks under way or paused
	running int                   // attempts under way
	slow    int                   // of which to webhooks whose last attempt timed out

	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
}

// hookState is what the dispatcher knows of one webhook between attempts.
type hookState struct {
	busy        bool      // an attempt is under way
	slow        bool      // the one under way counts in Dispatcher.slow
	answered    bool      // its last attempt had an answer (any status)
	timeouts    int       // attempts in a row that had no answer in time
	pausedUntil time.Time // after a timeout: none of its deliveries start before
}

// New returns a dispatcher for st; Start starts it.
func New(st *store.Store, cfg Config) *Dispatcher {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FirstRetry <= 0 {
		cfg.FirstRetry = DefaultFirstRetry
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = attemptTimeout
	}
	if cfg.Client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.DialContext != nil {
			transport.DialContext = cfg.DialContext
			transport.Proxy = nil // the dialler must see the receiver's address, not a proxy's
		}
		// A redirect is not followed (it would turn the POST into a GET): it is an
		// answer that is not 2xx, so the delivery is retried.
		cfg.Client = &http.Client{Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	d := &Dispatcher{store: st, cfg: cfg, wake: make(chan struct{}, 1), hooks: map[string]*hookState{}}
	st.ConfigureDeliveries(store.DeliveryConfig{Limits: cfg.Limits, GivenUp: d.logGivenUp})
	return d
}

// logGivenUp says once that a delivery was given up (the store calls it after the
// transaction that gave it up).
func (d *Dispatcher) logGivenUp(del store.Delivery) {
	d.cfg.Log.Warn("webhook delivery given up", "delivery_id", del.ID, "webhook_id", del.WebhookID,
		"event", del.Event, "attempts", del.Attempts, "last_error", del.LastError)
}

// Wake tells the dispatcher that deliveries were recorded; it looks at once.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the dispatcher until Stop.
func (d *Dispatcher) Start() {
	if err := d.store.InitDeliveries(); err != nil {
		d.cfg.Log.Error("webhooks: move the deliveries of an earlier version", "error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go d.run(ctx)
}

// Stop ends the attempts under way (each counts; the delivery is due again at once, to
// be sent after the next start if it has attempts left) and waits for the dispatcher to
// finish, or for ctx.
func (d *Dispatcher) Stop(ctx context.Context) error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) run(ctx context.Context) {
	defer close(d.done)
	defer d.wg.Wait()
	var pruned time.Time
	for {
		if now := time.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			d.forgetIdle(now)
			if _, err := d.store.PruneGivenUp(now); err != nil {
				d.cfg.Log.Error("webhooks: prune given-up deliveries", "error", err)
			}
		}
		timer := time.NewTimer(d.dispatch(ctx))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dispatch claims and starts, while workers are free, the due delivery of each webhook
// that is neither under way nor paused, soonest first; it answers how long until it
// should look again (an attempt that ends wakes it sooner).
func (d *Dispatcher) dispatch(ctx context.Context) time.Duration {
	const idle = time.Minute // a look now and then even when nothing is known to be due
	now := time.Now()
	d.mu.Lock()
	free := d.cfg.Workers - d.running
	wakeAt := d.soonestUnpause(now)
	d.mu.Unlock()
	if free <= 0 {
		return idle
	}
	due, next, err := d.store.DueDeliveries(now, d.ready(now))
	if err != nil {
		d.cfg.Log.Error("webhooks: read due deliveries", "error", err)
		return time.Second
	}
	d.preferAnswering(due)
	if len(due) > free {
		// More are due than workers are free: an attempt that ends wakes it.
		due, next = due[:free], time.Time{}
	}
	wait := idle
	if len(due) > 0 && d.start(ctx, due, now) < len(due) {
		wait = 50 * time.Millisecond // some changed since they were read: read again soon
	}
	for _, at := range []time.Time{next, wakeAt} {
		if !at.IsZero() {
			wait = min(wait, max(at.Sub(now), 0))
		}
	}
	return wait
}

// ready is whether a webhook may have an attempt started now: none under way, not
// paused, and, for one whose last attempt timed out, fewer than half the workers busy
// with such webhooks (the others are kept for receivers that answer).
func (d *Dispatcher) ready(now time.Time) func(string) bool {
	return func(webhookID string) bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		h := d.hooks[webhookID]
		return h == nil || (!h.busy && !now.Before(h.pausedUntil) && (h.timeouts == 0 || d.slow < d.maxSlow()))
	}
}

// preferAnswering puts first the webhooks whose last attempt had an answer, then those
// not tried yet, then those that timed out: when workers are short, a receiver that
// answers is not kept waiting behind ones that hang.
func (d *Dispatcher) preferAnswering(due []store.Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rank := func(webhookID string) int {
		switch h := d.hooks[webhookID]; {
		case h == nil:
			return 1
		case h.timeouts > 0:
			return 2
		case h.answered:
			return 0
		}
		return 1
	}
	slices.SortStableFunc(due, func(a, b store.Delivery) int { return rank(a.WebhookID) - rank(b.WebhookID) })
}

// forgetIdle forgets what is known of webhooks without an attempt under way or a pause
// (deleted webhooks' included); they start again as not tried.
func (d *Dispatcher) forgetIdle(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, h := range d.hooks {
		if !h.busy && !h.pausedUntil.After(now) {
			delete(d.hooks, id)
		}
	}
}

// maxSlow is how many workers webhooks whose last attempt timed out may hold.
func (d *Dispatcher) maxSlow() int { return max(1, d.cfg.Workers/2) }

// soonestUnpause is when the first paused webhook may go on (zero: none paused); d.mu held.
func (d *Dispatcher) soonestUnpause(now time.Time) (at time.Time) {
	for _, h := range d.hooks {
		if !h.busy && h.pausedUntil.After(now) && (at.IsZero() || h.pausedUntil.Before(at)) {
			at = h.pausedUntil
		}
	}
	return at
}

// start claims the deliveries (those changed since they were read are not claimed)
// and posts each one in its own goroutine; it answers how many it started.
func (d *Dispatcher) start(ctx context.Context, due []store.Delivery, now time.Time) int {
	attempts, err := d.store.Claim(due, store.ClaimRules{Now: now, MaxAttempts: d.cfg.MaxAttempts,
		RetryAt: func(n int) time.Time { return now.Add(d.cfg.Timeout + d.backoff(n)) }})
	if err != nil {
		d.cfg.Log.Error("webhooks: claim deliveries", "error", err)
		return 0
	}
	for _, a := range attempts {
		d.mu.Lock()
		h := d.hooks[a.Webhook.ID]
		if h == nil {
			h = &hookState{}
			d.hooks[a.Webhook.ID] = h
		}
		h.busy, h.slow = true, h.timeouts > 0
		d.running++
		if h.slow {
			d.slow++
		}
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			timedOut, answered := d.attempt(ctx, a)
			d.mu.Lock()
			d.running--
			if h.slow {
				d.slow--
			}
			h.busy, h.slow = false, false
			switch {
			case timedOut:
				h.timeouts++
				h.pausedUntil = time.Now().Add(d.backoff(h.timeouts))
			case answered:
				h.timeouts, h.pausedUntil = 0, time.Time{}
			}
			h.answered = answered
			d.mu.Unlock()
			d.Wake() // a worker is free, and its webhook's next delivery may be due
		}()
	}
	return len(attempts)
}

// attempt posts a claimed delivery once and records the outcome; it tells whether the
// receiver gave no answer in time, or answered at all.
func (d *Dispatcher) attempt(ctx context.Context, a store.Attempt) (timedOut, answered bool) {
	del, hook := a.Delivery, a.Webhook
	status, err := d.post(ctx, hook, del)
	log := d.cfg.Log.With("delivery_id", del.ID, "webhook_id", hook.ID, "event", del.Event, "attempt", del.Attempts)
	out := attemptOutcome(status, err, del.Attempts, d.cfg.MaxAttempts)
	switch {
	case out.Delivered:
		log.Info("webhook delivered", "status", status)
	case ctx.Err() != nil:
		// Stopping: the attempt counts (it may have arrived); due again at once, for
		// the next start (given up then if it was the last).
		out = store.Outcome{Error: "cut short: the server stopped", RetryAt: time.Now()}
	case !out.GiveUp:
		wait := d.backoff(del.Attempts)
		out.RetryAt = time.Now().Add(wait)
		log.Warn("webhook delivery failed; will retry", "last_error", out.Error, "retry_in", wait)
	}
	if _, err := d.store.RecordAttempt(del, out); err != nil {
		log.Error("webhooks: record the attempt", "error", err)
	}
	return err != nil && isTimeout(err) && ctx.Err() == nil, err == nil
}

// attemptOutcome is what an attempt's answer (status, or err when there was none) makes
// of a delivery on its attempt number n of max; RetryAt is left to the caller.
func attemptOutcome(status int, err error, n, max int) store.Outcome {
	if err == nil && status >= 200 && status < 300 {
		return store.Outcome{Delivered: true}
	}
	out := store.Outcome{Error: "HTTP " + strconv.Itoa(status)}
	if err != nil {
		out.Error = redactedError(err)
	}
	if n >= max {
		out.GiveUp = true
		out.Error = fmt.Sprintf("given up after %d attempts: %s", n, out.Error)
	}
	return out
}

// redactedError is an attempt's error as it is logged and kept: the URL that net/http
// quotes without its query values and userinfo.
func redactedError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		copied := *ue
		copied.URL = RedactURL(ue.URL)
		return copied.Error()
	}
	return err.Error()
}

// isTimeout tells an attempt that got no answer in time from one that was refused.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// backoff is the wait after the failed attempt number n (1, 2, …): FirstRetry, then
// five times longer each time, at most an hour, less up to a fifth at random.
func (d *Dispatcher) backoff(n int) time.Duration {
	w := d.cfg.FirstRetry
	for i := 1; i < n && w < maxBackoff; i++ {
		w *= backoffFactor
	}
	w = min(w, maxBackoff)
	return w - rand.N(w/5+1)
}

// post sends one attempt: the body as recorded, signed with the webhook's secret over
// "<timestamp>.<delivery id>.<body>".
func (d *Dispatcher) post(ctx context.Context, hook store.Webhook, del store.Delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(del.Body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "VocaFuse-Webhooks/1.0")
	req.Header.Set(vocafuse.HeaderTimestamp, ts)
	req.Header.Set(vocafuse.HeaderDeliveryID, del.ID)
	req.Header.Set(vocafuse.HeaderSignature, vocafuse.SignWebhook(hook.Secret, ts, del.ID, del.Body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

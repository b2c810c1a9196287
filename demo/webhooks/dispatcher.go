// Package webhooks delivers the local API's webhook events (docs/api.md, "Webhooks"):
// each pending delivery in the store is posted, signed, to its webhook's URL, and tried
// again with exponential backoff until an answer is 2xx or the attempts run out.
// Deliveries are kept in the store, so a restart goes on where the last run stopped;
// a delivery whose attempt was under way when the process died is sent again (at least
// once, with the same delivery id).
package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
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
	backoffFactor      = 5
	maxBackoff         = time.Hour
	attemptTimeout     = 10 * time.Second // an answer must come within this to count
	parallel           = 4                // deliveries under way at once
)

// Config tunes a Dispatcher; zero values take the defaults.
type Config struct {
	Log         *slog.Logger
	FirstRetry  time.Duration // the wait before the second attempt; each next one is 5 times longer
	MaxAttempts int           // attempts before a delivery is given up
	Client      *http.Client  // for the POSTs; default one with a 10-second timeout
}

// Dispatcher sends the store's pending deliveries.
type Dispatcher struct {
	store *store.Store
	cfg   Config
	wake  chan struct{}

	mu       sync.Mutex
	inflight map[string]bool

	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
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
	if cfg.Client == nil {
		// A redirect is not followed (it would turn the POST into a GET): it is an
		// answer that is not 2xx, so the delivery is retried.
		cfg.Client = &http.Client{Timeout: attemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Dispatcher{store: st, cfg: cfg, wake: make(chan struct{}, 1), inflight: map[string]bool{}}
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
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go d.run(ctx)
}

// Stop ends the attempts under way (they stay pending, to be sent again on the next
// start) and waits for the dispatcher to finish, or for ctx.
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
	sem := make(chan struct{}, parallel)
	for {
		next := d.dispatch(ctx, sem)
		timer := time.NewTimer(next)
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

// dispatch starts every due delivery not already under way and returns how long until
// the next one is due.
func (d *Dispatcher) dispatch(ctx context.Context, sem chan struct{}) time.Duration {
	next := time.Minute // a look now and then even when nothing is known to be due
	pending, err := d.store.PendingDeliveries()
	if err != nil {
		d.cfg.Log.Error("webhooks: read pending deliveries", "error", err)
		return time.Second
	}
	now := time.Now()
	for _, del := range pending {
		if wait := del.NextAttempt.Sub(now); wait > 0 {
			next = min(next, wait)
			continue
		}
		d.mu.Lock()
		busy := d.inflight[del.ID]
		if !busy {
			d.inflight[del.ID] = true
		}
		d.mu.Unlock()
		if busy {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return 0
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { <-sem }()
			d.attempt(ctx, del)
			d.mu.Lock()
			delete(d.inflight, del.ID)
			d.mu.Unlock()
			d.Wake() // its next attempt may be the soonest
		}()
	}
	return next
}

// attempt posts a delivery once and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, del store.Delivery) {
	hook, found, err := d.store.Webhook(del.WebhookID)
	if err != nil {
		d.cfg.Log.Error("webhooks: read webhook", "error", err, "delivery_id", del.ID)
		return
	}
	if !found || !hook.Active {
		_ = d.store.DeleteDelivery(del.ID)
		return
	}
	status, err := d.post(ctx, hook, del)
	if ctx.Err() != nil {
		return // stopping: the delivery stays as it was, to be sent after the restart
	}
	del.Attempts++
	log := d.cfg.Log.With("delivery_id", del.ID, "webhook_id", hook.ID, "event", del.Event, "attempt", del.Attempts)
	if err == nil && status >= 200 && status < 300 {
		log.Info("webhook delivered", "status", status)
		if err := d.store.DeleteDelivery(del.ID); err != nil {
			log.Error("webhooks: forget delivery", "error", err)
		}
		return
	}
	if err != nil {
		del.LastError = err.Error()
	} else {
		del.LastError = "HTTP " + strconv.Itoa(status)
	}
	if del.Attempts >= d.cfg.MaxAttempts {
		del.Failed = true
		log.Warn("webhook delivery given up", "last_error", del.LastError)
	} else {
		wait := d.backoff(del.Attempts)
		del.NextAttempt = time.Now().Add(wait)
		log.Warn("webhook delivery failed; will retry", "last_error", del.LastError, "retry_in", wait)
	}
	if err := d.store.SaveDelivery(del); err != nil {
		log.Error("webhooks: save delivery", "error", err)
	}
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
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(del.Body))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
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

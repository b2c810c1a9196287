package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/vocafuse"
)

// rig is a store with a dispatcher running over it, and voice notes to make events.
type rig struct {
	t     *testing.T
	store *store.Store
	d     *Dispatcher
	log   *syncBuffer
	notes int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T, cfg Config) *rig {
	st, _, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, store: st, log: &syncBuffer{}}
	cfg.Log = slog.New(slog.NewTextHandler(r.log, nil))
	r.d = New(st, cfg)
	r.d.Start()
	t.Cleanup(func() {
		r.d.Stop(context.Background())
		st.Close()
	})
	return r
}

func (r *rig) hook(url string) string {
	r.t.Helper()
	id := store.NewWebhookID()
	if err := r.store.CreateWebhook(store.Webhook{ID: id, URL: url, Secret: "whsec_dispatcher_test_secret", Active: true,
		Events: []string{"voicenote.created"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// event commits a voice note, whose voicenote.created event names it; it answers the id.
func (r *rig) event() string {
	r.t.Helper()
	r.notes++
	id := fmt.Sprintf("note-%03d", r.notes)
	u, err := r.store.NewUpload()
	if err != nil {
		r.t.Fatal(err)
	}
	u.Write([]byte(id))
	_, _, err = r.store.Commit(u, store.VoiceNote{ID: id, Owner: store.OwnerOf("alice"), Identity: "alice", Format: "wav",
		CreatedAt: time.Now()}, func(n store.VoiceNote) (string, []byte, error) {
		return "voicenote.created", []byte(`{"event":"voicenote.created","data":{"id":"` + n.ID + `"}}`), nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.d.Wake()
	return id
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A receiver that never answers holds one worker, and its webhook waits after each
// timeout: a healthy receiver beside it gets each delivery within a second or two of
// its event. (Issue 24, finding 4: four shared workers, a healthy receiver got 7 of 12
// within 10 s.) With the defaults (16 workers, 10 s), and with more hanging webhooks than
// workers: those that timed out hold at most half the workers, and a webhook that
// answered goes before them, so a healthy receiver waits at most about one timeout (here
// 1 s) while the hanging ones are first tried.
func TestHangingReceiverDoesNotDelayOthers(t *testing.T) {
	t.Run("one hanging, defaults", func(t *testing.T) { hangingBesideHealthy(t, 1, Config{}) })
	t.Run("one hanging, four workers as before", func(t *testing.T) { hangingBesideHealthy(t, 1, Config{Workers: 4}) })
	t.Run("six hanging, four workers", func(t *testing.T) {
		hangingBesideHealthy(t, 6, Config{Workers: 4, Timeout: time.Second, FirstRetry: 200 * time.Millisecond})
	})
}

func hangingBesideHealthy(t *testing.T, hangingHooks int, cfg Config) {
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(hang)
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		event, err := vocafuse.VerifyWebhook(r, "whsec_dispatcher_test_secret")
		if err != nil {
			t.Errorf("signature: %v", err)
			return
		}
		var note struct{ ID string }
		json.Unmarshal(event.Data, &note)
		mu.Lock()
		arrived[note.ID] = time.Now()
		mu.Unlock()
	}))
	defer healthy.Close()

	r := newRig(t, cfg)
	for i := range hangingHooks {
		r.hook(fmt.Sprintf("%s/hang/%d", hanging.URL, i))
	}
	r.hook(healthy.URL + "/in")
	made := map[string]time.Time{}
	for range 12 {
		made[r.event()] = time.Now()
		time.Sleep(150 * time.Millisecond)
	}
	waitFor(t, "12 deliveries to the healthy receiver", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == 12
	})
	mu.Lock()
	defer mu.Unlock()
	for id, at := range made {
		if lag := arrived[id].Sub(at); lag > 2*time.Second {
			t.Errorf("%s arrived %v after its event", id, lag.Round(time.Millisecond))
		}
	}
}

// A receiver that always fails gets each delivery exactly its attempts, never more,
// and each delivery's give-up is logged once. (Issue 24, finding 5: with 3 attempts,
// 34 of 60 deliveries were POSTed more than 3 times.)
func TestNoDeliveryPostedMoreThanItsAttempts(t *testing.T) {
	var mu sync.Mutex
	posts := map[string]int{}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts[r.Header.Get(vocafuse.HeaderDeliveryID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	r := newRig(t, Config{MaxAttempts: 3, FirstRetry: 5 * time.Millisecond})
	for i := range 3 {
		r.hook(fmt.Sprintf("%s/fail/%d", failing.URL, i))
	}
	for range 20 {
		r.event()
	}
	waitFor(t, "60 deliveries given up", 20*time.Second, func() bool {
		pending, _, _, _ := r.store.DeliveryCounts()
		return pending == 0 && strings.Count(r.log.String(), "webhook delivery given up") == 60
	})
	time.Sleep(100 * time.Millisecond) // any stray attempt would show now
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 60 {
		t.Fatalf("%d deliveries posted, want 60", len(posts))
	}
	for id, n := range posts {
		if n != 3 {
			t.Errorf("%s posted %d times, want 3", id, n)
		}
		if c := strings.Count(r.log.String(), "given up\" delivery_id="+id); c != 1 {
			t.Errorf("%s: given up logged %d times", id, c)
		}
	}
	if p, _, bodies, _ := r.store.DeliveryCounts(); p != 0 || bodies != 0 {
		t.Errorf("after giving up: %d pending, %d bodies", p, bodies)
	}
}

// The attempt error kept and logged shows the URL without its query values.
func TestAttemptErrorRedactsTheURL(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &url.Error{Op: "Post", URL: "http://hooks.example/in?token=s3cret", Err: errors.New("connection refused")})
	got := redactedError(err)
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "token=REDACTED") {
		t.Fatalf("kept: %s", got)
	}
}

func TestAttemptOutcome(t *testing.T) {
	for _, c := range []struct {
		status, n int
		want      store.Outcome
	}{
		{204, 1, store.Outcome{Delivered: true}},
		{500, 1, store.Outcome{Error: "HTTP 500"}},
		{302, 3, store.Outcome{GiveUp: true, Error: "given up after 3 attempts: HTTP 302"}},
	} {
		if got := attemptOutcome(c.status, nil, c.n, 3); got != c.want {
			t.Errorf("%d on attempt %d: %+v, want %+v", c.status, c.n, got, c.want)
		}
	}
}

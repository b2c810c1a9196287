package transcription

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/transcribe"
)

// fakeEngine recognises what the test tells it to, when the test lets it: each call
// announces itself on started and waits for its answer on release (or its context).
type fakeEngine struct {
	mu      sync.Mutex
	running int
	peak    int
	started chan string // the audio file's name: the note's id
	answers map[string]func(ctx context.Context) (transcribe.Result, error)
	release chan struct{}
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{started: make(chan string, 100), release: make(chan struct{}),
		answers: map[string]func(ctx context.Context) (transcribe.Result, error){}}
}

func (e *fakeEngine) Transcribe(ctx context.Context, path string) (transcribe.Result, error) {
	e.mu.Lock()
	e.running++
	e.peak = max(e.peak, e.running)
	answer := e.answers[filepath.Base(path)]
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running--
		e.mu.Unlock()
	}()
	e.started <- filepath.Base(path)
	if answer != nil {
		return answer(ctx)
	}
	select {
	case <-e.release:
	case <-ctx.Done():
		return transcribe.Result{}, ctx.Err()
	}
	return transcribe.NewResult([]transcribe.Word{{Word: "hello", Start: 0.1, End: 0.4, Confidence: 0.9}}), nil
}

type queueHarness struct {
	t      *testing.T
	store  *store.Store
	dir    string
	engine *fakeEngine
	ended  chan struct{}
	mu     sync.Mutex
	events []string // event names the queue recorded, in order
}

func newQueueHarness(t *testing.T) *queueHarness {
	dir := t.TempDir()
	st, _, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A webhook that wants how transcriptions end: the store renders an event only for
	// someone who wants it.
	hook := store.Webhook{ID: store.NewWebhookID(), URL: "http://127.0.0.1:9/hooks", Secret: "whsec_queue_test_secret",
		Events: []string{"voicenote.transcribed", "voicenote.failed"}, Active: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateWebhook(hook); err != nil {
		t.Fatal(err)
	}
	return &queueHarness{t: t, store: st, dir: dir, engine: newFakeEngine(), ended: make(chan struct{}, 100)}
}

func (h *queueHarness) queue(workers int, timeout time.Duration) *Queue {
	q := New(Config{Store: h.store, Engine: h.engine, Workers: workers, Timeout: timeout,
		Render: func(t store.Transcript) store.EventFunc {
			return func(n store.VoiceNote) (string, []byte, error) {
				name := "voicenote.transcribed"
				if t.Failed {
					name = "voicenote.failed"
				}
				h.mu.Lock()
				h.events = append(h.events, name+" "+n.ID)
				h.mu.Unlock()
				return name, []byte("{}"), nil
			}
		},
		Ended: func() { h.ended <- struct{}{} },
	})
	return q
}

func noteID(i int) string { return fmt.Sprintf("0190a0c0-7777-7000-8000-%012d", i) }

func (h *queueHarness) upload(i int) store.VoiceNote {
	h.t.Helper()
	u, err := h.store.NewUpload()
	if err != nil {
		h.t.Fatal(err)
	}
	u.Write([]byte(fmt.Sprint("audio ", i)))
	n, _, err := h.store.Commit(u, store.VoiceNote{ID: noteID(i), Owner: store.OwnerOf("alice"), Identity: "alice",
		Format: "wav", CreatedAt: time.Now()})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *queueHarness) state(i int) (string, store.Transcript) {
	h.t.Helper()
	n, found, err := h.store.Get(store.OwnerOf("alice"), noteID(i))
	if err != nil || !found {
		h.t.Fatalf("note %d: %v %v", i, found, err)
	}
	tr, _, err := h.store.Transcript(n)
	if err != nil {
		h.t.Fatal(err)
	}
	return n.State(), tr
}

func (h *queueHarness) waitEnded(n int) {
	h.t.Helper()
	for range n {
		select {
		case <-h.ended:
		case <-time.After(30 * time.Second):
			h.t.Fatal("no note ended within 30 s")
		}
	}
}

// Notes are recognised in the order they arrived, never more at once than the workers.
func TestQueueRunsInArrivalOrderOnBoundedWorkers(t *testing.T) {
	h := newQueueHarness(t)
	for i := range 5 {
		h.upload(i)
	}
	q := h.queue(2, time.Minute)
	q.Start()
	defer q.Stop()
	// The first two start together; then each end frees one worker, so the next start
	// is the next note in line (releasing two at once would let two start in any order).
	order := []string{<-h.engine.started, <-h.engine.started}
	for range 3 {
		h.engine.release <- struct{}{}
		h.waitEnded(1)
		order = append(order, <-h.engine.started)
	}
	h.engine.release <- struct{}{}
	h.engine.release <- struct{}{}
	h.waitEnded(2)
	for i := range 5 {
		if order[i] != noteID(i) && !(i < 2 && order[1-i] == noteID(i)) { // the first two start together
			t.Errorf("started %v, want arrival order", order)
			break
		}
		if st, tr := h.state(i); st != store.StatusTranscribed || tr.Text != "hello" || len(tr.Words) != 1 {
			t.Errorf("note %d: %s %+v", i, st, tr)
		}
	}
	if h.engine.peak > 2 {
		t.Errorf("%d notes recognised at once with 2 workers", h.engine.peak)
	}
	// A note that arrives later is woken for.
	h.upload(9)
	q.Wake()
	<-h.engine.started
	h.engine.release <- struct{}{}
	h.waitEnded(1)
	if st, _ := h.state(9); st != store.StatusTranscribed {
		t.Errorf("a later note: %s", st)
	}
}

// Each way a recognition can fail makes the note failed with a reason; one failing
// note does not stop the next.
func TestQueueFailuresAreRecordedWithAReason(t *testing.T) {
	h := newQueueHarness(t)
	h.engine.answers[noteID(0)] = func(context.Context) (transcribe.Result, error) { return transcribe.Result{}, transcribe.ErrNoSpeech }
	h.engine.answers[noteID(1)] = func(context.Context) (transcribe.Result, error) {
		return transcribe.Result{}, &transcribe.MissingError{What: "pocketsphinx_continuous", Install: "pocketsphinx pocketsphinx-en-us"}
	}
	h.engine.answers[noteID(2)] = func(ctx context.Context) (transcribe.Result, error) {
		<-ctx.Done()
		return transcribe.Result{}, ctx.Err()
	}
	h.engine.answers[noteID(3)] = func(context.Context) (transcribe.Result, error) {
		return transcribe.Result{}, errors.New("exit status 1")
	}
	h.engine.answers[noteID(4)] = func(context.Context) (transcribe.Result, error) {
		return transcribe.NewResult([]transcribe.Word{{Word: "fine", End: 1, Confidence: 0.5}}), nil
	}
	for i := range 5 {
		h.upload(i)
	}
	q := h.queue(1, 200*time.Millisecond)
	q.Start()
	defer q.Stop()
	h.waitEnded(5)
	missing := (&transcribe.MissingError{What: "pocketsphinx_continuous", Install: "pocketsphinx pocketsphinx-en-us"}).Error()
	for i, want := range []string{"no speech was recognised", missing, "the recogniser took longer than 200ms", "the recogniser failed on this audio", ""} {
		st, tr := h.state(i)
		if want == "" {
			if st != store.StatusTranscribed || tr.Text != "fine" {
				t.Errorf("note %d after the failures: %s %+v", i, st, tr)
			}
			continue
		}
		if st != store.StatusFailed || !tr.Failed || tr.Reason != want {
			t.Errorf("note %d: %s %q, want failed %q", i, st, tr.Reason, want)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) != 5 || h.events[0] != "voicenote.failed "+noteID(0) || h.events[4] != "voicenote.transcribed "+noteID(4) {
		t.Errorf("events %v", h.events)
	}
}

// A note deleted while it is recognised ends nowhere: no transcript, no event.
func TestQueueDropsADeletedNote(t *testing.T) {
	h := newQueueHarness(t)
	h.upload(0)
	h.upload(1)
	q := h.queue(1, time.Minute)
	q.Start()
	defer q.Stop()
	if got := <-h.engine.started; got != noteID(0) {
		t.Fatalf("started %s", got)
	}
	if found, err := h.store.Delete(store.OwnerOf("alice"), noteID(0)); err != nil || !found {
		t.Fatal(err)
	}
	q.Drop(noteID(0))
	if got := <-h.engine.started; got != noteID(1) {
		t.Fatalf("then started %s", got)
	}
	h.engine.release <- struct{}{}
	h.waitEnded(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if fmt.Sprint(h.events) != fmt.Sprint([]string{"voicenote.transcribed " + noteID(1)}) {
		t.Errorf("events %v", h.events)
	}
}

// Stopped with notes under way, the queue leaves them processing; the next start
// finishes them.
func TestQueueGoesOnAfterARestart(t *testing.T) {
	h := newQueueHarness(t)
	h.upload(0)
	h.upload(1)
	q := h.queue(1, time.Minute)
	q.Start()
	<-h.engine.started
	q.Stop()
	if st, _ := h.state(0); st != store.StatusProcessing {
		t.Fatalf("after a stop: %s", st)
	}
	q = h.queue(1, time.Minute)
	q.Start()
	defer q.Stop()
	for range 2 {
		<-h.engine.started
		h.engine.release <- struct{}{}
	}
	h.waitEnded(2)
	for i := range 2 {
		if st, _ := h.state(i); st != store.StatusTranscribed {
			t.Errorf("note %d after the restart: %s", i, st)
		}
	}
}

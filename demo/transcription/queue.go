// Package transcription runs the local API's transcriptions: every voice note still
// processing is recognised in the background, in the order the notes arrived, on a
// bounded number of workers, and ends transcribed or failed (docs/api.md,
// "Transcription"). The store is the queue: a note's status says whether it waits, so a
// restart goes on where the last run stopped, and a deleted note has nothing to finish.
package transcription

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/transcribe"
)

// Config is what a Queue needs.
type Config struct {
	Store  *store.Store
	Engine transcribe.Engine
	// Workers is how many notes are recognised at once; at least 1.
	Workers int
	// Timeout cuts a recognition that hangs; the note fails with 3003.
	Timeout time.Duration
	// Render makes the event that tells webhooks how a note ended (the API's
	// voicenote.transcribed or voicenote.failed), recorded with the note's new status.
	Render func(t store.Transcript) store.EventFunc
	// Ended is told when a note has ended (the webhook dispatcher's Wake); may be nil.
	Ended func()
	Log   *slog.Logger
	Now   func() time.Time
}

// Queue is the background transcriber. Start it once; Stop ends it.
type Queue struct {
	// Render is Config.Render, for a caller that makes it after the queue (the API
	// server, which is told of new notes through the queue). Set it before Start.
	Render func(t store.Transcript) store.EventFunc

	c      Config
	wake   chan struct{}
	done   chan struct{}
	stop   context.CancelFunc
	ctx    context.Context
	mu     sync.Mutex
	after  uint64                        // every note up to this sequence number was taken
	active map[string]context.CancelFunc // the notes being recognised, by id
	wg     sync.WaitGroup
}

// DefaultTimeout is the longest one voice note's recognition takes when Config.Timeout is 0.
const DefaultTimeout = 2 * time.Minute

// New makes a queue; it does nothing until Start.
func New(c Config) *Queue {
	if c.Workers < 1 {
		c.Workers = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Queue{Render: c.Render, c: c, wake: make(chan struct{}, 1), done: make(chan struct{}), ctx: ctx, stop: stop,
		active: map[string]context.CancelFunc{}}
}

// Start begins with the notes a previous run left processing.
func (q *Queue) Start() {
	go q.run()
	q.Wake()
}

// Wake tells the queue that a note arrived. It never blocks.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Drop abandons a deleted note's recognition, if one is under way. (One that has not
// started never starts: the note is no longer processing.)
func (q *Queue) Drop(id string) {
	q.mu.Lock()
	cancel := q.active[id]
	q.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Load is how many notes are being recognised now, and at most.
func (q *Queue) Load() (running, workers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.active), q.c.Workers
}

// Stop ends the queue: recognitions under way are cut, their notes stay processing for
// the next start.
func (q *Queue) Stop() {
	q.stop()
	<-q.done
	q.wg.Wait()
}

func (q *Queue) run() {
	defer close(q.done)
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-q.wake:
		}
		q.dispatch()
	}
}

// dispatch starts as many waiting notes as there are free workers, oldest first.
func (q *Queue) dispatch() {
	q.mu.Lock()
	free, after := q.c.Workers-len(q.active), q.after
	q.mu.Unlock()
	if free <= 0 {
		return
	}
	notes, err := q.c.Store.Processing(after, free)
	if err != nil {
		q.c.Log.Error("transcription: list the notes processing", "error", err)
		return
	}
	for _, n := range notes {
		ctx, cancel := context.WithTimeout(q.ctx, q.c.Timeout)
		q.mu.Lock()
		q.active[n.ID] = cancel
		q.after = n.Seq
		q.mu.Unlock()
		q.wg.Add(1)
		go q.work(ctx, cancel, n)
	}
}

func (q *Queue) work(ctx context.Context, cancel context.CancelFunc, n store.VoiceNote) {
	defer q.wg.Done()
	defer func() {
		cancel()
		q.mu.Lock()
		delete(q.active, n.ID)
		q.mu.Unlock()
		q.Wake() // a worker is free
	}()
	path, err := q.c.Store.AudioPath(n)
	if err != nil {
		q.c.Log.Error("transcription: find the audio", "voicenote_id", n.ID, "error", err)
		return
	}
	result, err := q.c.Engine.Transcribe(ctx, path)
	if q.ctx.Err() != nil {
		return // stopping: the note stays processing for the next start
	}
	t, ok := q.outcome(ctx, n, result, err)
	if !ok {
		return
	}
	if _, found, err := q.c.Store.Finish(n, t, q.c.Now().UTC(), q.Render(t)); err != nil {
		q.c.Log.Error("transcription: record the outcome", "voicenote_id", n.ID, "error", err)
	} else if found && q.c.Ended != nil {
		q.c.Ended()
	}
}

// outcome turns the engine's answer into the note's transcript; ok is false when there
// is nothing to record (the note was deleted while it was recognised).
func (q *Queue) outcome(ctx context.Context, n store.VoiceNote, r transcribe.Result, err error) (store.Transcript, bool) {
	t := store.Transcript{ID: "tr_" + n.ID, Language: r.Language, CreatedAt: q.c.Now().UTC()}
	if t.Language == "" {
		t.Language = "en-US"
	}
	missing := (*transcribe.MissingError)(nil)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return t, false // dropped: the note is gone
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		t.Failed, t.Reason = true, fmt.Sprintf("the recogniser took longer than %s", q.c.Timeout)
	case errors.As(err, &missing):
		t.Failed, t.Reason = true, missing.Error()
	case errors.Is(err, transcribe.ErrNoSpeech), err == nil && len(r.Words) == 0:
		t.Failed, t.Reason = true, "no speech was recognised"
	case err != nil:
		q.c.Log.Error("transcription failed", "voicenote_id", n.ID, "error", err)
		t.Failed, t.Reason = true, "the recogniser failed on this audio"
	default:
		t.Text, t.Confidence = r.Text, round(r.Confidence)
		t.Words = make([]store.Word, len(r.Words))
		for i, w := range r.Words {
			t.Words[i] = store.Word{Word: w.Word, Start: round(w.Start), End: round(w.End), Confidence: round(w.Confidence)}
		}
	}
	return t, true
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

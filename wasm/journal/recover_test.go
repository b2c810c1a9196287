package journal

import (
	"encoding/base64"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/delivery"
)

func wavHead() *Head {
	return &Head{MIME: "audio/wav", Format: "wav", Rate: 16000, Created: 1700000000000}
}

func webmHead() *Head {
	return &Head{MIME: "audio/webm;codecs=opus", Format: "webm", Created: 1700000000000, Owner: "alice", Metadata: `{"k":"v"}`}
}

// pcm is seconds of silence at 16 kHz, 16-bit.
func pcm(seconds float64) []byte { return make([]byte, int(seconds*32000)) }

// TestRecovery: what becomes of a journal a page left, by who holds its lock and what
// is in it.
func TestRecovery(t *testing.T) {
	webm := fixture(t, "chromium-timeslice.webm")
	type want struct {
		sent, resumed, dropped []string
		reasons                []string // of the errors the page hears
		asked                  []string // the locks asked for, in order
		held                   bool     // the journal's lock is held once all is done (by the delivery)
	}
	for _, tc := range []struct {
		name     string
		journals []Journal
		pending  []string // in the outbox already
		other    bool     // another tab holds the lock when the recovery starts
		listErr  error
		joinErr  error
		// then runs once the recovery has done what it can; other lets go of the lock.
		then func(s *fakeStore, other func())
		want want
	}{
		{
			name:     "lock free: rebuilt and handed to the outbox once, under the lock",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1), pcm(0.5)}}},
			want:     want{sent: []string{"a"}, dropped: []string{"a"}, asked: []string{"a no-wait"}, held: true},
		},
		{
			name:     "a WebM whose last slice ends inside a cluster: rebuilt",
			journals: []Journal{{ID: "a", Head: webmHead(), Chunks: timeslices(webm[:len(webm)-100], 4)}},
			want:     want{sent: []string{"a"}, dropped: []string{"a"}, asked: []string{"a no-wait"}, held: true},
		},
		{
			name:     "already in the outbox: the journal dropped, its delivery resumed, not sent again",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			pending:  []string{"a"},
			want:     want{resumed: []string{"a"}, dropped: []string{"a"}, asked: []string{"a no-wait"}, held: true},
		},
		{
			name:     "no head: dropped and reported",
			journals: []Journal{{ID: "a", Chunks: [][]byte{pcm(1)}}},
			want:     want{dropped: []string{"a"}, reasons: []string{NoHead}, asked: []string{"a no-wait"}},
		},
		{
			name:     "no chunks: dropped and reported",
			journals: []Journal{{ID: "a", Head: wavHead()}},
			want:     want{dropped: []string{"a"}, reasons: []string{NoAudio}, asked: []string{"a no-wait"}},
		},
		{
			name:     "corrupt audio: dropped and reported",
			journals: []Journal{{ID: "a", Head: webmHead(), Chunks: [][]byte{[]byte("not a webm at all")}}},
			want:     want{dropped: []string{"a"}, reasons: []string{NoWholeAudio}, asked: []string{"a no-wait"}},
		},
		{
			name:     "a WAV of one byte: no whole sample, dropped and reported",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{{0}}}},
			want:     want{dropped: []string{"a"}, reasons: []string{NoWholeAudio}, asked: []string{"a no-wait"}},
		},
		{
			name:     "a format it does not know: dropped and reported",
			journals: []Journal{{ID: "a", Head: &Head{MIME: "audio/flac", Format: "flac"}, Chunks: [][]byte{pcm(1)}}},
			want:     want{dropped: []string{"a"}, reasons: []string{UnknownFormat + "flac"}, asked: []string{"a no-wait"}},
		},
		{
			name:     "chunks that make no file: dropped, the reason reported",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			joinErr:  errBroken,
			want:     want{dropped: []string{"a"}, reasons: []string{errBroken.Error()}, asked: []string{"a no-wait"}},
		},
		{
			name:     "lock held by a live tab writing it: left alone while it writes",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			other:    true,
			want:     want{asked: []string{"a no-wait", "a wait"}, held: true},
		},
		{
			name:     "lock held by a tab that finishes with it (journal gone): nothing to do once it lets go",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			other:    true,
			then:     func(s *fakeStore, other func()) { s.Drop("a"); other() },
			want:     want{dropped: []string{"a"}, asked: []string{"a no-wait", "a wait"}},
		},
		{
			name:     "lock held by a tab still closing (journal left): rebuilt once it lets go",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			other:    true,
			then:     func(s *fakeStore, other func()) { other() },
			want:     want{sent: []string{"a"}, dropped: []string{"a"}, asked: []string{"a no-wait", "a wait"}, held: true},
		},
		{
			name:     "a store that cannot list its journals: STORAGE_UNAVAILABLE, nothing recovered, no lock asked for",
			journals: []Journal{{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			listErr:  errBroken,
			want:     want{reasons: []string{errBroken.Error()}},
		},
		{
			name:     "a journal without an id: not one of ours, left alone",
			journals: []Journal{{ID: "", Head: wavHead(), Chunks: [][]byte{pcm(1)}}},
			want:     want{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, locks := newStore(tc.journals...), newLocks()
				store.listErr = tc.listErr
				outbox := newOutbox(store, tc.pending...)
				other := func() {}
				if tc.other {
					other, _ = locks.Lock("a", false)
					locks.asked = nil
				}
				tb := newTab(store, locks, outbox, memFiles{joinErr: tc.joinErr})
				tb.rc.Run()
				synctest.Wait()
				if tc.then != nil {
					tc.then(store, other)
					synctest.Wait()
				}
				w := tc.want
				check := func(what string, got, want []string) {
					t.Helper()
					if !slices.Equal(got, want) {
						t.Errorf("%s: %q, want %q", what, got, want)
					}
				}
				check("sent", outbox.sentIDs(), w.sent)
				check("resumed", outbox.resumed, w.resumed)
				check("journals dropped", store.droppedIDs(), w.dropped)
				check("reported", tb.reportReasons(), w.reasons)
				check("locks asked for", locks.asked, w.asked)
				if got := locks.isHeld("a"); got != w.held {
					t.Errorf("lock held at the end: %v, want %v", got, w.held)
				}
				for _, e := range tb.reports {
					switch {
					case tc.listErr != nil && e.Code != catalog.StorageUnavailable:
						t.Errorf("reported %s, want STORAGE_UNAVAILABLE", e.Code)
					case tc.listErr == nil && (e.Code != catalog.AudioProcessingFailed || e.Details["id"] != "a"):
						t.Errorf("reported %s %v, want AUDIO_PROCESSING_FAILED for a", e.Code, e.Details)
					}
				}
				if len(outbox.sent) > 0 && (!slices.Equal(tb.rebuilt, w.sent) || tb.sentSeen) {
					t.Errorf("announced %q (after the outbox had it: %v), want %q before", tb.rebuilt, tb.sentSeen, w.sent)
				}
				other() // a live tab's lock, let go at the end
				synctest.Wait()
			})
		})
	}
}

// TestTwoTabsRecoverOnce: two pages opened at once after a crash; the recording reaches
// the outbox once, and the second page, waiting for the lock, finds the journal gone.
func TestTwoTabsRecoverOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(Journal{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(2)}}), newLocks()
		outbox := newOutbox(store) // IndexedDB: shared by the tabs
		first, second := newTab(store, locks, outbox, memFiles{}), newTab(store, locks, outbox, memFiles{})
		go first.rc.Run()
		go second.rc.Run()
		synctest.Wait()
		if got := outbox.sentIDs(); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("sent %q while the first delivery holds the lock, want [a]", got)
		}
		outbox.deliver("a") // the server has it; the lock goes
		synctest.Wait()
		if got := outbox.sentIDs(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("sent %q, want [a] once", got)
		}
		if locks.isHeld("a") || len(first.reports)+len(second.reports) != 0 {
			t.Errorf("lock held %v, reports %v %v", locks.isHeld("a"), first.reports, second.reports)
		}
	})
}

// TestRebuild: the file made of a journal, and the record that goes to the outbox.
func TestRebuild(t *testing.T) {
	webm := fixture(t, "chromium-timeslice.webm")
	cut := webm[:len(webm)-100]
	whole, _ := audio.WebMCompleteLength(newFile(cut), int64(len(cut)))
	ogg := fixture(t, "seed/opus.ogg")
	oggCut := append(append([]byte(nil), ogg...), ogg[:40]...) // a last page begun, not finished
	for _, tc := range []struct {
		name     string
		j        Journal
		size     int64
		duration float64
		rate     int // of the WAV made
	}{
		{"WAV: a header written from the PCM's length", Journal{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1), pcm(0.5)}}, 44 + 48000, 1.5, 16000},
		{"WAV: an odd byte left out", Journal{ID: "a", Head: wavHead(), Chunks: [][]byte{pcm(1), {7}}}, 44 + 32000, 1, 16000},
		{"WAV: the rate the head says", Journal{ID: "a", Head: &Head{MIME: "audio/wav", Format: "wav", Rate: 8000}, Chunks: [][]byte{pcm(1)}}, 44 + 32000, 2, 8000},
		{"WAV: the PCM rate where the head does not say", Journal{ID: "a", Head: &Head{MIME: "audio/wav", Format: "wav"}, Chunks: [][]byte{pcm(1)}}, 44 + 32000, 1, 16000},
		{"WebM: cut at its last whole element", Journal{ID: "a", Head: webmHead(), Chunks: timeslices(cut, 3)}, whole, -1, 0},
		{"Ogg: cut at its last whole page", Journal{ID: "a", Head: &Head{MIME: "audio/ogg", Format: "ogg"}, Chunks: timeslices(oggCut, 3)}, int64(len(ogg)), 0.4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.j.Count = len(chunksOf(tc.j.Chunks))
			rec, problem := Rebuild(tc.j, memFiles{}, 16000)
			if problem != "" {
				t.Fatalf("problem %q", problem)
			}
			h := tc.j.Head
			if rec.ID != "a" || !rec.Recovered || rec.ContentType != h.MIME || rec.Format != h.Format || rec.Owner != h.Owner ||
				rec.Metadata != h.Metadata || rec.Created != h.Created {
				t.Errorf("record %+v does not say what the head %+v does", rec, h)
			}
			file := rec.Audio.([]byte)
			if rec.Size != tc.size || int64(len(file)) != tc.size {
				t.Errorf("size %d (file %d), want %d", rec.Size, len(file), tc.size)
			}
			if (tc.duration < 0 && rec.Duration <= 0) || (tc.duration >= 0 && rec.Duration != tc.duration) {
				t.Errorf("duration %v, want %v", rec.Duration, tc.duration)
			}
			if tc.rate > 0 {
				info, err := audio.Probe(newFile(file), int64(len(file)))
				if err != nil || info.Format != audio.WAV || int(info.SampleRate) != tc.rate {
					t.Errorf("made %+v (%v), want a WAV at %d Hz", info, err, tc.rate)
				}
			}
		})
	}
}

// jwt is a token of sub (unsigned: only its subject is read).
func jwt(sub string) string {
	return "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"`+sub+`"}`)) + ".sig"
}

// TestRecoveredOwner: a rebuilt recording is its recorder's: the outbox sends it only
// with a token of that identity (delivery.Mine), or where it cannot be told.
func TestRecoveredOwner(t *testing.T) {
	for _, tc := range []struct {
		owner, token string
		mine         bool
	}{
		{"alice", jwt("alice"), true},
		{"alice", jwt("bob"), false},
		{"", jwt("bob"), true},          // recorded before any token came: it cannot be told
		{"alice", "opaque-token", true}, // a token that is not a JWT: it cannot be told
	} {
		h := wavHead()
		h.Owner = tc.owner
		rec, problem := Rebuild(Journal{ID: "a", Head: h, Chunks: [][]byte{pcm(1)}, Count: 1}, memFiles{}, 16000)
		if problem != "" {
			t.Fatal(problem)
		}
		if got := delivery.Mine(rec.Owner, tc.token); got != tc.mine {
			t.Errorf("owner %q, token of %q: mine %v, want %v", tc.owner, delivery.Subject(tc.token), got, tc.mine)
		}
	}
}

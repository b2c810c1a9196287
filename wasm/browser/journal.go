//go:build js && wasm

package browser

import (
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/audio/wav"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/delivery"
	"github.com/vocafuse/recorder/wasm/recorder"
)

// The journal: while a take records, its audio goes to IndexedDB as it arrives (the
// MediaRecorder's one-second slices; on the WAV path, each second of encoded PCM), one
// small write per chunk through the shim's store.journal. A page that dies while
// recording loses at most the last second: the next VocaFuse on the origin rebuilds the
// file and hands it to the outbox. The chunks stay Blobs in JavaScript.

// journalSlice is the MediaRecorder's timeslice, and how much PCM makes a WAV chunk.
const (
	journalSlice    = 1000 // milliseconds
	journalPCMBytes = 2 * wavRate
)

// tape is one take's journal.
type tape struct {
	id      string
	write   safejs.Value   // the shim's append(value), once the lock is held and the head written
	early   []safejs.Value // chunks that came before that
	release func()         // the recording's lock, held while it is written: no tab rebuilds it meanwhile
	pcmSent int            // WAV path: bytes of PCM already written
	created float64        // when the recording started, ms since the epoch
	done    bool
}

// openTape starts the take's journal when its recording starts (its id is known then).
func (c *Control) openTape(t *take, id string) {
	if c.sdk.store.Type() != safejs.TypeObject {
		return
	}
	tp := &tape{id: id, created: float64(time.Now().UnixMilli())}
	t.tape = tp
	c.b.spawn(func() {
		release, _ := c.sdk.locks.Lock(id, true)
		c.loop.post(func() {
			if tp.done {
				release()
				return
			}
			tp.release = release
			write, err := c.sdk.store.Call("journal", id, c.journalHead(t))
			if err != nil || write.Type() != safejs.TypeFunction {
				return
			}
			tp.write = write
			for _, v := range tp.early {
				_, _ = write.Invoke(v)
			}
			tp.early = nil
		})
	})
}

// journalHead is what the journal keeps besides the audio: enough to rebuild the file
// and to know whose it is.
func (c *Control) journalHead(t *take) safejs.Value {
	head := map[string]any{"mimeType": t.choice.MIME, "format": recorder.FormatOfMIME(t.choice.MIME),
		"created": t.tape.created, "owner": t.owner, "metadata": c.metadata}
	if t.choice.PCM {
		head["mimeType"], head["format"], head["rate"] = "audio/wav", "wav", wavRate
	}
	v, _ := safejs.ValueOf(head)
	return v
}

// ownerKnown: the token asked for at the click has come, after the recording started:
// the take, and its journal's head, learn whose recording it is.
func (c *Control) ownerKnown(t *take, owner string) {
	if owner == "" || t.owner != "" {
		return
	}
	t.owner = owner
	if tp := t.tape; tp != nil && !tp.done && tp.write.Type() == safejs.TypeFunction {
		_, _ = c.sdk.store.Call("journalHead", tp.id, c.journalHead(t))
	}
}

// journalChunk writes one chunk of the take's audio.
func (t *take) journalChunk(chunk safejs.Value) {
	tp := t.tape
	switch {
	case tp == nil || tp.done:
	case tp.write.Type() != safejs.TypeFunction:
		tp.early = append(tp.early, chunk)
	default:
		_, _ = tp.write.Invoke(chunk)
	}
}

// journalPCM writes the encoded PCM made since the last write, a second at a time.
func (t *take) journalPCM(enc *wav.Encoder) {
	tp := t.tape
	if tp == nil || tp.done {
		return
	}
	pcm := enc.PCM()
	if len(pcm)-tp.pcmSent < journalPCMBytes {
		return
	}
	u8, err := bytesToJS(pcm[tp.pcmSent:])
	if err != nil {
		return
	}
	parts, _ := safejs.ValueOf([]any{safejs.Unsafe(u8)})
	if blob, err := newBlob(parts, "application/octet-stream"); err == nil {
		tp.pcmSent = len(pcm)
		t.journalChunk(blob)
	}
}

// handOver ends the take's journal writing as its recording enters the outbox: the lock
// passes to the delivery, and the journal goes once the outbox has the recording on disk
// (the courier's Kept).
func (t *take) handOver() (lock func()) {
	if t == nil || t.tape == nil || t.tape.done {
		return nil
	}
	t.tape.done = true
	return t.tape.release
}

// dropTape removes the take's journal (cancelled, failed, or kept by the page itself)
// and then gives back its lock.
func (c *Control) dropTape(t *take) {
	if t == nil || t.tape == nil || t.tape.done {
		return
	}
	tp := t.tape
	tp.done = true
	c.b.spawn(func() {
		if p, err := c.sdk.store.Call("dropJournal", tp.id); err == nil {
			_, _ = c.b.await(p)
		}
		if tp.release != nil {
			tp.release()
		}
	})
}

// ---- Recovery: the journals of pages that died while recording ----

// recoverJournals rebuilds every journal no live tab is writing (those hold its lock)
// and hands each to the outbox as a recovered recording.
func (s *SDK) recoverJournals() {
	for _, id := range s.journalIDs() {
		release, ok := s.locks.Lock(id, false)
		if ok {
			s.recoverJournal(id, release)
			continue
		}
		// Being written by a live tab, rebuilt by another, or held by a tab still closing
		// (a page reopened at once): wait for its lock. The others let go of it with the
		// journal gone; a closing page lets go with the journal left to rebuild.
		s.b.spawn(func() {
			if release, ok := s.locks.Lock(id, true); ok {
				s.recoverJournal(id, release)
			}
		})
	}
}

func (s *SDK) journalIDs() []string {
	list := s.journals()
	ids := make([]string, 0, len(list))
	for _, j := range list {
		if id, _ := stringProp(j, "id"); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *SDK) journals() []safejs.Value {
	p, err := s.store.Call("journals")
	if err != nil {
		return nil
	}
	v, err := s.b.await(p)
	if err != nil {
		return nil
	}
	n, _ := v.Length()
	out := make([]safejs.Value, 0, n)
	for i := 0; i < n; i++ {
		if j, err := v.Index(i); err == nil {
			out = append(out, j)
		}
	}
	return out
}

// recoverJournal rebuilds one journal under its lock, which passes to the delivery.
func (s *SDK) recoverJournal(id string, release func()) {
	// Read again under the lock: the tab that held it may have finished with it.
	var j safejs.Value
	for _, candidate := range s.journals() {
		if cid, _ := stringProp(candidate, "id"); cid == id {
			j = candidate
		}
	}
	dropJournal := func() {
		if p, err := s.store.Call("dropJournal", id); err == nil {
			_, _ = s.b.await(p)
		}
	}
	if j.Type() != safejs.TypeObject {
		release()
		return
	}
	if s.courier.Pending(id) {
		// Its recording reached the outbox before the page died. This load's first
		// Retry found the lock taken (here) and left it: its delivery starts here.
		dropJournal()
		s.courier.Resume(id, release)
		return
	}
	rec, problem := s.rebuild(id, j)
	if problem != "" {
		dropJournal()
		release()
		s.emit("error", errorValue(catalog.Newf(catalog.AudioProcessingFailed, map[string]any{"id": id, "reason": problem},
			time.Now(), "a recording interrupted while it was made could not be rebuilt: %s", problem)))
		return
	}
	s.recovering.Store(id, rec) // announced once in the outbox (the courier's Kept)
	s.courier.SendHeld(rec, nil, nil, release)
}

// rebuild makes a valid file of a journal's chunks: a WebM with its duration written, an
// Ogg cut at its last whole page, a WAV with its header written from the PCM's length.
// problem says why it cannot be (no complete audio in it).
func (s *SDK) rebuild(id string, j safejs.Value) (rec *delivery.Record, problem string) {
	head, _ := j.Get("head")
	if head.Type() != safejs.TypeObject {
		return nil, "the journal has no head"
	}
	chunks, _ := j.Get("chunks")
	if n, _ := chunks.Length(); n == 0 {
		return nil, "no audio was saved before the page stopped"
	}
	mime, _ := stringProp(head, "mimeType")
	format, _ := stringProp(head, "format")
	blob, err := newBlob(chunks, mime)
	if err != nil {
		return nil, err.Error()
	}
	var duration float64
	switch format {
	case "webm", "ogg":
		// Cut at the last whole element or page: the browser's last slice may end
		// inside one. The WebM then gets its duration written.
		r, err := newBlobReader(s.b, blob)
		if err != nil {
			return nil, err.Error()
		}
		complete := audio.WebMCompleteLength
		if format == "ogg" {
			complete = audio.OggCompleteLength
		}
		whole, _ := complete(r, r.size)
		if blob, err = blob.Call("slice", 0, whole, mime); err != nil {
			return nil, jsError(err).Error()
		}
		blob, duration = inspectRecording(s.b, blob, mime)
	case "wav":
		size, _ := getNumber(blob, "size")
		rate := wavRate
		if v, _ := head.Get("rate"); v.Type() == safejs.TypeNumber {
			rate, _ = v.Int()
		}
		pcm := int(size) &^ 1
		u8, err := bytesToJS(wav.Header(rate, pcm))
		if err != nil {
			return nil, err.Error()
		}
		body, _ := blob.Call("slice", 0, pcm)
		parts, _ := safejs.ValueOf([]any{safejs.Unsafe(u8), safejs.Unsafe(body)})
		if blob, err = newBlob(parts, "audio/wav"); err != nil {
			return nil, err.Error()
		}
		_, duration = inspectRecording(s.b, blob, "audio/wav")
	default:
		return nil, "the journal's format is unknown: " + format
	}
	if duration <= 0 {
		return nil, "no complete audio was saved before the page stopped"
	}
	size, _ := getNumber(blob, "size")
	owner, _ := stringProp(head, "owner")
	metadata, _ := stringProp(head, "metadata")
	created, _ := getNumber(head, "created")
	return &delivery.Record{ID: id, Audio: blob, ContentType: mime, Format: format, Duration: duration,
		Size: int64(size), Metadata: metadata, Created: int64(created), Owner: owner, Recovered: true}, ""
}

func getNumber(v safejs.Value, name string) (float64, error) {
	p, err := v.Get(name)
	if err != nil {
		return 0, err
	}
	return p.Float()
}

// emit hands an SDK-level event to the shim: recovered, uploaded, error.
func (s *SDK) emit(kind string, values ...any) { tellShim(s.events, kind, values...) }

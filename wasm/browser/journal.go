//go:build js && wasm

package browser

import (
	"errors"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/audio/wav"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/journal"
)

// The journal (package journal decides; this carries it out): while a take records, its
// audio goes to IndexedDB as it arrives (the MediaRecorder's one-second slices; on the
// WAV path, each second of encoded PCM), one small write per chunk through the shim's
// store.journal. The chunks stay Blobs in JavaScript.

// journalSlice is the MediaRecorder's timeslice, in milliseconds.
const journalSlice = 1000

// openTape starts the take's journal when its recording starts (its id is known then).
func (c *Control) openTape(t *take, id string) {
	if c.sdk.store.Type() != safejs.TypeObject {
		return // no store to write it to
	}
	pcmRate := 0
	if t.choice.PCM {
		pcmRate = wavRate
	}
	tp := journal.NewTape(id, journal.NewHead(t.choice.MIME, pcmRate, time.Now().UnixMilli(), t.owner, c.metadata))
	t.tape = tp
	c.b.spawn(func() { tp.Run(c.sdk.locks, c.loop.post, c.journalDisk()) })
}

func (c *Control) journalDisk() *journalDisk { return &journalDisk{b: c.b, store: c.sdk.store} }

// ownerKnown: the token asked for at the click has come, after the recording started:
// the take, and its journal's head, learn whose recording it is.
func (c *Control) ownerKnown(t *take, owner string) {
	if !journal.FirstOwner(t.owner, owner) {
		return
	}
	t.owner = owner
	t.tape.Owned(owner, c.journalDisk())
}

// journalChunk writes one chunk of the take's audio.
func (t *take) journalChunk(chunk safejs.Value) { t.tape.Chunk(chunk) }

// journalPCM moves the encoded PCM out of the wasm a second at a time: each chunk is
// written to the journal and answered (ok) for the file to be joined from at its end.
func (t *take) journalPCM(enc *wav.Encoder) (chunk safejs.Value, ok bool) {
	c := t.tape.PCM(enc.PCM(), journal.PCMChunkBytes(wavRate), pcmChunk)
	if c == nil {
		return chunk, false
	}
	enc.Clear() // the chunk holds its copy
	return c.(safejs.Value), true
}

// pcmChunk is a Blob of encoded PCM, as the journal keeps it.
func pcmChunk(pcm []byte) (any, error) {
	u8, err := bytesToJS(pcm)
	if err != nil {
		return nil, err
	}
	parts, err := safejs.ValueOf([]any{safejs.Unsafe(u8)})
	if err != nil {
		return nil, err
	}
	return newBlob(parts, "application/octet-stream")
}

// handOver ends the take's journal writing as its recording enters the outbox: the lock
// passes to the delivery.
func (t *take) handOver() (lock func()) {
	if t == nil {
		return nil
	}
	return t.tape.HandOver()
}

// dropTape removes the take's journal (cancelled, failed, or kept by the page itself)
// and then gives back its lock.
func (c *Control) dropTape(t *take) {
	if t == nil {
		return
	}
	if drop := t.tape.Drop(c.journalDisk()); drop != nil {
		c.b.spawn(drop)
	}
}

// recoverJournals rebuilds the journals of pages that died while recording and hands
// each to the outbox as a recovered recording.
func (s *SDK) recoverJournals() {
	rc := journal.Recovery{
		Store:   &journalDisk{b: s.b, store: s.store},
		Locks:   s.locks,
		Outbox:  s.courier,
		Files:   &blobFiles{b: s.b},
		Go:      s.b.spawn,
		Now:     time.Now,
		Report:  func(e *catalog.Error) { s.emit("error", errorValue(e)) },
		Rebuilt: s.keepRecovering, // announced once in the outbox (the courier's Kept)
		PCMRate: wavRate,
	}
	rc.Run()
}

// journalDisk is the shim's store as the journal's Disk and Store. Its journal functions
// never throw or reject: the shim logs a failed write itself.
type journalDisk struct {
	b     boundary
	store safejs.Value
}

func (d *journalDisk) Start(id string, h journal.Head) (func(chunk any), error) {
	head, err := headJS(h)
	if err != nil {
		return nil, err
	}
	write, err := d.store.Call("journal", id, head)
	if err != nil {
		return nil, jsError(err)
	}
	if write.Type() != safejs.TypeFunction {
		return nil, errors.New("the store's journal answered no function")
	}
	return func(chunk any) {
		_, _ = write.Invoke(chunk) // the shim's append queues the write and never throws
	}, nil
}

func (d *journalDisk) Rewrite(id string, h journal.Head) {
	head, err := headJS(h)
	if err != nil {
		return // the head written at the start stands: the recording is recovered as no one's
	}
	_, _ = d.store.Call("journalHead", id, head) // never throws; its promise never rejects
}

func (d *journalDisk) Drop(id string) {
	p, err := d.store.Call("dropJournal", id)
	if err != nil {
		return // never throws; a journal left behind is met again by the next recovery
	}
	_, _ = d.b.await(p) // never rejects: only its end is waited for
}

// headJS is a journal's head as the store keeps it.
func headJS(h journal.Head) (safejs.Value, error) {
	head := map[string]any{"mimeType": h.MIME, "format": h.Format, "created": float64(h.Created),
		"owner": h.Owner, "metadata": h.Metadata}
	if h.Rate != 0 {
		head["rate"] = h.Rate
	}
	return safejs.ValueOf(head)
}

// Journals reads the shim's [{ id, head, chunks }].
func (d *journalDisk) Journals() ([]journal.Journal, error) {
	p, err := d.store.Call("journals")
	if err != nil {
		return nil, jsError(err)
	}
	list, err := d.b.await(p)
	if err != nil {
		return nil, err
	}
	n, err := list.Length()
	if err != nil {
		return nil, err
	}
	out := make([]journal.Journal, n)
	for i := range out {
		v, _ := list.Index(i) // an array's index within its length cannot throw
		out[i] = journalFromJS(v)
	}
	return out, nil
}

// journalFromJS reads one of the shim's journals: plain data from IndexedDB, whose
// properties have no getters to throw (a missing one reads as "" or 0).
func journalFromJS(j safejs.Value) journal.Journal {
	out := journal.Journal{ID: propString(j, "id")}
	if head := prop(j, "head"); head.Type() == safejs.TypeObject {
		out.Head = &journal.Head{
			Rate: int(propNumber(head, "rate")), Created: int64(propNumber(head, "created")),
			MIME: propString(head, "mimeType"), Format: propString(head, "format"),
			Owner: propString(head, "owner"), Metadata: propString(head, "metadata"),
		}
	}
	chunks := prop(j, "chunks")
	out.Chunks = chunks
	if chunks.Type() == safejs.TypeObject {
		out.Count = safejs.Unsafe(chunks).Length() // an array's length cannot throw
	}
	return out
}

// blobFiles makes a journal's files: Blobs, read through blobReader. Every File it is
// handed is one it made, a *blobReader.
type blobFiles struct{ b boundary }

// A blobReader is a journal's File.
func (r *blobReader) Size() int64 { return r.size }
func (r *blobReader) Blob() any   { return r.blob }

func (fs *blobFiles) file(blob safejs.Value, err error) (journal.File, error) {
	if err != nil {
		return nil, err
	}
	return newBlobReader(fs.b, blob)
}

func (fs *blobFiles) Join(chunks any, mime string) (journal.File, error) {
	parts, _ := chunks.(safejs.Value) // not a Value: the zero one makes the Blob constructor throw, and that error is returned
	return fs.file(newBlob(parts, mime))
}

func (fs *blobFiles) Make(header []byte, f journal.File, n int64, mime string) (journal.File, error) {
	body, err := f.(*blobReader).blob.Call("slice", 0, n, mime)
	if err != nil {
		return nil, jsError(err)
	}
	if len(header) > 0 {
		body, err = spliceBlob(header, body, 0, mime)
	}
	return fs.file(body, err)
}

func (fs *blobFiles) Inspect(f journal.File, mime string) (journal.File, float64) {
	blob := f.(*blobReader).blob
	inspected, duration := inspectRecording(fs.b, blob, mime)
	if inspected.Equal(blob) {
		return f, duration
	}
	repaired, err := fs.file(inspected, nil)
	if err != nil {
		return f, duration // a repaired Blob without a size: the file as it came plays all the same
	}
	return repaired, duration
}

// emit hands an SDK-level event to the shim: recovered, uploaded, error.
func (s *SDK) emit(kind string, values ...any) { tellShim(s.events, kind, values...) }

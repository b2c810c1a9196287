package journal

import (
	"io"
	"time"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/audio/wav"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/delivery"
)

// Journal is one journal as the disk holds it.
type Journal struct {
	ID     string
	Head   *Head     // nil: the page died before its head was written
	Chunks any       // the audio, in order: opaque here (in the browser, an array of Blobs)
	Count  int       // how many chunks
	_      [0]func() // not comparable: the wasm needs no equality function for it
}

// Store is the journals on disk, as a recovery reads them.
type Store interface {
	// Journals lists the journals on disk that no one in this page is writing.
	Journals() ([]Journal, error)
	// Drop removes journal id and answers once it is gone.
	Drop(id string)
}

// File is a recording's file: in the browser a Blob, read through ReadAt one slice at a
// time, never copied whole into Go.
type File interface {
	io.ReaderAt
	Size() int64
	Blob() any // what the outbox keeps (delivery.Record.Audio)
}

// Files makes files of a journal's chunks.
type Files interface {
	// Join makes one file of chunks, typed mime.
	Join(chunks any, mime string) (File, error)
	// Make is a file of header (if any) followed by f's first n bytes, typed mime.
	Make(header []byte, f File, n int64, mime string) (File, error)
	// Inspect writes a WebM's duration into it where MediaRecorder left none and answers
	// the duration the container states (0 when it cannot be read).
	Inspect(f File, mime string) (File, float64)
}

// Outbox is the courier: a rebuilt recording is delivered from there.
type Outbox interface {
	Pending(id string) bool
	Resume(id string, held func())
	SendHeld(r *delivery.Record, w delivery.Watcher, progress any, held func())
}

// Recovery rebuilds every journal no live tab is writing and hands each to the outbox as
// a recovered recording, at an SDK instance's start.
type Recovery struct {
	Store  Store
	Locks  delivery.Locks
	Outbox Outbox
	Files  Files
	Go     func(fn func())      // runs fn on a goroutine of its own
	Now    func() time.Time     // the errors' time
	Report func(*catalog.Error) // what the page hears: a journal that could not be rebuilt, a disk that cannot be read
	// Rebuilt is told of a rebuilt recording before the outbox has it: the page hears of
	// it once it is kept (the courier's Kept).
	Rebuilt func(*delivery.Record)
	PCMRate int // a WAV journal's sample rate where its head does not say
}

// Run recovers the journals on disk: each whose lock is free now, then each of the
// others once its lock is (on goroutines of their own, so Run does not wait for them).
// A journal's lock is held by a live tab writing it, by another tab rebuilding it, or by
// a tab still closing (a page reopened at once); the first two let go of it with the
// journal gone, the last with the journal left to rebuild.
func (rc *Recovery) Run() {
	list, err := rc.Store.Journals()
	if err != nil { // what the disk holds is unknown: the page hears so, not "nothing"
		rc.Report(catalog.Newf(catalog.StorageUnavailable, map[string]any{"reason": err.Error()}, rc.Now(),
			"the outbox could not be read, recordings are kept in memory only: %v", err))
		return
	}
	for _, j := range list {
		id := j.ID
		if id == "" {
			continue // not a journal this SDK wrote
		}
		if release, ok := rc.Locks.Lock(id, false); ok {
			rc.recover(id, release)
			continue
		}
		rc.Go(func() {
			if release, ok := rc.Locks.Lock(id, true); ok {
				rc.recover(id, release)
			}
		})
	}
}

// recover rebuilds one journal under its lock, which passes to the delivery.
func (rc *Recovery) recover(id string, release func()) {
	// Read again under the lock: the tab that held it may have finished with it. A store
	// that cannot list its journals any more leaves it to the next load.
	list, err := rc.Store.Journals()
	i := 0
	for err == nil && i < len(list) && list[i].ID != id {
		i++
	}
	if err != nil || i == len(list) {
		release()
		return
	}
	j := list[i]
	if rc.Outbox.Pending(id) {
		// Its recording reached the outbox before the page died. This load's first
		// Retry found the lock taken (here) and left it: its delivery starts here.
		rc.Store.Drop(id)
		rc.Outbox.Resume(id, release)
		return
	}
	rec, problem := Rebuild(j, rc.Files, rc.PCMRate)
	if problem != "" {
		rc.Store.Drop(id)
		release()
		rc.Report(catalog.Newf(catalog.AudioProcessingFailed, map[string]any{"id": id, "reason": problem},
			rc.Now(), "a recording interrupted while it was made could not be rebuilt: %s", problem))
		return
	}
	rc.Rebuilt(rec)
	rc.Outbox.SendHeld(rec, nil, nil, release)
}

// Problems: why a journal cannot be rebuilt (no complete audio in it).
const (
	NoHead        = "the journal has no head"
	NoAudio       = "no audio was saved before the page stopped"
	NoWholeAudio  = "no complete audio was saved before the page stopped"
	UnknownFormat = "the journal's format is unknown: "
)

// Rebuild makes a valid file of a journal's chunks: a WebM with its duration written, an
// Ogg cut at its last whole page, a WAV with its header written from the PCM's length.
// problem says why it cannot be; rate is a WAV's sample rate where the head does not say.
func Rebuild(j Journal, files Files, rate int) (rec *delivery.Record, problem string) {
	h := j.Head
	if h == nil {
		return nil, NoHead
	}
	if j.Count == 0 {
		return nil, NoAudio
	}
	f, err := files.Join(j.Chunks, h.MIME)
	if err != nil {
		return nil, err.Error()
	}
	// Cut a WebM or an Ogg at its last whole element or page: the browser's last slice
	// may end inside one. A WAV gets its header, from the PCM's length.
	var header []byte
	keep, mime := int64(0), h.MIME
	switch h.Format {
	case "webm":
		keep, _ = audio.WebMCompleteLength(f, f.Size()) // an error answers the length up to it: what is whole
	case "ogg":
		keep, _ = audio.OggCompleteLength(f, f.Size()) // as for a WebM
	case "wav":
		if h.Rate > 0 {
			rate = h.Rate
		}
		keep, mime = f.Size()&^1, "audio/wav" // whole 16-bit samples
		header = wav.Header(rate, int(keep))
	default:
		return nil, UnknownFormat + h.Format
	}
	if f, err = files.Make(header, f, keep, mime); err != nil {
		return nil, err.Error()
	}
	f, duration := files.Inspect(f, mime) // a WebM gets its duration written
	if duration <= 0 {
		return nil, NoWholeAudio
	}
	return &delivery.Record{ID: j.ID, Audio: f.Blob(), ContentType: h.MIME, Format: h.Format, Duration: duration,
		Size: f.Size(), Metadata: h.Metadata, Created: h.Created, Owner: h.Owner, Recovered: true}, ""
}

// Package journal decides what becomes of a recording's journal: while a take records,
// its audio goes to disk as it arrives, one small write per chunk, so that a page that
// dies while recording loses at most the last chunk; the next SDK instance on the origin
// rebuilds the file and hands it to the outbox. The glue (package browser) carries the
// decisions out through the interfaces here: the chunks and the files stay Blobs in
// JavaScript, opaque to this package, which reads only the bytes a parser asks for.
package journal

import (
	"github.com/vocafuse/recorder/wasm/delivery"
	"github.com/vocafuse/recorder/wasm/recorder"
)

// Head is what a journal keeps besides the audio: enough to rebuild the file and to know
// whose recording it is.
type Head struct {
	MIME     string    // the file's MIME type
	Format   string    // webm, ogg or wav
	Rate     int       // a WAV journal's sample rate; 0 where the head does not say
	Created  int64     // when the recording started, milliseconds since the Unix epoch
	Owner    string    // the identity it is recorded under (the token's sub), "" if unknown
	Metadata string    // the page's JSON object for the voice note's metadata, or ""
	_        [0]func() // not comparable: the wasm needs no equality function for it
}

// NewHead is the head of a take recorded as mime, or, where pcmRate is set, as PCM at
// that rate (a WAV file whatever mime says).
func NewHead(mime string, pcmRate int, created int64, owner, metadata string) Head {
	h := Head{MIME: mime, Format: recorder.FormatOfMIME(mime), Created: created, Owner: owner, Metadata: metadata}
	if pcmRate > 0 {
		h.MIME, h.Format, h.Rate = "audio/wav", "wav", pcmRate
	}
	return h
}

// Disk is where a take's journal is written: the shim's store in IndexedDB.
type Disk interface {
	// Start writes the journal's head and answers the function that appends a chunk.
	Start(id string, head Head) (appendChunk func(chunk any), err error)
	// Rewrite writes the head again.
	Rewrite(id string, head Head)
	// Drop removes the journal and answers once it is gone.
	Drop(id string)
}

// Tape is one take's journal. Its methods run on the take's loop, one at a time; only
// Run waits, on a goroutine of its own.
type Tape struct {
	id      string
	head    Head
	write   func(chunk any) // set once the lock is held and the head written
	early   []any           // chunks that came before that
	release func()          // the recording's lock, held while it is written: no tab rebuilds it meanwhile
	done    bool            // handed over or dropped: nothing more is written
}

// NewTape starts the journal of recording id when its recording starts.
func NewTape(id string, head Head) *Tape { return &Tape{id: id, head: head} }

// Run waits for the recording's lock, then, on the take's loop (post), writes the head.
// It waits rather than give up: the lock is free unless this very recording's journal is
// being recovered elsewhere, which lets go once it is done. Without locks (ok false) the
// journal is written all the same: losing the audio would be worse than a rebuild racing
// this page.
func (tp *Tape) Run(locks delivery.Locks, post func(func()), disk Disk) {
	release, _ := locks.Lock(tp.id, true) // ok false: written without a lock, as said above
	post(func() {
		if tp.done {
			release() // handed over or dropped meanwhile: the journal is not started
			return
		}
		tp.release = release
		write, err := disk.Start(tp.id, tp.head)
		if err != nil {
			return // no journal: the chunks wait in early, as if the lock had not come
		}
		tp.write = write
		for _, c := range tp.early {
			write(c)
		}
		tp.early = nil
	})
}

// Chunk writes one chunk of the take's audio, or keeps it until the head is written.
func (tp *Tape) Chunk(chunk any) {
	switch {
	case tp == nil || tp.done:
	case tp.write == nil:
		tp.early = append(tp.early, chunk)
	default:
		tp.write(chunk)
	}
}

// PCMChunkBytes is how much encoded PCM makes a chunk of a PCM take: a second of it.
func PCMChunkBytes(rate int) int { return 2 * rate }

// PCM makes a chunk of pcm, the encoded PCM made since the last chunk, once there is a
// chunk of it (chunkBytes), and writes it. It answers the chunk, which the file is joined
// from at the end, so the audio leaves the wasm once; nil when there is none yet, the
// caller then keeping pcm. A tape that writes nothing (none, or handed over) still makes it.
func (tp *Tape) PCM(pcm []byte, chunkBytes int, chunk func(b []byte) (any, error)) any {
	if len(pcm) < chunkBytes {
		return nil
	}
	c, err := chunk(pcm)
	if err != nil {
		return nil // the same bytes go with the next chunk
	}
	tp.Chunk(c)
	return c
}

// Owned: the take's owner has come (the token asked for at the click arrived after the
// recording started); the head says so from now on.
func (tp *Tape) Owned(owner string, disk Disk) {
	if tp == nil || tp.done {
		return
	}
	tp.head.Owner = owner
	if tp.write != nil {
		disk.Rewrite(tp.id, tp.head)
	} // otherwise Start writes the head with it
}

// FirstOwner: owner is news for a take whose owner is known, the first identity heard.
// A later one (the page's token changed) does not make the recording another's.
func FirstOwner(known, heard string) bool { return heard != "" && known == "" }

// HandOver ends the journal's writing as the recording enters the outbox: the lock
// passes to the delivery (nil: not held yet; the delivery waits for it), and the journal
// goes once the outbox has the recording on disk (the courier's Kept).
func (tp *Tape) HandOver() (lock func()) {
	if tp == nil || tp.done {
		return nil
	}
	tp.done = true
	return tp.release
}

// Drop ends the journal without a delivery (cancelled, failed, or kept by the page
// itself). It answers what removes it and then gives back the lock, to run off the loop
// since it waits for the disk; nil when there is nothing to do.
func (tp *Tape) Drop(disk Disk) func() {
	if tp == nil || tp.done {
		return nil
	}
	tp.done = true
	release := tp.release // nil: the lock has not come; locked gives it back
	return func() {
		disk.Drop(tp.id)
		if release != nil {
			release()
		}
	}
}

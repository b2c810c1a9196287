//go:build js && wasm

package browser

import (
	"time"

	"github.com/google/uuid"
	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/internal/validate"
	"github.com/vocafuse/recorder/wasm/delivery"
)

// upload(options, file) answers a Promise of the stored voice note (sdk.upload). The
// file's bytes are checked first: its container, size and duration are read from the
// Blob (only the bytes the parsers ask for), and a file the API would refuse is refused
// here with the catalogue's error, before any request. Then it goes the way every
// recording goes, through the courier, except that it is not kept in the outbox: the
// page has the file and hears the outcome.
func (s *SDK) upload(args []safejs.Value) (any, error) {
	if len(args) < 2 || args[1].Type() != safejs.TypeObject {
		return nil, invalidOption("file", "must be a Blob or File")
	}
	opts, blob := args[0], args[1]
	id, metadata, progress := propString(opts, "id"), propString(opts, "metadata"), prop(opts, "onProgress")
	if id == "" {
		id = newID()
	} else if _, err := uuid.Parse(id); err != nil { // the shim checks it; the URL depends on it
		return nil, invalidOption("id", "must be a UUID")
	}
	return s.promise(func() (any, error) {
		r, err := newBlobReader(s.b, blob)
		if err != nil {
			return nil, invalidOption("file", "must be a Blob or File")
		}
		if p := validate.Size(r.size); p != nil {
			return nil, problemError(p)
		}
		info, err := audio.Probe(r, r.size)
		if p := validate.Audio(info, err); p != nil {
			return nil, problemError(p)
		}
		outcome := make(chan promiseOutcome, 1)
		s.courier.Upload(&delivery.Record{
			ID: id, Audio: blob, ContentType: "audio/" + string(info.Format), Format: string(info.Format),
			Duration: info.Duration, Size: r.size, Metadata: metadata, Created: time.Now().UnixMilli(),
		}, promiseWatcher{outcome, id}, progress)
		o := <-outcome
		return o.value, o.err
	})
}

type promiseOutcome struct {
	value any
	err   error
}

// promiseWatcher settles sdk.upload's promise with the delivery's outcome; warnings
// while it goes on are not the promise's to report.
type promiseWatcher struct {
	settle chan promiseOutcome
	id     string
}

func (w promiseWatcher) Heard(err *catalog.Error, final bool) {
	if final {
		w.settle <- promiseOutcome{err: err}
	}
}

func (w promiseWatcher) Delivered(resource any) {
	w.settle <- promiseOutcome{value: noteJS(resource, w.id)}
}

// problemError is the SDK's error for a refusal: the code the page sees (2006 arrives
// as DURATION_EXCEEDED) with the API's details.
func problemError(p *validate.Problem) *catalog.Error {
	entry, _ := catalog.Lookup(p.Code) // validate's codes are the catalogue's own
	return catalog.Newf(catalog.ClientCodeFor(entry.APICode), p.Details, time.Now(), "%s: %s", entry.Message, p.Reason)
}

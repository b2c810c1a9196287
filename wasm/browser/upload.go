//go:build js && wasm

package browser

import (
	"context"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/audio"
	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/upload"
	"github.com/vocafuse/recorder/wasm/validate"
)

// uploadFile(options, file) answers a Promise of the stored voice note (sdk.upload).
// The file's bytes are checked first: its container, size and duration are read from
// the Blob (only the bytes the parsers ask for), and a file the API would refuse is
// refused here with the catalogue's error, before any request.
func uploadFile(args []safejs.Value) (any, error) {
	if len(args) < 2 || args[1].Type() != safejs.TypeObject {
		return nil, invalidOption("file", "must be a Blob or File")
	}
	opts, blob := args[0], args[1]
	id, _ := stringProp(opts, "id")
	if id == "" {
		id = newID()
	}
	metadata, _ := stringProp(opts, "metadata")
	onProgress, _ := opts.Get("onProgress")
	sdk, _ := opts.Get("sdk")
	sdkID, _ := sdk.Int()
	api, _ := opts.Get("api")
	client := clientFor(sdkID, api)
	return newPromise(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		r, err := newBlobReader(ctx, blob)
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
		req := upload.Request{ID: id, ContentType: "audio/" + string(info.Format), Size: r.size, Metadata: metadata}
		progress := func(sent, total int64) {
			if onProgress.Type() == safejs.TypeFunction {
				percent := 0.0
				if total > 0 {
					percent = float64(sent) * 100 / float64(total)
				}
				p, _ := safejs.ValueOf(map[string]any{"loaded": sent, "total": total, "percent": percent})
				_, _ = onProgress.Invoke(p)
			}
		}
		resource, uerr := client.send(ctx, blob, req, progress, func(*catalog.Error) {})
		if uerr != nil {
			return nil, uerr
		}
		return resource, nil
	})
}

// problemError is the SDK's error for a refusal: the code the page sees (2006 arrives
// as DURATION_EXCEEDED) with the API's details.
func problemError(p *validate.Problem) *catalog.Error {
	entry, _ := catalog.Lookup(p.Code)
	return catalog.Newf(catalog.ClientCodeFor(entry.APICode), p.Details, time.Now(), "%s: %s", entry.Message, p.Reason)
}

// newPromise answers a JavaScript Promise settled by run on a goroutine of its own. A
// panic in run rejects the promise with INTERNAL_ERROR.
func newPromise(run func() (any, error)) (safejs.Value, error) {
	executor, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if p := recover(); p != nil {
					_, _ = reject.Invoke(errorValue(catalog.Newf(catalog.InternalError, nil, time.Now(), "panic: %v", p)))
				}
			}()
			value, err := run()
			if err != nil {
				_, _ = reject.Invoke(errorValue(err))
				return
			}
			v, convErr := safejs.ValueOf(toJS(value))
			if convErr != nil {
				_, _ = reject.Invoke(errorValue(convErr))
				return
			}
			_, _ = resolve.Invoke(v)
		}()
		return nil
	})
	if err != nil {
		return safejs.Undefined(), err
	}
	defer executor.Release() // the executor runs inside the constructor
	ctor, _ := safejs.Global().Get("Promise")
	return ctor.New(executor)
}

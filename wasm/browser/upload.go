//go:build js && wasm

package browser

import (
	"context"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/audio"
	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/validate"
)

// inspectUpload(blob) answers a Promise of what sdk.upload needs to know of a file
// before sending it: its format, codec and duration, read from its bytes. It rejects
// with the catalogue's error when the API would refuse the file, so nothing is sent.
// Only the bytes the parsers ask for are read from the Blob.
func inspectUpload(args []safejs.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != safejs.TypeObject {
		return nil, invalidOption("file", "must be a Blob or File")
	}
	blob := args[0]
	return newPromise(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
		return map[string]any{
			"format": string(info.Format), "codec": info.Codec, "duration": info.Duration,
			"sampleRate": info.SampleRate, "channels": info.Channels, "size": r.size,
		}, nil
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

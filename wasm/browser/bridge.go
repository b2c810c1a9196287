//go:build js && wasm

package browser

import (
	"fmt"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/recorder"
)

// The bridge is the object the shim talks to. Every function on it answers
// { value } or { error: <catalogue error fields> } and never throws, and a panic in Go
// code behind it becomes an INTERNAL_ERROR answer instead of ending the program.

// export wraps fn as a JavaScript function with that contract.
func export(name string, fn func(args []safejs.Value) (any, error)) (safejs.Func, error) {
	return safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) (answer any) {
		defer func() {
			if p := recover(); p != nil {
				answer = errorAnswer(catalog.Newf(catalog.InternalError, nil, time.Now(), "%s panicked: %v", name, p))
			}
		}()
		value, err := fn(args)
		if err != nil {
			return errorAnswer(err)
		}
		// Converted here, inside the recover, because js.FuncOf's own conversion of a
		// result would panic outside it.
		v, err := safejs.ValueOf(map[string]any{"value": toJS(value)})
		if err != nil {
			return errorAnswer(catalog.Newf(catalog.InternalError, nil, time.Now(), "%s: %v", name, err))
		}
		return v
	})
}

func errorAnswer(err error) safejs.Value {
	v, _ := safejs.ValueOf(map[string]any{"error": safejs.Unsafe(errorValue(err))})
	return v
}

// errorValue is the plain object of an error's fields that the shim makes a VocaFuseError of.
func errorValue(err error) safejs.Value {
	ce, ok := err.(*catalog.Error)
	if !ok {
		ce = catalog.Newf(catalog.InternalError, nil, time.Now(), "%v", err)
	}
	v, convErr := safejs.ValueOf(toJS(ce.Fields()))
	if convErr != nil {
		v, _ = safejs.ValueOf(map[string]any{"code": string(catalog.InternalError), "message": ce.Error()})
	}
	return v
}

// Bridge builds the object handed to the shim.
func Bridge() (safejs.Value, error) {
	obj, err := safejs.ValueOf(map[string]any{})
	if err != nil {
		return obj, err
	}
	// The bridge lives as long as the page; its functions are never released.
	for name, fn := range map[string]func([]safejs.Value) (any, error){
		"createControl": createControl,
		"upload":        uploadFile,
	} {
		f, err := export(name, fn)
		if err != nil {
			return obj, err
		}
		if err := obj.Set(name, f); err != nil {
			return obj, err
		}
	}
	return obj, nil
}

// createControl(options, onEvent) makes the Go side of addVoiceNote and answers an object
// with toggle, start, stop, cancel and destroy. The shim has already validated the
// options; they are checked again here so that Go never trusts what crosses the bridge.
func createControl(args []safejs.Value) (any, error) {
	if len(args) < 2 || args[1].Type() != safejs.TypeFunction {
		return nil, invalidOption("onEvent", "a function is required")
	}
	limit, formats, err := controlOptions(args[0])
	if err != nil {
		return nil, err
	}
	workletURL, _ := stringProp(args[0], "workletUrl")
	metadata, _ := stringProp(args[0], "metadata")
	var client *Client
	if auto, _ := args[0].Get("autoUpload"); auto.Type() != safejs.TypeBoolean || mustBool(auto) {
		id, _ := args[0].Get("sdk")
		n, _ := id.Int()
		api, _ := args[0].Get("api")
		client = clientFor(n, api)
	}
	outbox, _ := args[0].Get("outbox")
	c := NewControl(limit, formats, workletURL, client, metadata, outbox, args[1])
	handle := map[string]any{}
	for name, cmd := range map[string]func(){
		"toggle": c.Toggle, "start": c.Start, "stop": c.Stop, "cancel": c.Cancel, "destroy": c.Destroy,
	} {
		fn, err := export(name, func([]safejs.Value) (any, error) {
			cmd()
			return nil, nil
		})
		if err != nil {
			return nil, err
		}
		handle[name] = fn.Value()
	}
	return handle, nil
}

func mustBool(v safejs.Value) bool {
	b, _ := v.Bool()
	return b
}

func controlOptions(opts safejs.Value) (time.Duration, []string, error) {
	limit := recorder.MaxDuration
	if opts.Type() != safejs.TypeObject {
		return limit, nil, nil
	}
	if v, err := opts.Get("maxDuration"); err == nil && !v.IsUndefined() {
		secs, err := v.Float()
		if err != nil || !(secs > 0 && secs <= recorder.MaxDuration.Seconds()) {
			return 0, nil, invalidOption("maxDuration", "must be a number of seconds, more than 0 and at most 60")
		}
		limit = time.Duration(secs * float64(time.Second))
	}
	var formats []string
	if v, err := opts.Get("formats"); err == nil && !v.IsUndefined() {
		n, err := v.Length()
		if err != nil {
			return 0, nil, invalidOption("formats", "must be an array of 'webm', 'ogg', 'wav'")
		}
		for i := 0; i < n; i++ {
			f, _ := v.Index(i)
			s, _ := f.String()
			formats = append(formats, s)
		}
	}
	return limit, formats, nil
}

func invalidOption(option, reason string) *catalog.Error {
	return catalog.Newf(catalog.InvalidOption, map[string]any{"option": option, "reason": reason}, time.Now(),
		"%s", fmt.Sprintf("invalid option %s: %s", option, reason))
}

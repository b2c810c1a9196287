//go:build js && wasm

package browser

import (
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

// Bridge builds the object handed to the shim. It lives as long as the page; its
// functions are never released.
func Bridge() (safejs.Value, error) {
	obj, err := safejs.ValueOf(map[string]any{})
	if err != nil {
		return obj, err
	}
	for name, fn := range map[string]func([]safejs.Value) (any, error){
		"createSDK":   createSDK,
		"diagnostics": diagnostics,
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
// with toggle, start, stop, cancel and destroy. The shim has checked the options (the
// one place they are checked: its limits are generated from this package's constants).
func (s *SDK) createControl(args []safejs.Value) (any, error) {
	if len(args) < 2 || args[1].Type() != safejs.TypeFunction {
		return nil, invalidOption("onEvent", "a function is required")
	}
	opts := args[0]
	limit := recorder.MaxDuration
	if v, _ := opts.Get("maxDuration"); v.Type() == safejs.TypeNumber {
		secs, _ := v.Float()
		limit = time.Duration(secs * float64(time.Second))
	}
	var formats []string
	if v, _ := opts.Get("formats"); v.Type() == safejs.TypeObject {
		n, _ := v.Length()
		for i := 0; i < n; i++ {
			f, _ := v.Index(i)
			name, _ := f.String()
			formats = append(formats, name)
		}
	}
	workletURL, _ := stringProp(opts, "workletUrl")
	metadata, _ := stringProp(opts, "metadata")
	auto, _ := opts.Get("autoUpload")
	progress, _ := opts.Get("uploadProgress")
	c := NewControl(s, limit, formats, workletURL, auto.Type() != safejs.TypeBoolean || mustBool(auto), metadata,
		progress, args[1])
	handle := map[string]any{}
	for name, cmd := range map[string]func(){
		"toggle": c.Toggle, "start": c.Start, "stop": c.Stop, "cancel": c.Cancel, "destroy": c.Destroy,
	} {
		fn, err := export(name, func([]safejs.Value) (any, error) {
			cmd()
			return nil, nil
		})
		if err != nil {
			c.releaseFuncs()
			return nil, err
		}
		c.funcs = append(c.funcs, fn)
		handle[name] = fn.Value()
	}
	return handle, nil
}

func mustBool(v safejs.Value) bool {
	b, _ := v.Bool()
	return b
}

func invalidOption(option, reason string) *catalog.Error {
	return catalog.Newf(catalog.InvalidOption, map[string]any{"option": option, "reason": reason}, time.Now(),
		"invalid option %s: %s", option, reason)
}

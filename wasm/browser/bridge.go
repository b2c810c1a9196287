//go:build js && wasm

package browser

import (
	"syscall/js"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/catalog"
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
		// Made here, inside the recover, because js.FuncOf's own conversion of a result
		// would panic outside it.
		v, err := makers.answer.Invoke(toJS(value), safejs.Undefined())
		if err != nil {
			return errorAnswer(catalog.Newf(catalog.InternalError, nil, time.Now(), "%s: %v", name, err))
		}
		return v
	})
}

func errorAnswer(err error) safejs.Value {
	v, convErr := makers.answer.Invoke(safejs.Undefined(), errorValue(err))
	if convErr != nil {
		return errorValue(err) // the shim reads an answer it did not make as an INTERNAL_ERROR
	}
	return v
}

// makers are the shim's functions that make objects of positional values: an error's
// fields, a bridge answer ({ value } or { error }), an outbox record. Made in
// JavaScript, they cost the wasm far less than Go maps converted field by field.
var makers struct {
	error, answer, record, note, progress, recorded safejs.Value
}

// errorValue is the plain object of an error's fields that the shim makes a VocaFuseError of.
func errorValue(err error) safejs.Value {
	ce, ok := err.(*catalog.Error)
	if !ok {
		ce = catalog.Newf(catalog.InternalError, nil, time.Now(), "%v", err)
	}
	var details any
	if ce.Details != nil {
		details = toJS(ce.Details)
	}
	v, convErr := makers.error.Invoke(string(ce.Code), ce.Message, ce.UserMessage, details, float64(ce.Timestamp),
		ce.Retryable, ce.APICode, ce.Status)
	if convErr != nil {
		return safejs.Safe(js.ValueOf(ce.Error())) // the shim reads a string as an INTERNAL_ERROR; a string always converts
	}
	return v
}

// Bridge builds the function handed to the shim, call(name, ...args): createSDK(io)
// and diagnostics(). It lives as long as the page; it is never released. shim holds the
// shim's makers: error, answer, record.
func Bridge(shim safejs.Value) (safejs.Value, error) {
	for _, m := range []struct {
		name string
		to   *safejs.Value
	}{{"error", &makers.error}, {"answer", &makers.answer}, {"record", &makers.record}, {"note", &makers.note},
		{"progress", &makers.progress}, {"recorded", &makers.recorded}} {
		v, err := shim.Get(m.name)
		if err != nil {
			return safejs.Undefined(), jsError(err)
		}
		*m.to = v
	}
	f, err := export("bridge", func(args []safejs.Value) (any, error) {
		name, rest := command(args)
		switch name {
		case "createSDK":
			return createSDK(rest)
		case "diagnostics":
			return diagnostics(rest)
		}
		return nil, invalidOption("command", "unknown: "+name)
	})
	return f.Value(), err
}

// createControl(options, onEvent) makes the Go side of addVoiceNote and answers an object
// with toggle, start, stop, pause, resume, cancel and destroy. The shim has checked the options (the
// one place they are checked: its limits are generated from this package's constants).
func (s *SDK) createControl(args []safejs.Value) (any, error) {
	if len(args) < 2 || args[1].Type() != safejs.TypeFunction {
		return nil, invalidOption("onEvent", "a function is required")
	}
	o := readControlOptions(args[0])
	c := NewControl(s, o, args[1])
	handle, err := export("control", func(args []safejs.Value) (any, error) {
		switch stringArg(args, 0) {
		case "toggle":
			c.Toggle()
		case "start":
			c.Start()
		case "stop":
			c.Stop()
		case "pause":
			c.Pause()
		case "resume":
			c.Resume()
		case "cancel":
			c.Cancel()
		case "destroy":
			c.Destroy()
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	c.funcs = append(c.funcs, handle)
	return handle.Value(), nil
}

// readControlOptions reads addVoiceNote's options, which the shim has checked.
func readControlOptions(opts safejs.Value) controlOptions {
	o := controlOptions{autoUpload: true, maxDuration: recorder.MaxDuration, workletURL: propString(opts, "workletUrl"),
		deviceID: propString(opts, "deviceId"), metadata: propString(opts, "metadata"),
		progress: prop(opts, "uploadProgress"), levels: prop(opts, "levels")}
	if v := prop(opts, "maxDuration"); v.Type() == safejs.TypeNumber {
		o.maxDuration = time.Duration(safejs.Unsafe(v).Float() * float64(time.Second))
	}
	if auto := prop(opts, "autoUpload"); auto.Type() == safejs.TypeBoolean {
		o.autoUpload = isTrue(auto)
	}
	if formats := safejs.Unsafe(opts).Get("formats"); formats.Type() == js.TypeObject {
		for i, n := 0, formats.Length(); i < n; i++ {
			o.formats = append(o.formats, formats.Index(i).String())
		}
	}
	return o
}

func invalidOption(option, reason string) *catalog.Error {
	return catalog.Newf(catalog.InvalidOption, map[string]any{"option": option, "reason": reason}, time.Now(),
		"invalid option %s: %s", option, reason)
}

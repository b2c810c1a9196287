//go:build js && wasm

package browser

import (
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
	v, _ := makers.answer.Invoke(safejs.Undefined(), errorValue(err))
	return v
}

// makers are the shim's functions that make objects of positional values: an error's
// fields, a bridge answer ({ value } or { error }), an outbox record. Made in
// JavaScript, they cost the wasm far less than Go maps converted field by field.
var makers struct {
	error, answer, record, note, progress safejs.Value
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
		v, _ = safejs.ValueOf(ce.Error()) // the shim reads a string as an INTERNAL_ERROR
	}
	return v
}

// Bridge builds the function handed to the shim, call(name, ...args): createSDK(io)
// and diagnostics(). It lives as long as the page; it is never released. shim holds the
// shim's makers: error, answer, record.
func Bridge(shim safejs.Value) (safejs.Value, error) {
	makers.error, _ = shim.Get("error")
	makers.answer, _ = shim.Get("answer")
	makers.record, _ = shim.Get("record")
	makers.note, _ = shim.Get("note")
	makers.progress, _ = shim.Get("progress")
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
	o := controlOptions{maxDuration: limit, formats: formats}
	o.workletURL, _ = stringProp(opts, "workletUrl")
	o.deviceID, _ = stringProp(opts, "deviceId")
	o.metadata, _ = stringProp(opts, "metadata")
	auto, _ := opts.Get("autoUpload")
	o.autoUpload = auto.Type() != safejs.TypeBoolean || mustBool(auto)
	o.progress, _ = opts.Get("uploadProgress")
	o.levels, _ = opts.Get("levels")
	c := NewControl(s, o, args[1])
	handle, err := export("control", func(args []safejs.Value) (any, error) {
		switch name, _ := command(args); name {
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

func mustBool(v safejs.Value) bool {
	b, _ := v.Bool()
	return b
}

func invalidOption(option, reason string) *catalog.Error {
	return catalog.Newf(catalog.InvalidOption, map[string]any{"option": option, "reason": reason}, time.Now(),
		"invalid option %s: %s", option, reason)
}

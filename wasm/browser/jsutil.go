//go:build js && wasm

package browser

import (
	"errors"
	"syscall/js"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/catalog"
)

// domError reads the name and message of a thrown JavaScript value; one that is no
// Error (a thrown number) is reported all the same, under the generic name.
func domError(v safejs.Value) DOMError {
	e := DOMError{Name: "Error"}
	if v.Type() != safejs.TypeObject {
		if v.Type() == safejs.TypeString {
			e.Message = safejs.Unsafe(v).String()
		}
		return e
	}
	if name := propString(v, "name"); name != "" {
		e.Name = name
	}
	e.Message = propString(v, "message")
	return e
}

// jsError turns an error from a safejs call into a DOMError when JavaScript threw, so
// that a constructor throwing NotSupportedError is mapped like a rejected promise.
func jsError(err error) error {
	if thrown, ok := find[js.Error](err); ok {
		return domError(safejs.Safe(thrown.Value))
	}
	return err
}

// propString, propNumber and propBool read a property of an object the SDK knows (the
// shim's, a Blob, an event, an AudioContext), "" / 0 / false where it is of another
// type. They cannot fail on an object; on anything else syscall/js panics, and the
// boundary running the caller reports that as INTERNAL_ERROR.
func propString(v safejs.Value, name string) string {
	if p := safejs.Unsafe(v).Get(name); p.Type() == js.TypeString {
		return p.String()
	}
	return ""
}

func propNumber(v safejs.Value, name string) float64 {
	if p := safejs.Unsafe(v).Get(name); p.Type() == js.TypeNumber {
		return p.Float()
	}
	return 0
}

func propBool(v safejs.Value, name string) bool { return isTrue(prop(v, name)) }

// prop is v[name], read as propString reads.
func prop(v safejs.Value, name string) safejs.Value { return safejs.Safe(safejs.Unsafe(v).Get(name)) }

// isTrue: v is the boolean true (anything else, undefined included, is not).
func isTrue(v safejs.Value) bool {
	return v.Type() == safejs.TypeBoolean && safejs.Unsafe(v).Bool()
}

// must answers v, or panics with err to the boundary that runs the caller, which reports
// it as INTERNAL_ERROR. Only for what cannot fail in a working browser: a plain object's
// conversion, a listener on a live track. (Where syscall/js's own panic says the same,
// the glue calls it directly: propString, global.)
func must[T any](v T, err error) T {
	if err != nil {
		panic(jsError(err))
	}
	return v
}

// call calls v.method(args...) for its effect, answering what it threw as a DOMError.
func callMethod(v safejs.Value, method string, args ...any) error {
	_, err := v.Call(method, args...)
	return jsError(err)
}

// letGo calls a method that lets go of something: a track's stop, an AudioContext's close,
// a node's disconnect. One that throws has nothing left to let go of (stopped, closed,
// disconnected already), so what it throws is dropped.
func letGo(v safejs.Value, method string) { _, _ = v.Call(method) }

// global is a property of globalThis that every browser the SDK runs in has (a
// constructor: Uint8Array, Blob, Promise): reading it cannot fail.
func global(name string) safejs.Value { return safejs.Safe(js.Global().Get(name)) }

func isFunction(v safejs.Value, name string) bool {
	p, err := v.Get(name)
	return err == nil && p.Type() == safejs.TypeFunction
}

// boundary is where JavaScript calls into Go: every event listener, promise settlement,
// timer and goroutine started for JavaScript work goes through one of its helpers, which
// recover a panic and hand it to onPanic (a control's: its INTERNAL_ERROR, with the
// microphone released). One unrecovered panic would end the Go program, and every later
// call of every control on the page with it.
type boundary struct {
	onPanic func(recovered any)
}

// run calls fn, recovering a panic. kind names the boundary for the tests' injected panics.
func (b boundary) run(kind string, fn func()) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if b.onPanic != nil {
				defer swallowPanic() // a failing report must not end the program either
				b.onPanic(p)
			}
		}
	}()
	injectPanic(kind)
	fn()
	return false
}

// spawn runs fn on a goroutine of its own: for JavaScript work that awaits promises.
func (b boundary) spawn(fn func()) {
	go b.run("goroutine", fn)
}

// after runs fn once d has passed (a timer: setTimeout underneath).
func (b boundary) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { b.run("timer", fn) })
}

// listen adds an event listener and returns what removes it and frees the function.
func (b boundary) listen(target safejs.Value, event string, handler func(ev safejs.Value)) (release func(), err error) {
	fn, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		b.run("listener", func() { handler(firstArg(args)) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := callMethod(target, "addEventListener", event, fn); err != nil {
		fn.Release()
		return nil, err
	}
	return func() {
		// The function is released whether or not the target let it go: a later event
		// then finds no function, which Go's runtime ignores, rather than old Go code.
		if err := callMethod(target, "removeEventListener", event, fn); err != nil {
			println("vocafuse: removeEventListener", event+":", err.Error())
		}
		fn.Release()
	}, nil
}

// settle calls onValue or onError once the promise settles. The handlers run inside a
// JavaScript callback, so they must not block: they post to a loop or a channel. A
// handler that panics is reported and then settles as an INTERNAL_ERROR, so whoever
// waits for the promise is never left waiting.
func (b boundary) settle(promise safejs.Value, onValue func(safejs.Value), onError func(error)) error {
	var ok, fail safejs.Func
	release := func() {
		ok.Release()
		fail.Release()
	}
	handle := func(fn func(), value safejs.Value) {
		defer release()
		if b.run("settle", fn) {
			// Nothing holds what the promise delivered: a microphone stream is stopped here.
			if isFunction(value, "getTracks") {
				stopStream(value)
			}
			b.run("", func() { onError(catalog.New(catalog.InternalError, nil, time.Now())) })
		}
	}
	var err error
	ok, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		v := firstArg(args)
		handle(func() { onValue(v) }, v)
		return nil
	})
	if err != nil {
		return err
	}
	fail, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		handle(func() { onError(domError(firstArg(args))) }, safejs.Undefined())
		return nil
	})
	if err != nil {
		ok.Release()
		return err
	}
	if err := callMethod(promise, "then", ok, fail); err != nil {
		release()
		return err
	}
	return nil
}

// await waits for a promise. It blocks, so it must run on a goroutine of its own or the
// loop, never inside a JavaScript callback.
func (b boundary) await(promise safejs.Value) (safejs.Value, error) {
	return b.awaitWithin(promise, 0)
}

// awaitWithin is await for at most d (0: no bound); past d, the error says so.
func (b boundary) awaitWithin(promise safejs.Value, d time.Duration) (safejs.Value, error) {
	type outcome struct {
		v   safejs.Value
		err error
	}
	// The promise and the timer race to one channel: no select, whose runtime support
	// costs the wasm 13 KB.
	done := make(chan outcome, 2)
	err := b.settle(promise,
		func(v safejs.Value) { done <- outcome{v: v} },
		func(err error) { done <- outcome{err: err} })
	if err != nil {
		return safejs.Undefined(), err
	}
	if d > 0 {
		t := time.AfterFunc(d, func() { done <- outcome{err: errors.New("no answer in time")} })
		defer t.Stop()
	}
	o := <-done
	return o.v, o.err
}

// tellShim calls one of the shim's event functions, fn(kind, ...values), with positional
// values: the shim makes objects of them, which costs the wasm far less than Go maps
// converted field by field. The shim catches what page callbacks throw, so an error here
// is the shim's own failure: the console hears it, as there is no one else to tell.
func tellShim(fn safejs.Value, kind string, values ...any) { tellShimAs(fn, kind, kind, values...) }

// tellShimAs is tellShim with the kind given as a JavaScript string made beforehand (named
// for the console by name): what is told many times a second need not cross to make it.
func tellShimAs(fn safejs.Value, name string, kind any, values ...any) {
	if fn.Type() != safejs.TypeFunction {
		return
	}
	args := make([]any, 0, len(values)+1)
	args = append(args, kind)
	for _, v := range values {
		args = append(args, toJS(v))
	}
	if _, err := fn.Invoke(args...); err != nil {
		println("vocafuse: the shim failed to deliver", name+":", jsError(err).Error())
	}
}

func firstArg(args []safejs.Value) safejs.Value {
	if len(args) == 0 {
		return safejs.Undefined()
	}
	return args[0]
}

// toJS converts Go values for safejs.ValueOf, which accepts []any but not typed slices.
func toJS(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = toJS(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = toJS(x)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out
	case safejs.Value:
		return safejs.Unsafe(v)
	case js.Value:
		return v
	case nil, bool, string, int, int64, float64, float32, uint, uint32, int32:
		return v
	default:
		return nil // never hand js.ValueOf a type it panics on
	}
}

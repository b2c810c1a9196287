//go:build js && wasm

package browser

import (
	"errors"
	"syscall/js"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/catalog"
)

// domError reads the name and message of a thrown JavaScript value.
func domError(v safejs.Value) DOMError {
	if v.Type() != safejs.TypeObject {
		s, _ := v.String()
		return DOMError{Name: "Error", Message: s}
	}
	name, _ := stringProp(v, "name")
	msg, _ := stringProp(v, "message")
	if name == "" {
		name = "Error"
	}
	return DOMError{Name: name, Message: msg}
}

// jsError turns an error from a safejs call into a DOMError when JavaScript threw, so
// that a constructor throwing NotSupportedError is mapped like a rejected promise.
func jsError(err error) error {
	if thrown, ok := find[js.Error](err); ok {
		return domError(safejs.Safe(thrown.Value))
	}
	return err
}

func stringProp(v safejs.Value, name string) (string, error) {
	p, err := v.Get(name)
	if err != nil || p.Type() != safejs.TypeString {
		return "", err
	}
	return p.String()
}

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
				defer func() { _ = recover() }() // a failing report must not end the program either
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
	if _, err := target.Call("addEventListener", event, fn); err != nil {
		fn.Release()
		return nil, jsError(err)
	}
	return func() {
		_, _ = target.Call("removeEventListener", event, fn)
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
	if _, err := promise.Call("then", ok, fail); err != nil {
		release()
		return jsError(err)
	}
	return nil
}

// await waits for a promise. It blocks, so it must run on a goroutine of its own or the
// loop, never inside a JavaScript callback.
func (b boundary) await(promise safejs.Value) (safejs.Value, error) {
	v, err, _ := b.awaitWithin(promise, 0)
	return v, err
}

// awaitWithin is await for at most d (0: no bound); timedOut when d passed first.
func (b boundary) awaitWithin(promise safejs.Value, d time.Duration) (v safejs.Value, err error, timedOut bool) {
	type outcome struct {
		v        safejs.Value
		err      error
		timedOut bool
	}
	// The promise and the timer race to one channel: no select, whose runtime support
	// costs the wasm 13 KB.
	done := make(chan outcome, 2)
	err = b.settle(promise,
		func(v safejs.Value) { done <- outcome{v: v} },
		func(err error) { done <- outcome{err: err} })
	if err != nil {
		return safejs.Undefined(), err, false
	}
	if d > 0 {
		t := time.AfterFunc(d, func() { done <- outcome{err: errors.New("no answer in time"), timedOut: true} })
		defer t.Stop()
	}
	o := <-done
	return o.v, o.err, o.timedOut
}

// tellShim calls one of the shim's event functions, fn(kind, ...values), with positional
// values: the shim makes objects of them, which costs the wasm far less than Go maps
// converted field by field. The shim catches what page callbacks throw, so an error
// here is not ours to act on.
func tellShim(fn safejs.Value, kind string, values ...any) {
	if fn.Type() != safejs.TypeFunction {
		return
	}
	args := make([]any, 0, len(values)+1)
	args = append(args, kind)
	for _, v := range values {
		args = append(args, toJS(v))
	}
	_, _ = fn.Invoke(args...)
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

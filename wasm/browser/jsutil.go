//go:build js && wasm

package browser

import (
	"errors"
	"syscall/js"

	"github.com/hack-pad/safejs"
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
	var thrown js.Error
	if errors.As(err, &thrown) {
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

// listen adds an event listener and returns what removes it and frees the function.
func listen(target safejs.Value, event string, handler func(ev safejs.Value)) (release func(), err error) {
	fn, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		ev := safejs.Undefined()
		if len(args) > 0 {
			ev = args[0]
		}
		handler(ev)
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
// JavaScript callback, so they must not block: they post to a loop.
func settle(promise safejs.Value, onValue func(safejs.Value), onError func(error)) error {
	var ok, fail safejs.Func
	release := func() {
		ok.Release()
		fail.Release()
	}
	var err error
	ok, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		defer release()
		onValue(firstArg(args))
		return nil
	})
	if err != nil {
		return err
	}
	fail, err = safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		defer release()
		onError(domError(firstArg(args)))
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

//go:build js && wasm

package browser

import (
	"testing"
	"time"

	"github.com/hack-pad/safejs"
)

// These run under Node (make test-wasm): no microphone, but the bridge's contract with
// the shim holds there too.

func call(t *testing.T, fn safejs.Value, args ...any) safejs.Value {
	t.Helper()
	answer, err := fn.Invoke(args...)
	if err != nil {
		t.Fatalf("the bridge threw: %v", err)
	}
	return answer
}

func errorCode(t *testing.T, answer safejs.Value) string {
	t.Helper()
	e, _ := answer.Get("error")
	if e.Type() != safejs.TypeObject {
		return ""
	}
	code, _ := stringProp(e, "code")
	return code
}

func TestPanicBecomesAnErrorAnswer(t *testing.T) {
	fn, err := export("boom", func([]safejs.Value) (any, error) { panic("boom") })
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Release()
	answer := call(t, fn.Value())
	if code := errorCode(t, answer); code != "INTERNAL_ERROR" {
		t.Fatalf("answer code %q, want INTERNAL_ERROR", code)
	}
	// The program is still alive and answers the next call.
	again := call(t, fn.Value())
	if code := errorCode(t, again); code != "INTERNAL_ERROR" {
		t.Fatalf("second answer %q", code)
	}
}

func TestUnconvertibleValueIsAnErrorNotACrash(t *testing.T) {
	fn, _ := export("chan", func([]safejs.Value) (any, error) { return map[string]any{"c": make(chan int)}, nil })
	defer fn.Release()
	answer := call(t, fn.Value())
	if v, _ := answer.Get("value"); v.Type() != safejs.TypeObject {
		t.Fatalf("want a value object with the bad field dropped, got %v", answer.Type())
	}
}

func TestCreateControlValidatesOptions(t *testing.T) {
	bridge, err := Bridge()
	if err != nil {
		t.Fatal(err)
	}
	create, _ := bridge.Get("createControl")
	noop, _ := safejs.FuncOf(func(safejs.Value, []safejs.Value) any { return nil })
	defer noop.Release()
	for _, max := range []any{61, 0, -1, "abc"} {
		opts, _ := safejs.ValueOf(map[string]any{"maxDuration": max})
		if code := errorCode(t, call(t, create, opts, noop)); code != "INVALID_OPTION" {
			t.Errorf("maxDuration %v: code %q, want INVALID_OPTION", max, code)
		}
	}
	if code := errorCode(t, call(t, create, safejs.Undefined(), "not a function")); code != "INVALID_OPTION" {
		t.Errorf("missing onEvent: code %q", code)
	}
}

// Node has no microphone: a start must end in NOT_SUPPORTED through onEvent, not a throw.
func TestStartWithoutMediaDevicesReportsNotSupported(t *testing.T) {
	bridge, _ := Bridge()
	create, _ := bridge.Get("createControl")
	events := make(chan [2]string, 16)
	onEvent, _ := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		kind, _ := args[0].String()
		detail := ""
		if kind == "error" {
			detail, _ = stringProp(args[1], "code")
		} else if args[1].Type() == safejs.TypeString {
			detail, _ = args[1].String()
		}
		events <- [2]string{kind, detail}
		return nil
	})
	defer onEvent.Release()
	opts, _ := safejs.ValueOf(map[string]any{"maxDuration": 5})
	answer := call(t, create, opts, onEvent)
	handle, _ := answer.Get("value")
	toggle, _ := handle.Get("toggle")
	call(t, toggle)
	var got [][2]string
	timeout := time.After(5 * time.Second)
	for len(got) < 3 {
		select {
		case e := <-events:
			got = append(got, e)
		case <-timeout:
			t.Fatalf("events so far %v", got)
		}
	}
	want := [][2]string{{"state", "requesting"}, {"state", "error"}, {"error", "NOT_SUPPORTED"}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

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
	return propString(e, "code")
}

func TestPanicBecomesAnErrorAnswer(t *testing.T) {
	if _, err := Bridge(testShim(t)); err != nil {
		t.Fatal(err)
	}
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
	if _, err := Bridge(testShim(t)); err != nil {
		t.Fatal(err)
	}
	fn, _ := export("chan", func([]safejs.Value) (any, error) { return map[string]any{"c": make(chan int)}, nil })
	defer fn.Release()
	answer := call(t, fn.Value())
	if v, _ := answer.Get("value"); v.Type() != safejs.TypeObject {
		t.Fatalf("want a value object with the bad field dropped, got %v", answer.Type())
	}
}

// testShim makes the shim's makers (vocafuse.mjs's MAKERS) for tests under Node.
func testShim(t *testing.T) safejs.Value {
	t.Helper()
	ctor, _ := safejs.Global().Get("Function")
	make, err := ctor.New(`return {
		error: (code, message, userMessage, details, timestamp, retryable, apiCode, status) =>
			({ code, message, userMessage, details, timestamp, retryable, apiCode, status }),
		answer: (value, error) => (error === undefined ? { value } : { error }),
		record: (id, blob, mimeType) => ({ id, blob, mimeType }),
	}`)
	if err != nil {
		t.Fatal(err)
	}
	shim, err := make.Invoke()
	if err != nil {
		t.Fatal(err)
	}
	return shim
}

// newSDK makes an SDK through the bridge, as the shim does, with I/O that is never used.
func newSDK(t *testing.T) safejs.Value {
	t.Helper()
	bridge, err := Bridge(testShim(t))
	if err != nil {
		t.Fatal(err)
	}
	io, _ := safejs.ValueOf(map[string]any{"apiBaseUrl": "http://127.0.0.1:1"})
	answer := call(t, bridge, "createSDK", io)
	sdk, _ := answer.Get("value")
	if sdk.Type() != safejs.TypeFunction {
		t.Fatalf("createSDK answered %v", answer)
	}
	return sdk
}

func TestUnknownCommandIsAnError(t *testing.T) {
	sdk := newSDK(t)
	if code := errorCode(t, call(t, sdk, "no-such-command")); code != "INVALID_OPTION" {
		t.Fatalf("code %q", code)
	}
	if code := errorCode(t, call(t, sdk, "createControl", safejs.Undefined(), "not a function")); code != "INVALID_OPTION" {
		t.Errorf("missing onEvent: code %q", code)
	}
}

// A control made and destroyed leaves nothing behind: its loop goroutine ends and it is
// no longer counted.
func TestDestroyReleasesTheControl(t *testing.T) {
	sdk := newSDK(t)
	noop, _ := safejs.FuncOf(func(safejs.Value, []safejs.Value) any { return nil })
	defer noop.Release()
	opts, _ := safejs.ValueOf(map[string]any{"maxDuration": 5})
	before := liveCounts()
	for range 50 {
		answer := call(t, sdk, "createControl", opts, noop)
		control, _ := answer.Get("value")
		call(t, control, "destroy")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := liveCounts()
		a, b := after, before
		if a["controls"] == b["controls"] && a["goroutines"] == b["goroutines"] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("before %v, after 50 create/destroy %v", b, a)
		}
		time.Sleep(10 * time.Millisecond) // the loops end on their own goroutines
	}
}

// Node has no microphone: a start must end in NOT_SUPPORTED through onEvent, not a throw.
func TestStartWithoutMediaDevicesReportsNotSupported(t *testing.T) {
	sdk := newSDK(t)
	events := make(chan [2]string, 16)
	onEvent, _ := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		kind, _ := args[0].String()
		detail := ""
		if kind == "error" {
			detail = propString(args[1], "code")
		} else if args[1].Type() == safejs.TypeString {
			detail, _ = args[1].String()
		}
		events <- [2]string{kind, detail}
		return nil
	})
	defer onEvent.Release()
	opts, _ := safejs.ValueOf(map[string]any{"maxDuration": 5})
	answer := call(t, sdk, "createControl", opts, onEvent)
	control, _ := answer.Get("value")
	call(t, control, "toggle")
	var got [][2]string
	for len(got) < 3 {
		got = append(got, <-events) // the test's own timeout bounds this
	}
	want := [][2]string{{"state", "requesting"}, {"state", "error"}, {"error", "NOT_SUPPORTED"}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

// A panic at one of an SDK's own boundaries (here retry()'s goroutine, over a store that
// is missing) reaches the page's onError as INTERNAL_ERROR, not only the promise.
func TestSDKPanicReachesOnError(t *testing.T) {
	bridge, err := Bridge(testShim(t))
	if err != nil {
		t.Fatal(err)
	}
	heard := make(chan string, 8)
	events, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) == 2 && args[1].Type() == safejs.TypeObject {
			heard <- safejs.Unsafe(args[0]).String() + " " + propString(args[1], "code")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Release()
	io, _ := safejs.ValueOf(map[string]any{"apiBaseUrl": "http://127.0.0.1:1", "events": safejs.Unsafe(events.Value())})
	sdk, _ := call(t, bridge, "createSDK", io).Get("value")
	promise, _ := call(t, sdk, "retry", false).Get("value")
	quiet, _ := safejs.Global().Get("Function")
	quiet, _ = quiet.New("p", "p.catch(() => {})") // the rejection is the promise's half; onError is this test's
	if _, err := quiet.Invoke(promise); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-heard:
			if got == "error INTERNAL_ERROR" {
				return
			}
		case <-deadline:
			t.Fatal("the panic reached no onError")
		}
	}
}

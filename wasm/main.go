//go:build js && wasm

// The VocaFuse recorder compiled to WebAssembly. The shim (js/src/vocafuse.mjs) starts it with
// the name of a global function as its one argument; main hands that function the bridge
// and then waits for calls for as long as the page lives.
package main

import (
	"os"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/browser"
)

func main() {
	if len(os.Args) < 2 {
		println("vocafuse: started without the shim's callback name")
		return
	}
	ready, err := safejs.Global().Get(os.Args[1])
	if err != nil || ready.Type() != safejs.TypeFunction {
		println("vocafuse: the shim's callback is missing")
		return
	}
	shim, _ := ready.Get("shim") // the shim's makers of objects
	bridge, err := browser.Bridge(shim)
	if err != nil {
		_, _ = ready.Invoke(safejs.Null(), err.Error())
		return
	}
	if _, err := ready.Invoke(bridge); err != nil {
		println("vocafuse: the shim refused the bridge:", err.Error())
		return
	}
	select {} // serve calls until the page goes away
}

//go:build js && wasm

// Command crashtest is the real SDK with two ways to die, for the browser tests of the
// shim's crash handling; it is never shipped. A page that sets
// globalThis.crashTestExitAtStart gets a program that ends before handing over its
// bridge; otherwise globalThis.crashVocaFuse() panics in a goroutine, which nothing
// recovers, so the Go program ends as it would on a bug that escaped every boundary.
package main

import (
	"os"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/browser"
)

func main() {
	g := safejs.Global()
	if exit, _ := g.Get("crashTestExitAtStart"); exit.Type() == safejs.TypeBoolean {
		return
	}
	crash, _ := safejs.FuncOf(func(safejs.Value, []safejs.Value) any {
		go func() { panic("crashtest: deliberate crash") }()
		return nil
	})
	_ = g.Set("crashVocaFuse", crash)
	ready, _ := g.Get(os.Args[1])
	shim, _ := ready.Get("shim")
	bridge, _ := browser.Bridge(shim)
	_, _ = ready.Invoke(bridge)
	select {}
}

//go:build js && wasm && vocafuse_panic

package browser

import "github.com/hack-pad/safejs"

// injectPanic, in the test-only build (-tags vocafuse_panic), panics once at the next
// boundary of the kind a page names in globalThis.vocafusePanic ("listener", "settle",
// "timer", "goroutine"), so the browser tests can show that every kind is contained.
func injectPanic(kind string) {
	if kind == "" {
		return
	}
	g := safejs.Global()
	want, err := g.Get("vocafusePanic")
	if err != nil || want.Type() != safejs.TypeString {
		return
	}
	if safejs.Unsafe(want).String() == kind {
		if err := g.Set("vocafusePanic", safejs.Null()); err != nil {
			return // disarming failed: panicking now would panic at every boundary after
		}
		panic("injected panic at a " + kind + " boundary")
	}
}

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
	if s, _ := want.String(); s == kind {
		_ = g.Set("vocafusePanic", safejs.Null())
		panic("injected panic at a " + kind + " boundary")
	}
}

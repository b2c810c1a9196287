//go:build js && wasm && !vocafuse_panic

package browser

// injectPanic is a no-op in every real build; see inject_on.go.
func injectPanic(string) {}

//go:build js && wasm

// Command bare is the yardstick of `make size`: a program that uses the SDK's two
// dependencies, safejs and uuid, and nothing else. The SDK's wasm is compared with it.
package main

import (
	"github.com/google/uuid"
	"github.com/hack-pad/safejs"
)

func main() {
	id, _ := uuid.NewV7()
	_ = safejs.Global().Set("bareID", id.String())
}

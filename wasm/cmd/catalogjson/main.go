// Command catalogjson prints the error catalogue's texts as JSON for the JavaScript shim
// (code → message, userMessage, retryable), so both sides share one source.
package main

import (
	"encoding/json"
	"os"

	"github.com/vocafuse/recorder/wasm/catalog"
)

func main() {
	out := map[string]any{}
	for _, e := range catalog.Entries() {
		entry := map[string]any{"message": e.Message, "userMessage": e.UserMessage, "retryable": e.Retryable}
		if e.APICode != 0 {
			entry["apiCode"] = e.APICode
		}
		out[string(e.Code)] = entry
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}

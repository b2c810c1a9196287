// Command shimdata prints, as JSON, what the JavaScript shim must agree on with the Go
// side: the error catalogue's texts (code → message, userMessage, retryable, apiCode)
// and the limits its option checks enforce (the 60-second limit, the formats). The
// shim's build inlines it, so each has one source: the Go packages.
package main

import (
	"encoding/json"
	"os"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/recorder"
)

func main() {
	codes := map[string]any{}
	for _, e := range catalog.Entries() {
		entry := map[string]any{"message": e.Message, "userMessage": e.UserMessage, "retryable": e.Retryable}
		if e.APICode != 0 {
			entry["apiCode"] = e.APICode
		}
		codes[string(e.Code)] = entry
	}
	formats := make([]string, len(audio.SupportedFormats))
	for i, f := range audio.SupportedFormats {
		formats[i] = string(f)
	}
	out := map[string]any{
		"catalog": codes,
		"limits": map[string]any{
			"maxDuration":    recorder.MaxDuration.Seconds(),
			"formats":        formats,
			"defaultFormats": recorder.DefaultFormats,
		},
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}

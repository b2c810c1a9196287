// Command shimdata prints, as JSON, what the JavaScript shim must agree on with the Go
// side: the error catalogue's texts (code → message, userMessage, retryable, apiCode)
// and the limits its option checks enforce (the 60-second limit, the formats), with the
// MediaRecorder types the recorder asks for (VocaFuse.isSupported tries the same ones).
// The shim's build makes it a module (js/build.mjs), so each has one source: the Go packages.
package main

import (
	"encoding/json"
	"os"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/recorder"
)

func main() {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(shimData()); err != nil {
		os.Exit(1)
	}
}

func shimData() map[string]any {
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
	return map[string]any{
		"catalog": codes,
		"limits": map[string]any{
			"maxDuration":        recorder.MaxDuration.Seconds(),
			"formats":            formats,
			"mediaRecorderTypes": mediaRecorderTypes(formats),
		},
	}
}

// mediaRecorderTypes lists, in order, every MediaRecorder type recorder.Choose asks a
// browser about for formats: it is asked with a browser that supports none of them.
func mediaRecorderTypes(formats []string) []string {
	types := []string{}
	for _, f := range formats {
		recorder.Choose([]string{f}, func(mime string) bool {
			types = append(types, mime)
			return false
		}, false)
	}
	return types
}

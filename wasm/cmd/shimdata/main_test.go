package main

import (
	"slices"
	"testing"

	"github.com/vocafuse/recorder/wasm/recorder"
)

// A browser whose MediaRecorder supports any one of the types VocaFuse.isSupported tries
// records with it, and a browser that supports one of the types recorder.Choose would
// take is one isSupported says can record.
func TestMediaRecorderTypesAreChoosesTypes(t *testing.T) {
	limits := shimData()["limits"].(map[string]any)
	formats := limits["formats"].([]string)
	types := limits["mediaRecorderTypes"].([]string)
	if len(types) == 0 {
		t.Fatal("no MediaRecorder types")
	}
	for _, mime := range types {
		c, ok := recorder.Choose(formats, func(m string) bool { return m == mime }, false)
		if !ok || c.MIME != mime {
			t.Errorf("a browser that records only %q: Choose = %+v, %v", mime, c, ok)
		}
	}
	for _, mime := range []string{"audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/ogg", "audio/mp4", "audio/wav"} {
		_, chosen := recorder.Choose(formats, func(m string) bool { return m == mime }, false)
		if listed := slices.Contains(types, mime); chosen != listed {
			t.Errorf("%q: Choose takes it %v, isSupported tries it %v", mime, chosen, listed)
		}
	}
}

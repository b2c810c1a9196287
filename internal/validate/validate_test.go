package validate

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
)

func TestSizeLabelWritesTheReferencesUnits(t *testing.T) {
	for bytes, want := range map[int64]string{
		MaxBytes:     "25MB",
		30 << 20:     "30MB",
		26<<20 + 44:  "26MB",
		MaxBytes + 1: "25.1MB", // rounded up: never claim a refused file fits
		1:            "0MB",
	} {
		if got := SizeLabel(bytes); got != want {
			t.Errorf("SizeLabel(%d) = %q, want %q", bytes, got, want)
		}
	}
}

func TestSize(t *testing.T) {
	if p := Size(MaxBytes); p != nil {
		t.Fatalf("25 MB exactly refused: %+v", p)
	}
	p := Size(30 << 20)
	if p == nil || p.Code != catalog.FileSizeExceeded {
		t.Fatalf("30 MB: %+v", p)
	}
	if want := map[string]any{"max_size": "25MB", "actual_size": "30MB"}; !reflect.DeepEqual(p.Details, want) {
		t.Errorf("details %v, want the reference's %v", p.Details, want)
	}
}

func TestAudio(t *testing.T) {
	cases := []struct {
		name    string
		info    audio.Info
		err     error
		code    catalog.Code
		details map[string]any
	}{
		{"a 30 s webm", audio.Info{Format: audio.WebM, Duration: 30}, nil, "", nil},
		{"60.4 s is container rounding", audio.Info{Format: audio.Ogg, Duration: 60.4}, nil, "", nil},
		{"75 s", audio.Info{Format: audio.WAV, Duration: 75}, nil, catalog.RecordingTooLong,
			map[string]any{"max_duration": MaxDuration, "actual_duration": 75.0}},
		{"mp3", audio.Info{}, &audio.ProbeError{Format: audio.MP3, Reason: "not supported"}, catalog.UnsupportedAudioFormat,
			map[string]any{"format": "mp3", "supported_formats": audio.SupportedFormats}},
		{"unknown bytes", audio.Info{}, &audio.ProbeError{Format: audio.Unknown, Reason: "no known signature"}, catalog.UnsupportedAudioFormat,
			map[string]any{"format": "unknown", "supported_formats": audio.SupportedFormats}},
		{"a truncated wav", audio.Info{}, &audio.ProbeError{Format: audio.WAV, Reason: "no data chunk"}, catalog.AudioProcessingFailed, nil},
		{"a failure to read", audio.Info{}, fmt.Errorf("read failed"), catalog.AudioProcessingFailed, nil},
	}
	for _, c := range cases {
		p := Audio(c.info, c.err)
		switch {
		case c.code == "" && p != nil:
			t.Errorf("%s: refused %+v", c.name, p)
		case c.code != "" && (p == nil || p.Code != c.code):
			t.Errorf("%s: %+v, want %s", c.name, p, c.code)
		case p != nil && !reflect.DeepEqual(p.Details, c.details):
			t.Errorf("%s: details %v, want %v", c.name, p.Details, c.details)
		}
	}
}

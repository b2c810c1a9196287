package audio

import (
	"errors"
	"slices"
	"testing"
)

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		head string
		want Format
	}{
		{"RIFF\x24\x00\x00\x00WAVEfmt ", WAV},
		{"RF64\xff\xff\xff\xffWAVEds64", WAV},
		{"BW64\xff\xff\xff\xffWAVEds64", WAV},
		{"RIFF\x24\x00\x00\x00AVI LIST", Unknown},
		{"RIFF\x24\x00\x00\x00WAV", Unknown}, // cut short
		{"OggS\x00\x02", Ogg},
		{"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", WebM},
		{"fLaC\x00\x00\x00\x22", FLAC},
		{"\x00\x00\x00\x20ftypM4A \x00\x00", MP4},
		{"\x00\x00\x00\x1cftypisom", MP4},
		{"ID3\x04\x00\x00\x00\x00\x00\x23", MP3},
		{"\xff\xfb\x90\x64", MP3},                 // MPEG-1 layer III, 128 kb/s, 44.1 kHz
		{"\xff\xf3\x40\xc4", MP3},                 // MPEG-2 layer III
		{"\xff\xe3\x18\xc4", MP3},                 // MPEG-2.5 layer III
		{"\xff\xfd\x90\x64", Unknown},             // layer II
		{"\xff\xfb\xf0\x64", Unknown},             // bitrate index 15
		{"\xff\xfb\x9c\x64", Unknown},             // sample rate index 3
		{"\xff\xeb\x90\x64", Unknown},             // reserved version
		{"\xff\xf1\x50\x80\x2e\x7f\xfc", AAC},     // ADTS, MPEG-4, no CRC
		{"\xff\xf9\x50\x80\x2e\x7f\xfc", AAC},     // ADTS, MPEG-2
		{"\xff\xf1\x7c\x80\x2e\x7f\xfc", Unknown}, // sampling index 15
		{"\xff\xf1\x50\x80\x00\x1f\xfc", Unknown}, // frame shorter than its header
		{"\xff\xf1\x50", Unknown},                 // cut short
		{"", Unknown},
		{"Og", Unknown},
		{"<html>", Unknown},
	} {
		if got := Sniff([]byte(c.head)); got != c.want {
			t.Errorf("Sniff(%q) = %q, want %q", c.head, got, c.want)
		}
	}
	// Only the first SniffLen bytes count.
	long := append(make([]byte, SniffLen), "OggS"...)
	if got := Sniff(long); got != Unknown {
		t.Errorf("Sniff looked past SniffLen: %q", got)
	}
}

func TestSupported(t *testing.T) {
	var supported []string
	for _, f := range []Format{WebM, Ogg, WAV, MP3, MP4, FLAC, AAC, Unknown} {
		if f.Supported() {
			supported = append(supported, string(f))
		}
		err := error(&ProbeError{Format: f, Reason: "x"})
		if errors.Is(err, ErrUnsupported) == f.Supported() {
			t.Errorf("%s: errors.Is(ErrUnsupported) = %v", f, !f.Supported())
		}
	}
	slices.Sort(supported)
	want := slices.Clone(SupportedFormats)
	slices.Sort(want)
	if !slices.Equal(supported, want) {
		t.Errorf("Supported() formats %v, SupportedFormats %v", supported, SupportedFormats)
	}
	if !slices.Equal(SupportedFormats, []string{"webm", "wav", "ogg"}) {
		t.Errorf("SupportedFormats = %v, not the reference's order", SupportedFormats)
	}
	e := &ProbeError{Format: Ogg, Reason: "read error", Err: errDisk}
	if e.Error() != "audio: ogg: read error: disk on fire" || !errors.Is(e, errDisk) {
		t.Errorf("%v", e)
	}
}

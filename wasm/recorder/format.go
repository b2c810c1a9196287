package recorder

import (
	"strings"

	"github.com/vocafuse/recorder/wasm/space"
)

// DefaultFormats is the preference when the page names none: Ogg first, which only
// Firefox records, because Firefox's WebM recordings carry no duration (an <audio>
// element cannot seek them) while its Ogg files do; every other browser gets WebM.
// docs/sdk.md lists webm first; in Chromium and Safari the outcome is the same.
var DefaultFormats = []string{"ogg", "webm", "wav"}

// mimeCandidates are the MediaRecorder types tried for each format, best first. Opus is
// asked for by name so a browser never picks a heavier codec; the bare type is the
// fallback for browsers that reject codec parameters. WAV is not a MediaRecorder type:
// it is captured through Web Audio and encoded by the SDK.
var mimeCandidates = map[string][]string{
	"webm": {"audio/webm;codecs=opus", "audio/webm"},
	"ogg":  {"audio/ogg;codecs=opus", "audio/ogg"},
}

// Choice is how a take is recorded: by MediaRecorder with MIME, or as PCM encoded to WAV.
type Choice struct {
	Format string
	MIME   string
	PCM    bool
}

// Choose picks, in the page's order of formats, the first one this browser can make:
// webm and ogg where MediaRecorder supports one of their types (mediaRecorder is nil
// without MediaRecorder), wav where Web Audio can capture PCM. ok is false when none.
func Choose(formats []string, mediaRecorder func(mime string) bool, pcm bool) (c Choice, ok bool) {
	if len(formats) == 0 {
		formats = DefaultFormats
	}
	for _, f := range formats {
		if f == "wav" {
			if pcm {
				return Choice{Format: "wav", MIME: "audio/wav", PCM: true}, true
			}
			continue
		}
		if mediaRecorder == nil {
			continue
		}
		for _, m := range mimeCandidates[f] {
			if mediaRecorder(m) {
				return Choice{Format: f, MIME: m}, true
			}
		}
	}
	return Choice{}, false
}

// FormatOfMIME names the container of a MIME type such as "audio/webm;codecs=opus".
// An unknown type gives "".
func FormatOfMIME(mime string) string {
	base, _, _ := strings.Cut(mime, ";")
	// ASCII lowercase by hand, space.Trim for strings.TrimSpace: the strings functions
	// bring Unicode's tables into the wasm.
	b := []byte(space.Trim(base))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	switch string(b) {
	case "audio/webm", "video/webm":
		return "webm"
	case "audio/ogg", "application/ogg":
		return "ogg"
	case "audio/wav", "audio/wave", "audio/x-wav", "audio/vnd.wave":
		return "wav"
	}
	return ""
}

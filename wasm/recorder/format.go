package recorder

import "strings"

// DefaultFormats is the preference when the page names none: Ogg first, which only
// Firefox records, because Firefox's WebM recordings carry no duration (an <audio>
// element cannot seek them) while its Ogg files do; every other browser gets WebM.
// sdk.md lists webm first; in Chromium and Safari the outcome is the same.
var DefaultFormats = []string{"ogg", "webm", "wav"}

// mimeCandidates are the MediaRecorder types tried for each format, best first. Opus is
// asked for by name so a browser never picks a heavier codec; the bare type is the
// fallback for browsers that reject codec parameters. WAV is not a MediaRecorder type:
// it is recorded through Web Audio, which is not built yet, so it has no candidate.
var mimeCandidates = map[string][]string{
	"webm": {"audio/webm;codecs=opus", "audio/webm"},
	"ogg":  {"audio/ogg;codecs=opus", "audio/ogg"},
}

// ChooseMIME picks the first MediaRecorder type, in the page's order of formats, that the
// browser says it supports. ok is false when none is.
func ChooseMIME(formats []string, supported func(mime string) bool) (mime, format string, ok bool) {
	if len(formats) == 0 {
		formats = DefaultFormats
	}
	for _, f := range formats {
		for _, m := range mimeCandidates[f] {
			if supported(m) {
				return m, f, true
			}
		}
	}
	return "", "", false
}

// FormatOfMIME names the container of a MIME type such as "audio/webm;codecs=opus".
// An unknown type gives "".
func FormatOfMIME(mime string) string {
	base, _, _ := strings.Cut(mime, ";")
	switch strings.ToLower(strings.TrimSpace(base)) {
	case "audio/webm", "video/webm":
		return "webm"
	case "audio/ogg", "application/ogg":
		return "ogg"
	case "audio/wav", "audio/wave", "audio/x-wav", "audio/vnd.wave":
		return "wav"
	}
	return ""
}

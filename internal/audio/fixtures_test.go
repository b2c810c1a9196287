package audio

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Committed fixtures, so that the tests that need no tools (the hostile-input tests, the
// fuzz seeds, the MediaRecorder fixture) run everywhere, GOOS=js included. They are made
// by ffmpeg and the rebuilding in helpers_test.go; to make them again:
//
//	AUDIO_UPDATE_FIXTURES=1 go test -run TestUpdateFixtures ./internal/audio

const (
	// mediaRecorderFixture is a WebM laid out as Chromium's MediaRecorder writes it (no
	// Duration, Segment and Clusters of unknown size, 60 ms Opus packets), made from
	// mediaRecorderSeconds of ffmpeg input: 79 packets less the encoder's pre-skip (see
	// opusLength).
	mediaRecorderFixture = "testdata/mediarecorder-no-duration.webm"
	mediaRecorderSeconds = 79*0.060 - opusPreSkip
	// chromiumFixture is a real recording, with its length in seconds in a file beside
	// it; the lead engineer adds it, and its test skips while it is absent.
	chromiumFixture = "testdata/chromium-timeslice.webm"
	seedDir         = "testdata/seed"
)

// seedMakers make the small files of each kind that seed the fuzz targets and the
// truncation tests.
var seedMakers = map[string]func(tb testing.TB, dir string) []byte{
	"mediarecorder.webm": func(tb testing.TB, dir string) []byte { return mediaRecorderWebM(tb, dir, 0.5, 60, 1) },
	"mediarecorder-20ms-stereo.webm": func(tb testing.TB, dir string) []byte {
		return mediaRecorderWebM(tb, dir, 0.3, 20, 2)
	},
	"ffmpeg-cues.webm": seedFF("ffmpeg-cues.webm", 0.4, "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "12k"),
	"ffmpeg-live.webm": seedFFPipe("ffmpeg-live.webm", 0.4, "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "12k", "-f", "webm", "-live", "1"),
	"opus.ogg":         seedFF("opus.ogg", 0.4, "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "12k"),
	"vorbis.ogg":       seedFF("vorbis.ogg", 0.2, "-ar", "8000", "-ac", "1", "-c:a", "libvorbis", "-q:a", "0"),
	"s16.wav":          seedFF("s16.wav", 0.05, "-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le"),
	"s24-stereo.wav":   seedFF("s24-stereo.wav", 0.02, "-ar", "16000", "-ac", "2", "-c:a", "pcm_s24le"),
	"rf64.wav":         seedFF("rf64.wav", 0.02, "-ar", "8000", "-ac", "1", "-c:a", "pcm_u8", "-rf64", "always"),
	"streaming.wav":    seedFFPipe("streaming.wav", 0.02, "-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav"),
}

func seedFF(out string, seconds float64, args ...string) func(testing.TB, string) []byte {
	return func(tb testing.TB, dir string) []byte { return readFile(tb, ff(out, seconds, args...)(tb, dir)) }
}

func seedFFPipe(out string, seconds float64, args ...string) func(testing.TB, string) []byte {
	return func(tb testing.TB, dir string) []byte { return readFile(tb, ffPipe(out, seconds, args...)(tb, dir)) }
}

// TestUpdateFixtures writes the committed fixtures again, when asked to.
func TestUpdateFixtures(t *testing.T) {
	if os.Getenv("AUDIO_UPDATE_FIXTURES") == "" {
		t.Skip("set AUDIO_UPDATE_FIXTURES=1 to write the fixtures again")
	}
	needTools(t, "ffmpeg", "espeak-ng")
	dir := t.TempDir()
	writeFixture(t, mediaRecorderFixture, mediaRecorderWebM(t, dir, mediaRecorderSeconds, 60, 1))
	for name, make := range seedMakers {
		writeFixture(t, filepath.Join(seedDir, name), make(t, dir))
	}
}

func writeFixture(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(b))
}

// seeds returns the committed seed files by name, in name order.
func seeds(tb testing.TB) (names []string, files map[string][]byte) {
	tb.Helper()
	entries, err := os.ReadDir(seedDir)
	if err != nil {
		tb.Fatal(err)
	}
	files = map[string][]byte{}
	for _, e := range entries {
		names = append(names, e.Name())
		files[e.Name()] = readFile(tb, filepath.Join(seedDir, e.Name()))
	}
	sort.Strings(names)
	if len(names) == 0 {
		tb.Fatal("no seed files")
	}
	return names, files
}

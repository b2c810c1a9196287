package transcribe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// requireEngineEnv, when set (make test sets it), turns a missing engine from a skip into a
// failure, so that CI never passes by skipping the recogniser's tests.
const requireEngineEnv = "VOCAFUSE_REQUIRE_ENGINE"

// testDataDir is pocketsphinx-testdata's directory; VOCAFUSE_PS_TESTDATA overrides it.
func testDataDir() string {
	if d := os.Getenv("VOCAFUSE_PS_TESTDATA"); d != "" {
		return d
	}
	return "/usr/share/pocketsphinx/test/data"
}

// engineOrSkip is the default engine, or a skip (a failure under VOCAFUSE_REQUIRE_ENGINE)
// when its tools, its model or the test recordings are not installed.
func engineOrSkip(t testing.TB) *PocketSphinx {
	t.Helper()
	e := NewPocketSphinx(Config{TempDir: t.TempDir()})
	err := e.Check()
	if err == nil {
		if _, serr := os.Stat(filepath.Join(testDataDir(), "librivox", "transcription")); serr != nil {
			err = &MissingError{What: "pocketsphinx-testdata's recordings", Install: "install the Debian package pocketsphinx-testdata"}
		}
	}
	if err != nil {
		if os.Getenv(requireEngineEnv) != "" {
			t.Fatalf("the recogniser is required (%s is set) but: %v", requireEngineEnv, err)
		}
		t.Skipf("skipping the recogniser's test: %v (set %s=1 to make this a failure)", err, requireEngineEnv)
	}
	return e
}

// ffmpeg runs ffmpeg quietly with args, failing the test on error.
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// toOpus encodes a recording as a browser's MediaRecorder would: Opus at 48 kHz, ~32
// kbit/s, in WebM (Chrome, Edge) or Ogg (Firefox); stereo when channels is 2.
func toOpus(t testing.TB, in, out string, channels int) {
	t.Helper()
	ffmpeg(t, "-i", in, "-ar", "48000", "-ac", strconv.Itoa(channels), "-c:a", "libopus", "-b:a", "32k", out)
}

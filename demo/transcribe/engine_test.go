package transcribe

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The recording the integration tests use: 3 s of LibriVox (pocketsphinx-testdata).
const (
	clearRecording = "librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
	clearText      = "he was not an ill disposed young man"
)

// TestTranscribeBrowserAudio runs the real engine on a clear recording as browsers
// upload it (Opus at 48 kHz in WebM and in Ogg, mono and stereo) and as WAV at another
// rate, and checks the words it must find and the resource's invariants.
func TestTranscribeBrowserAudio(t *testing.T) {
	e := engineOrSkip(t)
	src := filepath.Join(testDataDir(), clearRecording)
	dir := t.TempDir()
	cases := []struct{ name, file string }{
		{"webm-opus-48k-mono", "a.webm"},
		{"ogg-opus-48k-stereo", "a.ogg"},
		{"wav-44k1-stereo", "a.wav"},
		{"wav-16k-original", ""},
	}
	toOpus(t, src, filepath.Join(dir, "a.webm"), 1)
	toOpus(t, src, filepath.Join(dir, "a.ogg"), 2)
	ffmpeg(t, "-i", src, "-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le", filepath.Join(dir, "a.wav"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := src
			if tc.file != "" {
				path = filepath.Join(dir, tc.file)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := e.Transcribe(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%q confidence %.3f", r.Text, r.Confidence)
			for _, w := range []string{"he", "was", "not", "young", "man"} {
				if !containsWord(r.Text, w) {
					t.Errorf("%q lacks %q", r.Text, w)
				}
			}
			if errs, n := WER(clearText, r.Text); errs*2 > n {
				t.Errorf("WER %d/%d for %q", errs, n, r.Text)
			}
			if r.Language != "en-US" || !(r.Confidence > 0 && r.Confidence <= 1) {
				t.Errorf("language %q confidence %v", r.Language, r.Confidence)
			}
			checkWords(t, r.Words)
			if last := r.Words[len(r.Words)-1]; last.End > 3.1 { // the recording is 2.99 s
				t.Errorf("a word past the end: %+v", last)
			}
			if r.Text != NewResult(r.Words).Text {
				t.Errorf("text %q is not the words", r.Text)
			}
		})
	}
}

func containsWord(text, w string) bool {
	for _, f := range strings.Fields(text) {
		if f == w {
			return true
		}
	}
	return false
}

func TestTranscribeSilenceIsNoSpeech(t *testing.T) {
	e := engineOrSkip(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, src string }{
		// Digital silence (decoded, found silent, the recogniser not even asked) …
		{"digital", "anullsrc=r=48000:cl=mono:d=4"},
		// … and a quiet room (−50 dBFS pink noise), which the recogniser itself rejects.
		{"room-noise", "anoisesrc=d=4:c=pink:r=48000:a=0.003:seed=7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, tc.name+".webm")
			ffmpeg(t, "-f", "lavfi", "-i", tc.src, "-t", "4", "-c:a", "libopus", "-b:a", "32k", f)
			r, err := e.Transcribe(context.Background(), f)
			if !errors.Is(err, ErrNoSpeech) {
				t.Fatalf("got %+v, %v; want ErrNoSpeech", r, err)
			}
		})
	}
}

func TestTranscribeRealTimeout(t *testing.T) {
	e := engineOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Transcribe(ctx, filepath.Join(testDataDir(), clearRecording))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s after a 50 ms deadline", d)
	}
}

func TestTranscribeUndecodable(t *testing.T) {
	e := engineOrSkip(t)
	f := filepath.Join(t.TempDir(), "note.webm")
	os.WriteFile(f, []byte("this is not audio at all"), 0o644)
	_, err := e.Transcribe(context.Background(), f)
	var te *ToolError
	if !errors.As(err, &te) || te.Tool != "ffmpeg" || te.Stderr == "" {
		t.Fatalf("err %v, want ffmpeg's ToolError with what it said", err)
	}
	t.Log(err)
}

// The tests below need no tool: fakes stand in for them.

// fakeModel makes files where Check looks for the model.
func fakeModel(t *testing.T) Config {
	t.Helper()
	d := t.TempDir()
	os.Mkdir(filepath.Join(d, "hmm"), 0o755)
	for _, f := range []string{"hmm/mdef", "lm.bin", "dict"} {
		if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Config{HMM: filepath.Join(d, "hmm"), LM: filepath.Join(d, "lm.bin"), Dict: filepath.Join(d, "dict"), TempDir: t.TempDir()}
}

// script writes an executable shell script.
func script(t *testing.T, body string) string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	f := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func audioFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "note.webm")
	os.WriteFile(f, []byte("x"), 0o644)
	return f
}

func TestMissingTools(t *testing.T) {
	c := fakeModel(t)
	sh := script(t, "exit 0")

	c1 := c
	c1.FFmpeg, c1.PocketSphinx = sh, "/nonexistent/pocketsphinx_continuous"
	e := NewPocketSphinx(c1)
	_, err := e.Transcribe(context.Background(), audioFile(t))
	var m *MissingError
	if !errors.As(err, &m) || m.What != "/nonexistent/pocketsphinx_continuous" ||
		m.Error() != "/nonexistent/pocketsphinx_continuous not found: install the Debian packages pocketsphinx and pocketsphinx-en-us" {
		t.Fatalf("err %v, want a MissingError for pocketsphinx_continuous", err)
	}
	if e.Available() || e.Check() == nil {
		t.Error("Available with a missing program")
	}

	c2 := c
	c2.FFmpeg, c2.PocketSphinx = "no-such-ffmpeg-on-path", sh
	if err := NewPocketSphinx(c2).Check(); !errors.As(err, &m) || !strings.Contains(m.Error(), "no-such-ffmpeg-on-path not found: install the Debian package ffmpeg") {
		t.Fatalf("err %v", err)
	}

	c3 := c
	c3.FFmpeg, c3.PocketSphinx, c3.HMM = sh, sh, t.TempDir() // no mdef
	if err := NewPocketSphinx(c3).Check(); !errors.As(err, &m) || !strings.Contains(m.What, "acoustic model") || m.Install != installModel {
		t.Fatalf("err %v", err)
	}

	c4 := c
	c4.FFmpeg, c4.PocketSphinx = sh, sh
	if err := NewPocketSphinx(c4).Check(); err != nil {
		t.Fatalf("all there: %v", err)
	}
	_, err = NewPocketSphinx(c4).Transcribe(context.Background(), filepath.Join(t.TempDir(), "gone.webm"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing audio file: %v", err)
	}
}

// TestHangKilledWithItsGroup: a tool that hangs, with a child holding its output open,
// is cut by the context and killed with its process group, not waited for.
func TestHangKilledWithItsGroup(t *testing.T) {
	c := fakeModel(t)
	c.FFmpeg = script(t, "sleep 60 &\nsleep 60\n")
	c.PocketSphinx = c.FFmpeg
	c.KillWait = 20 * time.Second // were the child left alive, Run would wait this long
	e := NewPocketSphinx(c)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Transcribe(ctx, audioFile(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s: the group was not killed", d)
	}
	// An already-ended context starts nothing.
	_, err = e.Transcribe(ctx, audioFile(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestToolFailure(t *testing.T) {
	c := fakeModel(t)
	c.FFmpeg = script(t, "echo 'note.webm: Invalid data found when processing input' >&2\nexit 1")
	c.PocketSphinx = c.FFmpeg
	_, err := NewPocketSphinx(c).Transcribe(context.Background(), audioFile(t))
	var te *ToolError
	if !errors.As(err, &te) || te.Tool != "ffmpeg" || !strings.Contains(te.Stderr, "Invalid data") {
		t.Fatalf("err %v", err)
	}
}

// A recogniser that prints no word for audio that is not silent: ErrNoSpeech.
func TestNoWordsIsNoSpeech(t *testing.T) {
	c := fakeModel(t)
	// A fake ffmpeg writes 0.1 s of a quiet tone as float samples to its last argument;
	// a fake pocketsphinx prints an utterance of silences only.
	c.FFmpeg = script(t, `for last; do :; done; printf '\000\000\000\075%.0s' $(seq 1600) > "$last"`)
	c.PocketSphinx = script(t, "echo; echo '<s> 0.000 0.050 1.000000'; echo '<sil> 0.06 0.09 0.9'")
	_, err := NewPocketSphinx(c).Transcribe(context.Background(), audioFile(t))
	if !errors.Is(err, ErrNoSpeech) {
		t.Fatalf("err %v", err)
	}
	// The same recogniser printing words: a result.
	c.PocketSphinx = script(t, "echo hello; echo '<s> 0 0.01 1'; echo 'hello(2) 0.02 0.09 0.8'")
	r, err := NewPocketSphinx(c).Transcribe(context.Background(), audioFile(t))
	if err != nil || r.Text != "hello" || r.Confidence != 0.8 || r.Language != "en-US" {
		t.Fatalf("%+v %v", r, err)
	}
}

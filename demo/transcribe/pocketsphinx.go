package transcribe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Debian 12's defaults: the programs on PATH and the model of pocketsphinx-en-us.
const (
	DefaultFFmpeg       = "ffmpeg"
	DefaultPocketSphinx = "pocketsphinx_continuous"
	DefaultModelDir     = "/usr/share/pocketsphinx/model/en-us"
)

// How to install what is missing, for MissingError.
const (
	installFFmpeg = "install the Debian package ffmpeg"
	installPS     = "install the Debian packages pocketsphinx and pocketsphinx-en-us"
	installModel  = "install the Debian package pocketsphinx-en-us"
)

// SampleRate is the rate the acoustic model was trained at, and the one audio is
// decoded to.
const SampleRate = 16000

// Config says where PocketSphinx's tools and model are. Zero fields take Debian's
// defaults.
type Config struct {
	FFmpeg       string // the ffmpeg program: a name looked up on PATH, or a path
	PocketSphinx string // the pocketsphinx_continuous program
	HMM          string // the acoustic model's directory; default DefaultModelDir/en-us
	LM           string // the language model; default DefaultModelDir/en-us.lm.bin
	Dict         string // the pronunciation dictionary; default DefaultModelDir/cmudict-en-us.dict
	TempDir      string // where the decoded audio is written for the recogniser; default os.TempDir()
	// ExtraArgs are added to pocketsphinx_continuous's arguments (tuning: "-beam", "1e-60").
	ExtraArgs []string
	// KillWait bounds how long a killed tool's pipes are waited for; default 2 s.
	KillWait time.Duration
}

// PocketSphinx is the offline recogniser: ffmpeg decodes the stored audio to 16 kHz mono
// 16-bit WAV and pocketsphinx_continuous recognises it with word times and posteriors.
// It holds no state between calls: safe for concurrent use.
type PocketSphinx struct {
	c Config
}

var _ Engine = (*PocketSphinx)(nil)

// NewPocketSphinx makes the engine; it does not check that the tools are there (Check).
func NewPocketSphinx(c Config) *PocketSphinx {
	if c.FFmpeg == "" {
		c.FFmpeg = DefaultFFmpeg
	}
	if c.PocketSphinx == "" {
		c.PocketSphinx = DefaultPocketSphinx
	}
	if c.HMM == "" {
		c.HMM = filepath.Join(DefaultModelDir, "en-us")
	}
	if c.LM == "" {
		c.LM = filepath.Join(DefaultModelDir, "en-us.lm.bin")
	}
	if c.Dict == "" {
		c.Dict = filepath.Join(DefaultModelDir, "cmudict-en-us.dict")
	}
	if c.KillWait <= 0 {
		c.KillWait = 2 * time.Second
	}
	return &PocketSphinx{c: c}
}

// Config is the engine's configuration with the defaults filled in.
func (p *PocketSphinx) Config() Config { return p.c }

// Check tells whether the engine can run: nil, or a *MissingError naming the first tool
// or model that is not installed. The server calls it at start-up.
func (p *PocketSphinx) Check() error {
	if _, err := exec.LookPath(p.c.FFmpeg); err != nil {
		return &MissingError{What: p.c.FFmpeg, Install: installFFmpeg}
	}
	if _, err := exec.LookPath(p.c.PocketSphinx); err != nil {
		return &MissingError{What: p.c.PocketSphinx, Install: installPS}
	}
	for _, m := range []struct{ what, path string }{
		{"the acoustic model " + p.c.HMM, filepath.Join(p.c.HMM, "mdef")},
		{"the language model " + p.c.LM, p.c.LM},
		{"the dictionary " + p.c.Dict, p.c.Dict},
	} {
		if _, err := os.Stat(m.path); err != nil {
			return &MissingError{What: m.what, Install: installModel}
		}
	}
	return nil
}

// Available is Check() == nil.
func (p *PocketSphinx) Available() bool { return p.Check() == nil }

// Transcribe decodes and recognises the recording at audioPath.
func (p *PocketSphinx) Transcribe(ctx context.Context, audioPath string) (Result, error) {
	res, _, err := p.transcribe(ctx, audioPath)
	return res, err
}

// transcribe also returns the decoded duration in seconds (for the benchmark's RTF).
func (p *PocketSphinx) transcribe(ctx context.Context, audioPath string) (Result, float64, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, 0, fmt.Errorf("transcribe: %w", err)
	}
	if err := p.Check(); err != nil {
		return Result{}, 0, err
	}
	if _, err := os.Stat(audioPath); err != nil {
		return Result{}, 0, fmt.Errorf("transcribe: the audio: %w", err)
	}
	dir, err := os.MkdirTemp(p.c.TempDir, "transcribe-")
	if err != nil {
		return Result{}, 0, fmt.Errorf("transcribe: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	// 1. Decode to 32-bit float, mono, 16 kHz. Float, so that nothing clips on the way
	// (an Opus decoder's overshoot, a stereo fold-down that sums the channels); the
	// conversion to 16 bits, with the gain that keeps the peak under full scale, is ours.
	raw := filepath.Join(dir, "audio.f32")
	if _, err := p.run(ctx, "ffmpeg", p.c.FFmpeg,
		"-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-i", audioPath,
		"-map", "0:a:0", "-vn", "-sn", "-dn",
		"-ac", "1", "-ar", fmt.Sprint(SampleRate),
		"-c:a", "pcm_f32le", "-f", "f32le", raw,
	); err != nil {
		return Result{}, 0, err
	}
	wav := filepath.Join(dir, "audio.wav")
	st, err := f32ToWAV16(raw, wav, SampleRate)
	if err != nil {
		return Result{}, 0, fmt.Errorf("transcribe: convert the decoded audio: %w", err)
	}
	os.Remove(raw)
	seconds := float64(st.Samples) / SampleRate
	if st.Samples == 0 || st.Peak == 0 {
		return Result{}, seconds, ErrNoSpeech // nothing, or digital silence: no need to ask
	}

	// 2. Recognise, with word times and posteriors on standard output.
	args := []string{"-infile", wav, "-time", "yes",
		"-hmm", p.c.HMM, "-lm", p.c.LM, "-dict", p.c.Dict,
		"-samprate", fmt.Sprint(SampleRate)}
	out, err := p.run(ctx, "pocketsphinx_continuous", p.c.PocketSphinx, append(args, p.c.ExtraArgs...)...)
	if err != nil {
		return Result{}, seconds, err
	}
	words := ParseWordTimes(out)
	if len(words) == 0 {
		return Result{}, seconds, ErrNoSpeech
	}
	return NewResult(words), seconds, nil
}

// maxStdout bounds what a tool's standard output is kept to (pocketsphinx prints ~30
// bytes a word: 16 MiB is far beyond any voice note).
const maxStdout = 16 << 20

// run runs a tool in a process group of its own, killed with the group when ctx ends,
// and returns its standard output.
func (p *PocketSphinx) run(ctx context.Context, tool, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	ownGroup(cmd)
	cmd.WaitDelay = p.c.KillWait
	var stdout limitedBuffer
	stdout.max = maxStdout
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	if err == nil {
		lowerPriority(cmd)
		err = cmd.Wait()
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("transcribe: %s: %w", tool, ctx.Err())
	}
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			install := installPS
			if tool == "ffmpeg" {
				install = installFFmpeg
			}
			return "", &MissingError{What: prog, Install: install}
		}
		return "", &ToolError{Tool: tool, Err: err, Stderr: stderr.summary()}
	}
	if stdout.over {
		return "", &ToolError{Tool: tool, Err: errors.New("too much output"), Stderr: stderr.summary()}
	}
	return stdout.String(), nil
}

// limitedBuffer keeps up to max bytes and notes that more came.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// tailBuffer keeps the last 8 KiB written to it: pocketsphinx logs pages of INFO lines
// to standard error, and what matters when it fails is at the end.
type tailBuffer struct{ b []byte }

const tailMax = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > tailMax {
		p = p[len(p)-tailMax:]
	}
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return n, nil
}

// summary is what a failure's message shows: the tool's ERROR and FATAL lines if it
// wrote any (pocketsphinx), or else its last three lines (ffmpeg at -loglevel error).
func (t *tailBuffer) summary() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	var errs []string
	for _, l := range lines {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "FATAL") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) == 0 {
		errs = lines
	}
	if len(errs) > 3 {
		errs = errs[len(errs)-3:]
	}
	return strings.Join(errs, "; ")
}

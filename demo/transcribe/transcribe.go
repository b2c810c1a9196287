// Package transcribe recognises the speech in a stored voice note: the local API's
// transcriber, behind a small interface (Engine) so that another engine can replace it.
//
// The engine shipped here, PocketSphinx, is pure Go on this side: it drives Debian's
// command-line tools with os/exec (ffmpeg decodes the audio, pocketsphinx_continuous
// recognises it), so a server built without cgo keeps building and a machine without the
// tools still runs the server, which reports the engine as missing (MissingError).
package transcribe

import (
	"context"
	"errors"
	"fmt"
)

// Language is the only language the shipped engine recognises.
const Language = "en-US"

// Engine turns a stored recording into text with per-word times and confidences.
type Engine interface {
	// Transcribe recognises the audio file at audioPath (WebM/Opus, Ogg/Opus or WAV at
	// any rate, mono or stereo). It honours ctx: a cancelled or expired context ends
	// the work and the error wraps ctx.Err(). No words at all is ErrNoSpeech; a tool
	// or model that is not installed is a *MissingError.
	Transcribe(ctx context.Context, audioPath string) (Result, error)
}

// Result is a recognised recording: the transcription resource's content.
type Result struct {
	Text       string  // the words joined by single spaces
	Confidence float64 // 0–1: the duration-weighted mean of the words' confidences
	Language   string  // BCP 47, "en-US"
	Words      []Word  // in time order
}

// Word is one recognised word. Times are seconds from the start of the recording.
type Word struct {
	Word       string
	Start, End float64
	Confidence float64 // 0–1, the word's posterior probability
}

// ErrNoSpeech is returned when the engine ran but recognised no word (silence, noise).
var ErrNoSpeech = errors.New("transcribe: no speech could be recognised")

// MissingError says that a tool or model the engine needs is not installed, and how to
// install it. It is returned as *MissingError by Check and by Transcribe.
type MissingError struct {
	What    string // what is missing: a program's name or a model's path
	Install string // how to install it
}

func (e *MissingError) Error() string {
	if e.Install == "" {
		return e.What + " not found"
	}
	return e.What + " not found: " + e.Install
}

// ToolError is a tool that ran and failed (a file ffmpeg cannot decode, a model
// pocketsphinx cannot load): which tool, how it ended and the end of what it printed.
type ToolError struct {
	Tool   string // "ffmpeg", "pocketsphinx_continuous"
	Err    error  // how it ended (an *exec.ExitError, usually)
	Stderr string // the last lines it wrote to its standard error
}

func (e *ToolError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("transcribe: %s: %v", e.Tool, e.Err)
	}
	return fmt.Sprintf("transcribe: %s: %v: %s", e.Tool, e.Err, e.Stderr)
}

func (e *ToolError) Unwrap() error { return e.Err }

// Confidence is the duration-weighted mean of the words' confidences (a word of zero
// length counts as one frame, 10 ms), 0 for no words.
func Confidence(words []Word) float64 {
	var sum, total float64
	for _, w := range words {
		d := w.End - w.Start
		if !(d > 0.01) { // also NaN
			d = 0.01
		}
		sum += d * clamp01(w.Confidence)
		total += d
	}
	if total == 0 {
		return 0
	}
	return clamp01(sum / total)
}

// NewResult makes a Result of the words: Text, Confidence and Language; words must not
// be empty (that is ErrNoSpeech).
func NewResult(words []Word) Result {
	text := make([]byte, 0, 8*len(words))
	for i, w := range words {
		if i > 0 {
			text = append(text, ' ')
		}
		text = append(text, w.Word...)
	}
	return Result{Text: string(text), Confidence: Confidence(words), Language: Language, Words: words}
}

func clamp01(v float64) float64 {
	switch {
	case v > 1:
		return 1
	case v >= 0:
		return v
	default: // negative or NaN
		return 0
	}
}

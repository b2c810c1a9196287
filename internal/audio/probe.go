// Package audio tells, from the bytes alone, what an audio file is and how long it is:
// the container (Sniff), and for the formats the API accepts (WebM, Ogg, WAV) the codec,
// sample rate, channel count and duration as the container itself records them (Probe).
// It also gives a MediaRecorder WebM the Duration its writer left out (Repair).
//
// The same code runs in the browser, compiled to WebAssembly, and on the server, so it
// uses only small parts of the standard library. Every parser reads through an
// io.ReaderAt in bounded windows: whatever sizes a file claims, a call allocates a few
// hundred KiB at most, always moves forward, and returns a *ProbeError rather than
// panicking on truncated or hostile input.
package audio

import (
	"errors"
	"io"
)

// Format names a container.
type Format string

// The containers Sniff recognises. Only WebM, Ogg and WAV are accepted by the API; the
// others are named so that a refusal can say what the file was.
const (
	WebM    Format = "webm" // WebM and Matroska alike; Probe checks the DocType
	Ogg     Format = "ogg"
	WAV     Format = "wav"
	MP3     Format = "mp3"
	MP4     Format = "mp4" // ISO BMFF: mp4, m4a, mov and their kin
	FLAC    Format = "flac"
	AAC     Format = "aac" // raw ADTS
	Unknown Format = "unknown"
)

// SupportedFormats lists the formats the API accepts, in the reference's order, for
// error details.
var SupportedFormats = []string{"webm", "wav", "ogg"}

// Supported reports whether the API accepts the format (webm, ogg, wav).
func (f Format) Supported() bool {
	return f == WebM || f == Ogg || f == WAV
}

// Info is what Probe learns of a file.
type Info struct {
	Format     Format
	Codec      string // "opus", "vorbis", "pcm_s16le", …; "" when unknown
	SampleRate int    // Hz, 0 when the container does not say
	Channels   int
	Duration   float64 // seconds, read from the container itself
	// DurationFromHeader is true for WebM when the Segment Info carried a Duration, false
	// when the duration was computed from the blocks. Ogg and WAV always compute it, and
	// leave this false.
	DurationFromHeader bool
}

// ErrUnsupported is matched, through errors.Is, by a *ProbeError whose Format the API
// does not accept, so that a caller can tell "wrong format" from "broken file".
var ErrUnsupported = errors.New("audio: unsupported format")

// ProbeError is the error of Probe and Repair.
type ProbeError struct {
	Format Format // what Sniff saw; Unknown when nothing matched
	Reason string // e.g. "truncated data chunk", "no audio track", "no duration"
	Err    error  // the reader's error when Reason is "read error", else nil
}

// Error returns "audio: <format>: <reason>", and the reader's error when there is one.
func (e *ProbeError) Error() string {
	s := "audio: " + string(e.Format) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrUnsupported) true for formats the API does not accept.
func (e *ProbeError) Is(target error) bool {
	return target == ErrUnsupported && !e.Format.Supported()
}

// Unwrap returns the reader's error, if any.
func (e *ProbeError) Unwrap() error { return e.Err }

func fail(f Format, reason string) *ProbeError {
	return &ProbeError{Format: f, Reason: reason}
}

// Probe reads what it needs of a file through r, which holds size bytes, and returns
// its Info. Any failure is a *ProbeError; on failure the Info carries only the Format.
// For containers other than WebM, Ogg and WAV, the error matches ErrUnsupported.
func Probe(r io.ReaderAt, size int64) (Info, error) {
	if r == nil || size < 0 {
		return Info{Format: Unknown}, fail(Unknown, "invalid reader or size")
	}
	format, err := sniffAt(r, size)
	if err != nil {
		return Info{Format: format}, err
	}
	var info Info
	switch format {
	case WAV:
		info, err = probeWAV(newSource(r, size, wavWindow, WAV))
	case Ogg:
		info, err = probeOgg(newSource(r, size, oggWindow, Ogg))
	case WebM:
		info, err = probeWebM(newSource(r, size, webmWindow, WebM))
	default:
		return Info{Format: format}, unsupported(format, size)
	}
	if err != nil {
		return Info{Format: format}, err
	}
	info.Format = format
	return info, nil
}

// sniffAt reads the first SniffLen bytes and names the container.
func sniffAt(r io.ReaderAt, size int64) (Format, error) {
	var head [SniffLen]byte
	n := int64(len(head))
	if size < n {
		n = size
	}
	m, err := r.ReadAt(head[:n], 0)
	if m < 0 || int64(m) > n {
		m = 0
	}
	if int64(m) < n && err != nil && err != io.EOF {
		return Unknown, &ProbeError{Format: Unknown, Reason: "read error", Err: err}
	}
	return Sniff(head[:m]), nil
}

func unsupported(f Format, size int64) *ProbeError {
	switch {
	case f != Unknown:
		return fail(f, "unsupported format")
	case size == 0:
		return fail(f, "empty file")
	}
	return fail(f, "unrecognised format")
}

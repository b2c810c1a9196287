// Package validate holds the API's limits on a voice note and checks a file against
// them, in the API's order. The SDK runs it before anything leaves the browser and the
// server runs it again on what arrives, so both refuse the same files the same way.
package validate

import (
	"math"
	"strconv"

	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
)

const (
	// MaxBytes is the API's 25 MB, in the binary megabytes its messages use.
	MaxBytes = 25 << 20
	// MaxDuration is the longest voice note in seconds.
	MaxDuration = 60
	// DurationTolerance absorbs container rounding (a 60 s recording may read 60.02 s).
	DurationTolerance = 0.5
)

// Problem is a refusal: the API's code for it and the details the reference gives.
type Problem struct {
	Code    catalog.Code
	Details map[string]any
	Reason  string // for the technical message
}

// SizeLabel writes a byte count the way the reference's details do: "30MB", to a tenth.
// A file over the limit never reads as the limit itself ("25.1MB", not "25MB").
func SizeLabel(bytes int64) string {
	tenths := float64(bytes) / (1 << 20) * 10
	mb := math.Round(tenths) / 10
	if bytes > MaxBytes && mb <= MaxBytes>>20 {
		mb = math.Ceil(tenths) / 10
	}
	return strconv.FormatFloat(mb, 'f', -1, 64) + "MB"
}

// Size refuses a file over the limit before anything is read.
func Size(bytes int64) *Problem {
	if bytes <= MaxBytes {
		return nil
	}
	return &Problem{Code: catalog.FileSizeExceeded, Reason: "the file is " + SizeLabel(bytes),
		Details: map[string]any{"max_size": SizeLabel(MaxBytes), "actual_size": SizeLabel(bytes)}}
}

// Audio checks what Probe made of a file: a supported container, readable, not too long.
func Audio(info audio.Info, probeErr error) *Problem {
	if probeErr != nil {
		// Probe's failures are *audio.ProbeError, unwrapped; a type assertion rather than
		// errors.As, which would bring reflection into the wasm.
		if pe, ok := probeErr.(*audio.ProbeError); ok && !pe.Format.Supported() {
			format := pe.Format
			return &Problem{Code: catalog.UnsupportedAudioFormat, Reason: "the file is " + string(format),
				Details: map[string]any{"format": string(format), "supported_formats": audio.SupportedFormats}}
		}
		// A recognised container that cannot be read, or a failure to read at all.
		return &Problem{Code: catalog.AudioProcessingFailed, Reason: probeErr.Error()}
	}
	if info.Duration > MaxDuration+DurationTolerance {
		d := math.Round(info.Duration*100) / 100
		return &Problem{Code: catalog.RecordingTooLong, Reason: "the recording is " + strconv.FormatFloat(d, 'f', -1, 64) + " s long",
			Details: map[string]any{"max_duration": MaxDuration, "actual_duration": d}}
	}
	return nil
}

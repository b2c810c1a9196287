package api_test

import (
	"log/slog"
	"testing"

	"github.com/vocafuse/recorder/demo/internal/testaudio"
)

func slogTo(w *syncBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func makeWAV(rate int, seconds, freq float64) []byte { return testaudio.WAV(rate, seconds, freq) }

func makeMP3() []byte { return testaudio.MP3() }

func ffmpegAudio(t *testing.T, container, seconds string) []byte {
	return testaudio.FFmpeg(t, container, seconds)
}

package audio

import (
	"bytes"
	"path/filepath"
	"testing"
)

// The benchmarks work on 60 s files made once per run with ffmpeg.

func bench60sWebM(b *testing.B) []byte {
	needTools(b, "ffmpeg", "espeak-ng")
	// MediaRecorder's layout, so that Probe must walk the Clusters.
	return sharedFile(b, "60s-mediarecorder.webm", func(tb testing.TB, dir string) string {
		path := filepath.Join(dir, "60s-mediarecorder.webm")
		writeFile(tb, path, mediaRecorderWebM(tb, dir, 60, 20, 1))
		return path
	})
}

func benchProbe(b *testing.B, file []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	r := bytes.NewReader(file)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Probe(r, int64(len(file))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProbeWebM60s(b *testing.B) {
	file := bench60sWebM(b)
	if info, err := probeBytes(file); err != nil || info.DurationFromHeader {
		b.Fatalf("%+v, %v: want a WebM without Duration", info, err)
	}
	benchProbe(b, file)
}

func BenchmarkProbeOgg60s(b *testing.B) {
	needTools(b, "ffmpeg", "espeak-ng")
	benchProbe(b, sharedFile(b, "60s.ogg", ff("60s.ogg", 60, "-ar", "48000", "-ac", "1", "-c:a", "libopus")))
}

func BenchmarkProbeWAV60s(b *testing.B) {
	needTools(b, "ffmpeg", "espeak-ng")
	benchProbe(b, sharedFile(b, "60s.wav", ff("60s.wav", 60, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le")))
}

func BenchmarkRepair60s(b *testing.B) {
	file := bench60sWebM(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	r := bytes.NewReader(file)
	b.ResetTimer()
	for b.Loop() {
		if _, _, ok, _, err := Repair(r, int64(len(file))); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

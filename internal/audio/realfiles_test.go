package audio

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// realCase is a file made at test time, and what Probe must say of it.
type realCase struct {
	name     string
	make     func(tb testing.TB, dir string) string
	format   Format
	codec    string
	rate     int // 0: not checked
	channels int
	seconds  float64 // the length it was made with
}

// ff encodes looped speech with ffmpeg.
func ff(out string, seconds float64, args ...string) func(testing.TB, string) string {
	return func(tb testing.TB, dir string) string { return loopSpeech(tb, dir, out, seconds, args...) }
}

// soxWAV converts the speech with sox to a WAV of the given rate, bits and channels,
// repeated and trimmed to seconds.
func soxWAV(out string, seconds float64, rate, bits, channels int) func(testing.TB, string) string {
	return func(tb testing.TB, dir string) string {
		path := filepath.Join(dir, out)
		run(tb, "sox", speech(tb, dir), "-r", strconv.Itoa(rate), "-b", strconv.Itoa(bits),
			"-c", strconv.Itoa(channels), path, "repeat", "30", "trim", "0", ftoa(seconds))
		return path
	}
}

// ffPipe has ffmpeg write to a pipe, so it cannot go back to fill in sizes.
func ffPipe(out string, seconds float64, args ...string) func(testing.TB, string) string {
	return func(tb testing.TB, dir string) string {
		path := filepath.Join(dir, out)
		b := run(tb, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-stream_loop", "-1",
			"-i", speech(tb, dir), "-t", ftoa(seconds)}, append(args, "pipe:1")...)...)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return path
	}
}

var realCases = []realCase{
	{"webm-opus-1.3s-mono", ff("a.webm", 1.3, "-ar", "48000", "-ac", "1", "-c:a", "libopus"), WebM, "opus", 48000, 1, 1.3},
	{"webm-opus-7s-stereo", ff("b.webm", 7, "-ar", "48000", "-ac", "2", "-c:a", "libopus"), WebM, "opus", 48000, 2, 7},
	{"webm-opus-61s-mono", ff("c.webm", 61, "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "24k"), WebM, "opus", 48000, 1, 61},
	{"webm-vorbis-1.3s", ff("d.webm", 1.3, "-ar", "22050", "-ac", "1", "-c:a", "libvorbis"), WebM, "vorbis", 22050, 1, 1.3},
	{"matroska-vorbis-7s", ff("e.mka", 7, "-ar", "44100", "-ac", "2", "-c:a", "libvorbis"), WebM, "vorbis", 44100, 2, 7},
	{"matroska-pcm-1.3s", ff("f.mka", 1.3, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le"), WebM, "pcm/int/lit", 16000, 1, 1.3},

	{"ogg-opus-1.3s-mono", ff("a.opus.ogg", 1.3, "-ar", "48000", "-ac", "1", "-c:a", "libopus"), Ogg, "opus", 48000, 1, 1.3},
	{"ogg-opus-7s-stereo", ff("b.opus.ogg", 7, "-ar", "48000", "-ac", "2", "-c:a", "libopus"), Ogg, "opus", 48000, 2, 7},
	{"ogg-opus-61s-16k", ff("c.opus.ogg", 61, "-ar", "16000", "-ac", "1", "-c:a", "libopus", "-b:a", "16k"), Ogg, "opus", 48000, 1, 61},
	{"ogg-vorbis-1.3s-44k", ff("a.vorbis.ogg", 1.3, "-ar", "44100", "-ac", "1", "-c:a", "libvorbis"), Ogg, "vorbis", 44100, 1, 1.3},
	{"ogg-vorbis-7s-8k", ff("b.vorbis.ogg", 7, "-ar", "8000", "-ac", "1", "-c:a", "libvorbis"), Ogg, "vorbis", 8000, 1, 7},
	{"ogg-vorbis-61s-stereo", ff("c.vorbis.ogg", 61, "-ar", "22050", "-ac", "2", "-c:a", "libvorbis"), Ogg, "vorbis", 22050, 2, 61},

	{"wav-u8-8k-mono-1.3s", soxWAV("a.wav", 1.3, 8000, 8, 1), WAV, "pcm_u8", 8000, 1, 1.3},
	{"wav-u8-11k-stereo-7s", soxWAV("b.wav", 7, 11025, 8, 2), WAV, "pcm_u8", 11025, 2, 7},
	{"wav-s16-16k-mono-7s", soxWAV("c.wav", 7, 16000, 16, 1), WAV, "pcm_s16le", 16000, 1, 7},
	{"wav-s16-32k-stereo-1.3s", soxWAV("d.wav", 1.3, 32000, 16, 2), WAV, "pcm_s16le", 32000, 2, 1.3},
	{"wav-s16-44k-stereo-61s", soxWAV("e.wav", 61, 44100, 16, 2), WAV, "pcm_s16le", 44100, 2, 61},
	{"wav-s24-22k-mono-1.3s", soxWAV("f.wav", 1.3, 22050, 24, 1), WAV, "pcm_s24le", 22050, 1, 1.3},
	{"wav-s24-48k-stereo-7s", soxWAV("g.wav", 7, 48000, 24, 2), WAV, "pcm_s24le", 48000, 2, 7},
	{"wav-f32-48k-stereo-1.3s", ff("h.wav", 1.3, "-ar", "48000", "-ac", "2", "-c:a", "pcm_f32le"), WAV, "pcm_f32le", 48000, 2, 1.3},
	{"wav-s24-ffmpeg-16k-7s", ff("i.wav", 7, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s24le"), WAV, "pcm_s24le", 16000, 1, 7},
	{"wav-streaming-pipe", ffPipe("j.wav", 7, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav"), WAV, "pcm_s16le", 16000, 1, 7},
	{"wav-rf64", ff("k.wav", 1.3, "-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le", "-rf64", "always"), WAV, "pcm_s16le", 8000, 1, 1.3},
	{"wav-s16-list-chunk", ff("l.wav", 1.3, "-ar", "16000", "-ac", "1", "-metadata", "title=a note", "-c:a", "pcm_s16le"), WAV, "pcm_s16le", 16000, 1, 1.3},

	{"mp3-id3", ff("a.mp3", 1.3, "-c:a", "libmp3lame"), MP3, "", 0, 0, 0},
	{"mp3-bare", ff("b.mp3", 1.3, "-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"), MP3, "", 0, 0, 0},
	{"m4a", ff("a.m4a", 1.3, "-c:a", "aac"), MP4, "", 0, 0, 0},
	{"flac", ff("a.flac", 1.3, "-c:a", "flac"), FLAC, "", 0, 0, 0},
	{"aac-adts", ff("a.aac", 1.3, "-c:a", "aac", "-f", "adts"), AAC, "", 0, 0, 0},
}

// TestRealFiles checks Sniff and Probe on files made by ffmpeg, sox and espeak-ng:
// format, codec, rate and channels right, and the duration within 20 ms of ffprobe's.
func TestRealFiles(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe", "sox", "espeak-ng")
	dir := t.TempDir()
	speech(t, dir) // before the parallel subtests, which all read it
	for _, c := range realCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := c.make(t, dir)
			b := readFile(t, path)
			if got := Sniff(b[:min(len(b), SniffLen)]); got != c.format {
				t.Errorf("Sniff = %q, want %q", got, c.format)
			}
			info, err := probeBytes(b)
			if !c.format.Supported() {
				checkUnsupported(t, b, info, err, c.format)
				return
			}
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			checkInfo(t, info, c)
			want, ok := ffprobeDuration(t, path)
			if !ok {
				t.Fatal("ffprobe reports no duration")
			}
			t.Logf("%+v ffprobe %.4f", info, want)
			if math.Abs(info.Duration-want) > 0.020 {
				t.Errorf("Duration %.4f s, ffprobe %.4f s", info.Duration, want)
			}
			if math.Abs(info.Duration-c.seconds) > 0.1 {
				t.Errorf("Duration %.4f s, made %.4f s long", info.Duration, c.seconds)
			}
			if got := info.DurationFromHeader; got != (c.format == WebM) {
				t.Errorf("DurationFromHeader = %v", got)
			}
		})
	}
}

func checkInfo(t *testing.T, info Info, c realCase) {
	t.Helper()
	if info.Format != c.format || info.Codec != c.codec {
		t.Errorf("Format, Codec = %q, %q; want %q, %q", info.Format, info.Codec, c.format, c.codec)
	}
	if c.rate != 0 && info.SampleRate != c.rate {
		t.Errorf("SampleRate = %d, want %d", info.SampleRate, c.rate)
	}
	if c.channels != 0 && info.Channels != c.channels {
		t.Errorf("Channels = %d, want %d", info.Channels, c.channels)
	}
}

func checkUnsupported(t *testing.T, b []byte, info Info, err error, f Format) {
	t.Helper()
	var pe *ProbeError
	if !errors.As(err, &pe) || pe.Format != f || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Probe error = %v, want an unsupported %s", err, f)
	}
	if info.Format != f {
		t.Errorf("Info.Format = %q", info.Format)
	}
	_, _, ok, _, err := Repair(bytes.NewReader(b), int64(len(b)))
	if ok || !errors.Is(err, ErrUnsupported) {
		t.Errorf("Repair: ok %v, err %v", ok, err)
	}
}

// Package testaudio makes the recordings the server's tests upload: WAV files written
// with the audio package's own header, the head of an MP3, and, where ffmpeg is
// installed, real WebM and Ogg files.
package testaudio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vocafuse/recorder/internal/audio/wav"
)

// WAV is a 16-bit mono WAV of a tone. The frequency varies the bytes, so two recordings
// of one length differ.
func WAV(rate int, seconds, freq float64) []byte {
	frames := int(float64(rate) * seconds)
	out := bytes.NewBuffer(make([]byte, 0, wav.HeaderSize+2*frames))
	out.Write(wav.Header(rate, frames*2))
	var sample [2]byte
	for i := range frames {
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		binary.LittleEndian.PutUint16(sample[:], uint16(v))
		out.Write(sample[:])
	}
	return out.Bytes()
}

// WAVHeader is the header of a 16-bit mono WAV holding dataBytes of samples, for a test
// that streams the samples itself.
func WAVHeader(rate, dataBytes int) []byte { return wav.Header(rate, dataBytes) }

// MP3 is the head of an MP3 file: an ID3v2 tag and MPEG layer III frame headers. Enough
// for the bytes to say what they are, which is all the server looks at.
func MP3() []byte {
	b := []byte("ID3\x03\x00\x00\x00\x00\x00\x00")
	for range 200 {
		b = append(b, 0xFF, 0xFB, 0x90, 0x64)
		b = append(b, make([]byte, 413)...)
	}
	return b
}

// FFmpeg encodes a tone of the given length ("1.5") as Opus in a WebM or Ogg file, or
// skips the test where ffmpeg is not installed or cannot do it.
func FFmpeg(t testing.TB, container, seconds string) []byte {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), "tone."+container)
	cmd := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration="+seconds,
		"-c:a", "libopus", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot make %s here: %v %s", container, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

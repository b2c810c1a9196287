package transcribe

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// pcmStats is what a pass over decoded float samples found.
type pcmStats struct {
	Samples int64
	Peak    float64 // the largest |sample|, 1.0 = full scale
}

// scanF32 reads little-endian 32-bit float samples and finds their count and peak.
// Non-finite samples count as 0.
func scanF32(r io.Reader) (pcmStats, error) {
	var s pcmStats
	br := bufio.NewReaderSize(r, 64<<10)
	var b [4]byte
	for {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF { // a torn last sample is dropped
				return s, nil
			}
			return s, err
		}
		v := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[:])))
		if a := math.Abs(v); a > s.Peak && !math.IsInf(a, 0) {
			s.Peak = a
		}
		s.Samples++
	}
}

// gainFor is the gain that keeps the peak below full scale: ffmpeg's float output of an
// Opus stream, or of a stereo file folded to mono, can go over 1.0, which a plain
// conversion to 16 bits would clip. Quieter audio is left as it is: the recogniser
// normalises the cepstrum (CMN) and its voice detector follows the noise floor, so a
// gain gains nothing there and would only lift noise.
func gainFor(peak float64) float64 {
	const ceiling = 0.98 // −0.2 dBFS
	if peak > ceiling {
		return ceiling / peak
	}
	return 1
}

// writeWAV16 writes n float samples from r, times gain, as a canonical 44-byte-header
// 16-bit mono WAV at rate: the header pocketsphinx_continuous reads (it checks bytes 20,
// 22, 24 and 34 of exactly 44 and takes the rest as samples, so no LIST chunk).
func writeWAV16(w io.Writer, r io.Reader, n int64, rate int, gain float64) error {
	if n < 0 || n > (math.MaxUint32-36)/2 {
		return fmt.Errorf("transcribe: %d samples do not fit a WAV file", n)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	dataLen := uint32(n * 2)
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataLen)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)             // fmt chunk size
	binary.LittleEndian.PutUint16(h[20:], 1)              // PCM
	binary.LittleEndian.PutUint16(h[22:], 1)              // mono
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))   // sample rate
	binary.LittleEndian.PutUint32(h[28:], uint32(rate)*2) // byte rate
	binary.LittleEndian.PutUint16(h[32:], 2)              // block align
	binary.LittleEndian.PutUint16(h[34:], 16)             // bits per sample
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataLen)
	if _, err := bw.Write(h[:]); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var in [4]byte
	var out [2]byte
	for i := int64(0); i < n; i++ {
		if _, err := io.ReadFull(br, in[:]); err != nil {
			return fmt.Errorf("transcribe: reading decoded samples: %w", err)
		}
		binary.LittleEndian.PutUint16(out[:], uint16(toS16(float64(math.Float32frombits(binary.LittleEndian.Uint32(in[:])))*gain)))
		if _, err := bw.Write(out[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// toS16 converts a float sample (full scale ±1) to 16 bits, rounding and saturating.
func toS16(v float64) int16 {
	switch {
	case math.IsNaN(v):
		return 0
	case v >= 32767.0/32768:
		return math.MaxInt16
	case v <= -1:
		return math.MinInt16
	}
	return int16(math.Round(v * 32768))
}

// f32ToWAV16 turns ffmpeg's raw float output (src) into the WAV the recogniser reads
// (dst), with the gain that avoids clipping; it returns the stats of the input.
func f32ToWAV16(src, dst string, rate int) (pcmStats, error) {
	f, err := os.Open(src)
	if err != nil {
		return pcmStats{}, err
	}
	defer f.Close()
	st, err := scanF32(f)
	if err != nil {
		return st, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return st, err
	}
	out, err := os.Create(dst)
	if err != nil {
		return st, err
	}
	if err := writeWAV16(out, f, st.Samples, rate, gainFor(st.Peak)); err != nil {
		out.Close()
		return st, err
	}
	return st, out.Close()
}

package transcribe

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func f32(samples ...float32) []byte {
	b := make([]byte, 4*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(s))
	}
	return b
}

func TestScanAndWriteWAV(t *testing.T) {
	in := f32(0, 0.5, -0.5, 1.5, -2, float32(math.NaN()), float32(math.Inf(1)))
	in = append(in, 1, 2) // a torn last sample
	st, err := scanF32(bytes.NewReader(in))
	if err != nil || st.Samples != 7 || st.Peak != 2 {
		t.Fatalf("scan: %+v %v", st, err)
	}
	g := gainFor(st.Peak)
	if g != 0.49 {
		t.Fatalf("gain %v", g)
	}
	var out bytes.Buffer
	if err := writeWAV16(&out, bytes.NewReader(in), st.Samples, 16000, g); err != nil {
		t.Fatal(err)
	}
	b := out.Bytes()
	if len(b) != 44+2*7 {
		t.Fatalf("%d bytes", len(b))
	}
	// The fields pocketsphinx_continuous checks.
	if string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" ||
		b[20] != 1 || b[22] != 1 || b[34] != 16 || binary.LittleEndian.Uint32(b[24:]) != 16000 ||
		binary.LittleEndian.Uint32(b[40:]) != 14 || binary.LittleEndian.Uint32(b[4:]) != 36+14 {
		t.Fatalf("header % x", b[:44])
	}
	var got []int16
	for i := 44; i < len(b); i += 2 {
		got = append(got, int16(binary.LittleEndian.Uint16(b[i:])))
	}
	want := []int16{0, 8028, -8028, 24084, -32113, 0, math.MaxInt16} // ×0.49; NaN 0; +Inf saturates
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("samples %v, want %v", got, want)
		}
	}
}

func TestGainOnlyAttenuates(t *testing.T) {
	for _, p := range []float64{0, 0.01, 0.5, 0.98} {
		if g := gainFor(p); g != 1 {
			t.Errorf("gainFor(%v) = %v", p, g)
		}
	}
	if g := gainFor(1.2); math.Abs(1.2*g-0.98) > 1e-12 {
		t.Errorf("gainFor(1.2) = %v", g)
	}
}

func TestToS16(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want int16
	}{{0, 0}, {1, 32767}, {-1, -32768}, {2, 32767}, {-2, -32768}, {0.5, 16384}, {-0.5, -16384}, {1.0 / 32768, 1}} {
		if got := toS16(tc.in); got != tc.want {
			t.Errorf("toS16(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	var tb tailBuffer
	tb.Write([]byte(strings.Repeat("INFO: x\n", 3000)))
	tb.Write([]byte("ERROR: \"acmod.c\", line 79: Folder 'x' does not contain acoustic model definition 'mdef'\nFATAL: \"continuous.c\", line 244: Failed to create the decoder\n"))
	if len(tb.b) > tailMax {
		t.Fatalf("kept %d bytes", len(tb.b))
	}
	s := tb.summary()
	if !strings.HasPrefix(s, "ERROR:") || !strings.Contains(s, "FATAL:") || strings.Contains(s, "INFO") {
		t.Errorf("summary %q", s)
	}
	var ff tailBuffer
	ff.Write([]byte("a\nb\nc\nd\n"))
	if s := ff.summary(); s != "b; c; d" {
		t.Errorf("summary %q", s)
	}
}

package wav

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// encode runs samples through a new encoder in chunks of the sizes next gives.
func encode(t testing.TB, in, out int, samples []float32, next func() int) []byte {
	t.Helper()
	e, err := NewEncoder(in, out)
	if err != nil {
		t.Fatal(err)
	}
	for len(samples) > 0 {
		n := min(next(), len(samples))
		e.Write(samples[:n])
		samples = samples[n:]
	}
	return e.Finish()
}

func whole() int { return math.MaxInt }

// randomChunks gives chunk sizes 1..8192, the range an AudioWorklet may deliver.
func randomChunks(seed uint64) func() int {
	r := rand.New(rand.NewPCG(seed, 1))
	return func() int { return 1 + r.IntN(8192) }
}

func sine(rate int, freq, amp float64, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

func noise(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.Float64()*2 - 1)
	}
	return x
}

// samples checks a WAV file's header against its length and returns its samples.
func samples(t testing.TB, wav []byte, rate int) []int16 {
	t.Helper()
	if len(wav) < HeaderSize || len(wav)%2 != 0 {
		t.Fatalf("file of %d bytes", len(wav))
	}
	if want := Header(rate, len(wav)-HeaderSize); !bytes.Equal(wav[:HeaderSize], want) {
		t.Fatalf("header % x, want % x", wav[:HeaderSize], want)
	}
	s := make([]int16, (len(wav)-HeaderSize)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(wav[HeaderSize+2*i:]))
	}
	return s
}

// expected is the output length the API promises: round(n × out / in).
func expected(n, in, out int) int {
	return int(math.Round(float64(n) * float64(out) / float64(in)))
}

func TestHeader(t *testing.T) {
	h := Header(16000, 32000)
	want := []byte{
		'R', 'I', 'F', 'F', 0x24, 0x7d, 0, 0, 'W', 'A', 'V', 'E',
		'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0, 1, 0,
		0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0,
		'd', 'a', 't', 'a', 0, 0x7d, 0, 0,
	}
	if !bytes.Equal(h, want) {
		t.Errorf("Header(16000, 32000) = % x\nwant                   % x", h, want)
	}
}

func TestNewEncoderRates(t *testing.T) {
	for _, r := range [][2]int{{7999, 16000}, {0, 16000}, {-48000, 16000}, {192001, 16000}, {48000, 7999}, {48000, 192001}, {48000, -1}} {
		if e, err := NewEncoder(r[0], r[1]); err == nil || e != nil {
			t.Errorf("NewEncoder(%d, %d) = %v, %v; want an error", r[0], r[1], e, err)
		}
	}
	for _, r := range [][2]int{{8000, 192000}, {192000, 8000}, {44100, 0}, {44101, 16000}, {16000, 16000}} {
		e, err := NewEncoder(r[0], r[1])
		if err != nil {
			t.Fatalf("NewEncoder(%d, %d): %v", r[0], r[1], err)
		}
		out := r[1]
		if out == 0 {
			out = DefaultRate
		}
		if e.inRate != r[0] || e.outRate != out {
			t.Errorf("NewEncoder(%d, %d) has rates %d, %d", r[0], r[1], e.inRate, e.outRate)
		}
		e.Write(noise(1, r[0]/10))
		s := samples(t, e.Finish(), out)
		if want := expected(r[0]/10, r[0], out); len(s) < want-1 || len(s) > want+1 {
			t.Errorf("%d → %d: %d samples from 0.1 s, want %d ± 1", r[0], out, len(s), want)
		}
	}
}

// The files must read as what they are in the tools the server side and people use.
func TestToolsReadFiles(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("no subprocesses under js")
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e, err := NewEncoder(48000, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.Write(sine(48000, 440, 0.5, 48000*5/2))
	if d := e.Duration(); d > 2.5 || d < 2.49 {
		t.Errorf("Duration before Finish = %v, want just under 2.5", d)
	}
	encoded := write("encoded.wav", e.Finish())
	if d := e.Duration(); d != 2.5 {
		t.Errorf("Duration = %v, want 2.5", d)
	}
	silent := write("silent.wav", append(Header(8000, 8000), make([]byte, 8000)...))

	files := []struct {
		path     string
		rate     string
		duration float64
	}{{encoded, "16000", 2.5}, {silent, "8000", 0.5}}

	if sox, err := exec.LookPath("sox"); err != nil {
		t.Log("no sox")
	} else {
		for _, f := range files {
			info := func(opt string) string {
				b, err := exec.Command(sox, "--i", opt, f.path).CombinedOutput()
				if err != nil {
					t.Fatalf("sox --i %s %s: %v\n%s", opt, f.path, err, b)
				}
				return strings.TrimSpace(string(b))
			}
			if r, c, b, e := info("-r"), info("-c"), info("-b"), info("-e"); r != f.rate || c != "1" || b != "16" || e != "Signed Integer PCM" {
				t.Errorf("sox reads %s as rate %q, %q channels, %q bits, %q", f.path, r, c, b, e)
			}
			if d, err := strconv.ParseFloat(info("-D"), 64); err != nil || math.Abs(d-f.duration) > 1e-6 {
				t.Errorf("sox reads %s as %v s (%v), want %v", f.path, d, err, f.duration)
			}
		}
	}

	if ffprobe, err := exec.LookPath("ffprobe"); err != nil {
		t.Log("no ffprobe")
	} else {
		for _, f := range files {
			b, err := exec.Command(ffprobe, "-v", "error", "-show_entries",
				"stream=codec_name,sample_rate,channels,bits_per_sample,duration", "-of", "default=noprint_wrappers=1", f.path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe %s: %v\n%s", f.path, err, b)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				k, v, _ := strings.Cut(line, "=")
				got[k] = v
			}
			d, err := strconv.ParseFloat(got["duration"], 64)
			if got["codec_name"] != "pcm_s16le" || got["sample_rate"] != f.rate || got["channels"] != "1" ||
				got["bits_per_sample"] != "16" || err != nil || math.Abs(d-f.duration) > 1e-6 {
				t.Errorf("ffprobe reads %s as %v", f.path, got)
			}
		}
	}
}

var lengthRates = [][2]int{
	{48000, 16000}, {44100, 16000}, {22050, 16000}, {8000, 16000}, {48000, 8000},
	{16000, 16000}, {48000, 48000}, {44100, 48000}, {16000, 44100}, {192000, 8000}, {44101, 16000},
}

// The output length must not depend on the chunking, nor on anything else than the
// input length, and the samples must not depend on the chunking either.
func TestLengthAndChunking(t *testing.T) {
	for _, r := range lengthRates {
		in, out := r[0], r[1]
		for _, n := range []int{0, 1, 2, 3, 7, 100, in / 3, in + 12345} {
			x := noise(uint64(n), n)
			ref := encode(t, in, out, x, whole)
			s := samples(t, ref, out)
			if want := expected(n, in, out); len(s) < want-1 || len(s) > want+1 {
				t.Errorf("%d → %d: %d samples from %d, want %d ± 1", in, out, len(s), n, want)
			}
			if n < 1000 {
				continue
			}
			for seed := range uint64(3) {
				if got := encode(t, in, out, x, randomChunks(seed)); !bytes.Equal(got, ref) {
					t.Errorf("%d → %d: %d samples in random chunks (seed %d) differ from in one", in, out, n, seed)
				}
			}
			ones := func() int { return 1 }
			if got := encode(t, in, out, x[:min(n, 20000)], ones); !bytes.Equal(got, encode(t, in, out, x[:min(n, 20000)], whole)) {
				t.Errorf("%d → %d: one sample at a time differs", in, out)
			}
		}
	}
}

// rms is the level of s[from:len(s)-from] relative to full scale.
func rms(s []int16, from int) float64 {
	s = s[from : len(s)-from]
	var sum float64
	for _, v := range s {
		f := float64(v) / 32767
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(s)))
}

func dB(x float64) float64 { return 20 * math.Log10(x) }

// toneLevel is the amplitude of the freq component of s[from:len(s)-from] under a Hann
// window, relative to full scale.
func toneLevel(s []int16, rate int, freq float64, from int) float64 {
	s = s[from : len(s)-from]
	var re, im, wsum float64
	for i, v := range s {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(s)))
		a := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += w * float64(v) * math.Cos(a)
		im += w * float64(v) * math.Sin(a)
		wsum += w
	}
	return 2 * math.Hypot(re, im) / wsum / 32767
}

// naive resamples by keeping the nearest input sample: what the filter must beat.
func naive(in, out int, x []float32) []byte {
	n := len(x) * out / in
	b := Header(out, 2*n)
	for i := range n {
		v := int16(math.Round(float64(x[i*in/out]) * 32767))
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func TestFrequencyResponse(t *testing.T) {
	const amp = 0.5
	// settle skips the output samples at each end that see the input's edges.
	const settle = 64
	level := func(in, out int, freq float64) float64 {
		s := samples(t, encode(t, in, out, sine(in, freq, amp, in), whole), out)
		return dB(rms(s, settle) / (amp / math.Sqrt2))
	}
	for _, r := range [][2]int{{48000, 16000}, {44100, 16000}, {22050, 16000}, {48000, 8000}} {
		in, out := r[0], r[1]
		// Passband: flat within 0.1 dB (the API promises 0.5 dB at 1 kHz) up to 0.38 × out.
		for _, rel := range []float64{0.01, 0.0625, 0.125, 0.25, 0.33, 0.38} {
			f := rel * float64(out)
			if g := level(in, out, f); math.Abs(g) > 0.1 {
				t.Errorf("%d → %d: %g Hz at %.3f dB, want within 0.1 dB", in, out, f, g)
			}
		}
		// Stopband: from the output's Nyquist frequency up, at least 70 dB down wherever
		// the tone falls back; 40 dB is what the API promises for 10 and 12 kHz.
		// (Not exactly at 0.5 × out, where a sine in phase with the output samples is 0.)
		for f := 0.5*float64(out) + 50; f < float64(in)/2; f += float64(in) / 2 / 23 {
			if g := level(in, out, f); g > -70 {
				t.Errorf("%d → %d: %g Hz aliased at %.1f dB, want ≤ −70 dB", in, out, f, g)
			}
		}
	}

	// The tests of the filter have teeth: picking samples fails them.
	for _, f := range []float64{10000, 12000} {
		g := level(48000, 16000, f)
		x := sine(48000, f, amp, 48000)
		gn := dB(rms(samples(t, naive(48000, 16000, x), 16000), settle) / (amp / math.Sqrt2))
		t.Logf("48000 → 16000: %g Hz at %.1f dB, by picking samples at %.1f dB", f, g, gn)
		if g > -40 {
			t.Errorf("%g Hz aliased at %.1f dB, want ≤ −40 dB", f, g)
		}
		if gn <= -40 {
			t.Errorf("picking samples aliases %g Hz at %.1f dB: the bound does not catch it", f, gn)
		}
	}
	t.Logf("48000 → 16000: 1000 Hz at %.4f dB", level(48000, 16000, 1000))

	// Upsampling: a tone keeps its level and its image above the input's Nyquist
	// frequency is at least 70 dB down.
	for _, f := range []float64{300, 1000, 2400, 3100} {
		x := sine(8000, f, amp, 8000)
		s := samples(t, encode(t, 8000, 16000, x, whole), 16000)
		if g := dB(toneLevel(s, 16000, f, settle) / amp); math.Abs(g) > 0.1 {
			t.Errorf("8000 → 16000: %g Hz at %.3f dB", f, g)
		}
		if g := dB(toneLevel(s, 16000, 8000-f, settle) / amp); g > -70 {
			t.Errorf("8000 → 16000: image of %g Hz at %g Hz, %.1f dB", f, 8000-f, g)
		}
	}
}

func TestClipping(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	in := []float32{2, -2, nan, inf, -inf, 0.5, -0.5, 1, -1, 0, 1e-6}
	want := []int16{32767, -32767, 0, 32767, -32767, 16384, -16384, 32767, -32767, 0, 0}
	got := samples(t, encode(t, 16000, 16000, in, whole), 16000)
	if !slices.Equal(got, want) {
		t.Errorf("16000 → 16000: %v, want %v", got, want)
	}

	// Through the filter: overloads are clipped before filtering, so a loud DC stays at
	// full scale, and a NaN is a zero, not a burst of NaNs.
	for _, r := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}} {
		x := make([]float32, r[0]/10)
		for i := range x {
			x[i] = 5
		}
		s := samples(t, encode(t, r[0], r[1], x, whole), r[1])
		for i, v := range s[settleOut : len(s)-settleOut] {
			if v != 32767 {
				t.Fatalf("%v: DC at 5 gives %d at %d, want 32767", r, v, i+settleOut)
			}
		}
		y := noise(5, len(x))
		copy(x, y)
		for i := 0; i < len(x); i += 97 {
			x[i], y[i] = nan, 0
		}
		x[len(x)/2], y[len(x)/2] = -inf, -1
		if a, b := encode(t, r[0], r[1], x, whole), encode(t, r[0], r[1], y, whole); !bytes.Equal(a, b) {
			t.Errorf("%v: NaN is not 0 or −Inf is not −1", r)
		}
	}
}

// settleOut is how many output samples at each end see the input's edges: the kernel's
// half span, in samples of the lower rate, which upsampling by 2 doubles.
const settleOut = 2*halfWidth + 1

func le32(x []float32) []byte {
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestWriteLE32(t *testing.T) {
	x := noise(7, 30000)
	for i := 0; i < len(x); i += 101 {
		x[i] *= 3
	}
	x[5], x[6] = float32(math.NaN()), float32(math.Inf(-1))
	b := le32(x)
	for _, r := range [][2]int{{48000, 16000}, {44100, 16000}, {16000, 16000}} {
		want := encode(t, r[0], r[1], x, whole)
		e, _ := NewEncoder(r[0], r[1])
		next := randomChunks(uint64(r[0]))
		for rest := b; len(rest) > 0; {
			n := min(4*next(), len(rest))
			e.WriteLE32(rest[:n])
			rest = rest[n:]
		}
		if got := e.Finish(); !bytes.Equal(got, want) {
			t.Errorf("%v: WriteLE32 differs from Write", r)
		}
		// A trailing partial sample is ignored.
		e, _ = NewEncoder(r[0], r[1])
		e.WriteLE32(b[:4*1000+3])
		e.WriteLE32(b[4*1000 : 4*2000+1])
		e.WriteLE32(b[:3])
		if got, want := e.Finish(), encode(t, r[0], r[1], x[:2000], whole); !bytes.Equal(got, want) {
			t.Errorf("%v: WriteLE32 with partial samples differs from Write", r)
		}
	}
}

func TestSetLimit(t *testing.T) {
	for _, r := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}, {16000, 16000}} {
		in, out := r[0], r[1]
		x := noise(3, in)
		// What the limited encoders are given, in full: x, then x again arriving late.
		ref := samples(t, encode(t, in, out, append(slices.Clone(x), x...), whole), out)
		for _, limit := range []int{1, 999, out / 2, out, 2*out - 1, 2 * out, 2*out + 1, 10 * out} {
			e, _ := NewEncoder(in, out)
			e.SetLimit(limit)
			next := randomChunks(uint64(limit))
			for rest := x; len(rest) > 0; {
				n := min(next(), len(rest))
				e.Write(rest[:n])
				rest = rest[n:]
				if e.frames > limit {
					t.Fatalf("%v limit %d: %d frames", r, limit, e.frames)
				}
			}
			e.Write(x)
			if limit <= out && e.frames != limit {
				t.Errorf("%v limit %d: %d frames before Finish", r, limit, e.frames)
			}
			s := samples(t, e.Finish(), out)
			if want := ref[:min(limit, len(ref))]; !slices.Equal(s, want) || e.frames != len(s) {
				t.Errorf("%v limit %d: %d frames (Frames %d), want %d the same as unlimited", r, limit, len(s), e.frames, len(want))
			}
		}

		// A limit below what is already out cuts the output back.
		e, _ := NewEncoder(in, out)
		e.Write(x)
		e.SetLimit(100)
		e.Write(x)
		if s := samples(t, e.Finish(), out); e.frames != 100 || !slices.Equal(s, ref[:100]) {
			t.Errorf("%v: limit lowered to 100 gives %d frames", r, len(s))
		}
	}
}

func TestFinishSpends(t *testing.T) {
	e, _ := NewEncoder(48000, 16000)
	e.Write(noise(1, 4800))
	a := e.Finish()
	e.Write(noise(2, 4800))
	e.WriteLE32(make([]byte, 400))
	e.SetLimit(3)
	if b := e.Finish(); !bytes.Equal(a, b) || len(a) != HeaderSize+2*1600 {
		t.Errorf("Finish twice: %d then %d bytes", len(a), len(b))
	}
}

// join is the file of an encoder whose PCM was taken (chunks) and cleared along the way:
// Finish's header, the chunks, then the samples Finish still held.
func join(e *Encoder, chunks []byte) []byte {
	f := e.Finish()
	return slices.Concat(f[:HeaderSize], chunks, f[HeaderSize:])
}

// TestClear: a file handed over in pieces (PCM then Clear, at random moments, as the
// browser moves it out a second at a time) joins into the very file made whole, limits
// and all, and Duration counts the samples cleared.
func TestClear(t *testing.T) {
	for i, r := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}, {16000, 16000}, {22050, 44100}} {
		in, out := r[0], r[1]
		x := noise(uint64(i), 3*in)
		for _, limit := range []int{0, 1, 999, out, 2*out + 1, 10 * out} {
			e, _ := NewEncoder(in, out)
			e.SetLimit(limit)
			f, _ := NewEncoder(in, out)
			f.SetLimit(limit)
			rng := rand.New(rand.NewPCG(uint64(limit), 4))
			var chunks []byte
			for rest := x; len(rest) > 0; {
				n := min(1+rng.IntN(8192), len(rest))
				e.Write(rest[:n])
				f.Write(rest[:n])
				rest = rest[n:]
				if rng.IntN(3) > 0 {
					chunks = append(chunks, e.PCM()...)
					e.Clear()
				}
				if e.Duration() != f.Duration() {
					t.Fatalf("%v limit %d: Duration %v, want %v", r, limit, e.Duration(), f.Duration())
				}
			}
			if got, want := join(e, chunks), f.Finish(); !bytes.Equal(got, want) {
				t.Errorf("%v limit %d: joined %d bytes differ from the whole file's %d", r, limit, len(got), len(want))
			}
		}
		// A limit lowered below what is cleared cuts only what is not: the file still joins.
		e, _ := NewEncoder(in, out)
		e.Write(x[:in])
		chunks := slices.Clone(e.PCM())
		e.Clear()
		e.Write(x[in:])
		e.SetLimit(len(chunks)/2 - 10)
		if got := samples(t, join(e, chunks), out); len(got) != len(chunks)/2 {
			t.Errorf("%v: limit under the cleared output gives %d frames, want %d", r, len(got), len(chunks)/2)
		}
	}
}

var fuzzRates = []int{8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000, 192000}

func FuzzEncoder(f *testing.F) {
	f.Add(uint8(0x56), uint64(1), uint32(0), le32(noise(1, 500)))
	f.Add(uint8(0x20), uint64(2), uint32(7), le32(sine(8000, 1000, 2, 300)))
	f.Add(uint8(0x0f), uint64(3), uint32(0), []byte{0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0xff, 1})
	f.Fuzz(func(t *testing.T, rates uint8, seed uint64, limit uint32, data []byte) {
		in := fuzzRates[int(rates&0x0f)%len(fuzzRates)]
		out := fuzzRates[int(rates>>4)%len(fuzzRates)]
		e, err := NewEncoder(in, out)
		if err != nil {
			t.Fatal(err)
		}
		limit %= 4096
		e.SetLimit(int(limit))
		whole, _ := NewEncoder(in, out)
		whole.SetLimit(int(limit))
		r := rand.New(rand.NewPCG(seed, 3))
		n := 0
		var chunks []byte
		for rest := data; len(rest) > 0; {
			k := min(r.IntN(9000), len(rest))
			e.WriteLE32(rest[:k])
			whole.WriteLE32(rest[:k])
			n += k / 4
			rest = rest[k:]
			if r.IntN(2) == 0 {
				chunks = append(chunks, e.PCM()...)
				e.Clear()
			}
		}
		wav := join(e, chunks)
		if !bytes.Equal(wav, whole.Finish()) {
			t.Fatalf("%d → %d: the file taken in pieces differs from the file made whole", in, out)
		}
		s := samples(t, wav, out)
		if e.frames != len(s) {
			t.Fatalf("Frames %d, file has %d", e.frames, len(s))
		}
		want := expected(n, in, out)
		if limit > 0 && int(limit) < want-1 {
			if len(s) != int(limit) {
				t.Fatalf("%d → %d, limit %d: %d samples from %d", in, out, limit, len(s), n)
			}
		} else if len(s) < want-1 || len(s) > want+1 || limit > 0 && len(s) > int(limit) {
			t.Fatalf("%d → %d: %d samples from %d, want %d ± 1", in, out, len(s), n, want)
		}
	})
}

func benchmarkEncode(b *testing.B, in int) {
	x := sine(in, 440, 0.3, 60*in)
	for i, v := range noise(9, len(x)) {
		x[i] += 0.1 * v
	}
	raw := le32(x)
	const chunk = 4 * 4096
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var size int
	for b.Loop() {
		e, _ := NewEncoder(in, 16000)
		e.SetLimit(60 * 16000)
		for rest := raw; len(rest) > 0; {
			n := min(chunk, len(rest))
			e.WriteLE32(rest[:n])
			rest = rest[n:]
		}
		size = len(e.Finish())
	}
	if size != HeaderSize+2*60*16000 {
		b.Fatalf("%d bytes", size)
	}
}

// BenchmarkEncode60s48k encodes a minute captured at 48 kHz, as the browser hands it over
// in 4096-frame chunks, into a 16 kHz WAV. Its bytes are those of the float32 input.
func BenchmarkEncode60s48k(b *testing.B) { benchmarkEncode(b, 48000) }

// BenchmarkEncode60s44k is the same at 44.1 kHz, whose taps are interpolated.
func BenchmarkEncode60s44k(b *testing.B) { benchmarkEncode(b, 44100) }

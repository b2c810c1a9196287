// Package wav encodes a stream of float32 mono samples, as Web Audio captures them, into a
// 16-bit PCM mono WAV file, resampling on the way when the capture rate is not the file's.
//
// Resampling is a streaming polyphase filter: each output sample is the dot product of the
// input around its instant with a windowed-sinc low-pass kernel, which covers any ratio of
// integer rates (48000→16000, 44100→16000, 8000→16000 alike). The kernel, in samples of the
// lower of the two rates:
//
//   - spans 2×20 of them (120 taps at 48 kHz → 16 kHz, 112 at 44.1 kHz → 16 kHz, 40 when
//     upsampling), centred on the output instant, so the output is not delayed;
//   - has its −6 dB point at 0.44 × the lower rate (7.04 kHz for a 16 kHz file) and a Kaiser
//     window with β = 7: the passband is flat within 0.1 dB up to 0.395 × (6.3 kHz) and
//     everything from the lower rate's Nyquist frequency (0.5 ×) up is attenuated by about
//     72 dB or more, so nothing aliases into the band, not even into the transition band.
//     A higher cutoff would buy bandwidth above 6.3 kHz, which speech hardly needs, at the
//     price of either aliasing or a longer kernel;
//   - is normalised in every phase to a gain of exactly 1 at DC.
//
// When the ratio needs few phases (48000→16000 has one, 8000→16000 two) every phase is
// computed exactly up front; otherwise (44100→16000 has 160) the taps of each output sample
// are interpolated linearly from one table of the kernel's half, sampled 64 times per unit,
// which is accurate to well below the stopband. Either table is at most 5 KB. Input is held
// only for the kernel's span plus one block, and output only until the caller takes it
// (PCM, then Clear), so that a long take need not live in the encoder's memory.
package wav

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

const (
	// DefaultRate is the output rate NewEncoder uses when given 0.
	DefaultRate = 16000
	// MinRate and MaxRate bound the rates NewEncoder accepts.
	MinRate = 8000
	MaxRate = 192000
	// HeaderSize is the size of the header that Header makes and that starts every file.
	HeaderSize = 44
)

// The low-pass kernel, in units of a sample at the lower of the two rates.
const (
	halfWidth  = 20   // half the kernel's span
	cutoff     = 0.44 // −6 dB point, as a fraction of the lower rate
	kaiserBeta = 7.0  // Kaiser window shape
	tableSteps = 64   // kernel table points per unit, for ratios with many phases
	// maxPhases is the largest table of exact phases, in coefficients: no bigger than the
	// interpolation table (5 KB).
	maxPhases = halfWidth * tableSteps
)

const (
	block    = 2048  // input samples taken at a time, beyond the kernel's span
	firstOut = 16384 // bytes first reserved for the output
)

// Encoder turns a stream of float32 mono samples at its input rate into a 16-bit PCM mono
// WAV at its output rate. The zero value is not usable; make one with NewEncoder. An Encoder
// is not safe for concurrent use.
type Encoder struct {
	inRate, outRate int
	pass            bool // equal rates: samples are copied, not filtered

	l, m         int // outRate/inRate = l/m in lowest terms
	stepQ, stepR int // m/l and m%l: how far the input advances per output sample
	taps         int // kernel length in input samples (even)

	phases []float32 // l phases × taps exact coefficients, when small enough
	table  []float32 // else the kernel's half at tableSteps per unit, ending at halfWidth
	scale  float64   // table points per input sample

	// The input stream is the samples written, after taps/2−1 zeros. buf holds the part of
	// it from index base on. Output sample n is due at stream index q + r/l (q and r being
	// n·m/l's quotient and remainder) and is filtered from stream indices q .. q+taps−1.
	buf  []float32
	base int
	q, r int
	in   int // samples written and accepted

	frames int
	limit  int
	full   bool   // the limit is reached: input is ignored
	done   bool   // Finish has run
	out    []byte // room for the header, then the output not yet cleared
}

// NewEncoder makes an encoder from inRate to outRate (0 means DefaultRate). Both rates must
// be between MinRate and MaxRate. When they are equal no filtering is done.
func NewEncoder(inRate, outRate int) (*Encoder, error) {
	if outRate == 0 {
		outRate = DefaultRate
	}
	for _, rate := range [2]int{inRate, outRate} {
		if rate < MinRate || rate > MaxRate {
			return nil, errors.New("wav: sample rate " + strconv.Itoa(rate) + " Hz is outside 8000..192000")
		}
	}
	e := &Encoder{inRate: inRate, outRate: outRate, out: make([]byte, HeaderSize, HeaderSize+firstOut)}
	if inRate == outRate {
		e.pass = true
		return e, nil
	}
	g := gcd(inRate, outRate)
	e.l, e.m = outRate/g, inRate/g
	e.stepQ, e.stepR = e.m/e.l, e.m%e.l

	// s converts input samples to kernel units; the kernel covers |t| < halfWidth/s.
	s, half := 1.0, halfWidth
	if outRate < inRate {
		s = float64(outRate) / float64(inRate)
		half = (halfWidth*inRate + outRate - 1) / outRate
	}
	e.taps = 2 * half
	if e.l*e.taps <= maxPhases {
		e.phases = make([]float32, e.l*e.taps)
		for r := range e.l {
			c := e.phases[r*e.taps : (r+1)*e.taps]
			t0 := float64(1-half) - float64(r)/float64(e.l)
			var sum float64
			for j := range c {
				sum += kernel(s * (t0 + float64(j)))
			}
			for j := range c {
				c[j] = float32(kernel(s*(t0+float64(j))) / sum)
			}
		}
	} else {
		e.table = make([]float32, halfWidth*tableSteps+1)
		for i := range e.table {
			e.table[i] = float32(kernel(float64(i) / tableSteps))
		}
		e.scale = s * tableSteps
	}
	e.buf = make([]float32, half-1, e.taps+block)
	return e, nil
}

// kernel is the windowed sinc at u kernel units from its centre, unnormalised.
func kernel(u float64) float64 {
	if u < 0 {
		u = -u
	}
	if u >= halfWidth {
		return 0
	}
	x := u / halfWidth
	w := besselI0(kaiserBeta*math.Sqrt(1-x*x)) / besselI0(kaiserBeta)
	if u == 0 {
		return w
	}
	a := math.Pi * 2 * cutoff * u
	return math.Sin(a) / a * w
}

// besselI0 is the modified Bessel function of the first kind, order 0, by its series.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1.0; term > 1e-12*sum; k++ {
		f := x / (2 * k)
		term *= f * f
		sum += term
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Write adds samples. Values outside [-1, 1] are clipped and NaN counts as 0. It may be
// called any number of times; after the limit is reached or after Finish it does nothing.
func (e *Encoder) Write(samples []float32) {
	if e.pass {
		for _, v := range samples {
			if e.full || e.done {
				return
			}
			e.emit(clip(v))
		}
		return
	}
	for len(samples) > 0 && !e.full && !e.done {
		n := min(cap(e.buf)-len(e.buf), len(samples))
		for _, v := range samples[:n] {
			e.buf = append(e.buf, clip(v))
		}
		samples = samples[n:]
		e.in += n
		e.run()
	}
}

// WriteLE32 is Write for the raw little-endian bytes of a Float32Array. A trailing partial
// sample (len(b) not a multiple of 4) is ignored, not carried over to the next call.
func (e *Encoder) WriteLE32(b []byte) {
	var tmp [256]float32
	for len(b) >= 4 && !e.full && !e.done {
		n := min(len(b)/4, len(tmp))
		for i := range tmp[:n] {
			tmp[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		e.Write(tmp[:n])
		b = b[4*n:]
	}
}

func clip(v float32) float32 {
	switch {
	case v > 1:
		return 1
	case v >= -1:
		return v
	case v < -1:
		return -1
	}
	return 0 // NaN
}

// run makes every output sample whose input is all in buf, then drops what no later output
// needs.
func (e *Encoder) run() {
	k := e.taps
	for !e.full {
		p := e.q - e.base
		if p+k > len(e.buf) || e.q >= e.in {
			break
		}
		x := e.buf[p : p+k]
		var v float32
		if e.phases != nil {
			v = dot(e.phases[e.r*k:e.r*k+k], x)
		} else {
			v = e.interpolate(x, e.r)
		}
		e.emit(v)
		e.q += e.stepQ
		e.r += e.stepR
		if e.r >= e.l {
			e.r -= e.l
			e.q++
		}
	}
	if n := min(e.q-e.base, len(e.buf)); n > 0 {
		e.buf = e.buf[:copy(e.buf, e.buf[n:])]
		e.base += n
	}
}

// dot is the dot product of c and x[:len(c)], in four running sums for speed.
func dot(c, x []float32) float32 {
	x = x[:len(c)]
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(c); i += 4 {
		cc, xx := c[i:i+4:i+4], x[i:i+4:i+4]
		a0 += cc[0] * xx[0]
		a1 += cc[1] * xx[1]
		a2 += cc[2] * xx[2]
		a3 += cc[3] * xx[3]
	}
	for ; i < len(c); i++ {
		a0 += c[i] * x[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// interpolate filters x, the taps of an output sample r/l input samples past x[taps/2−1],
// with coefficients interpolated from the kernel table and normalised to a DC gain of 1.
func (e *Encoder) interpolate(x []float32, r int) float32 {
	t := e.table
	end := float64(len(t) - 1)
	pos := e.scale * (float64(1-e.taps/2) - float64(r)/float64(e.l))
	var acc, sum float32
	for _, v := range x {
		if a := math.Abs(pos); a < end {
			i := int(a)
			c := t[i] + float32(a-float64(i))*(t[i+1]-t[i])
			acc += c * v
			sum += c
		}
		pos += e.scale
	}
	return acc / sum
}

// emit appends one output sample, rounded to 16 bits.
func (e *Encoder) emit(v float32) {
	if v > 1 {
		v = 1
	} else if v < -1 {
		v = -1
	}
	v *= 32767
	var s int16
	if v >= 0 {
		s = int16(v + 0.5)
	} else {
		s = -int16(-v + 0.5)
	}
	e.out = append(e.out, byte(s), byte(s>>8))
	e.frames++
	if e.limit > 0 && e.frames >= e.limit {
		e.full = true
	}
}

// PCM is the 16-bit samples made since the last Clear (since the start if none), without
// the header. The slice is the encoder's own, valid until the next Write or Clear.
func (e *Encoder) PCM() []byte { return e.out[HeaderSize:] }

// Clear lets go of the samples PCM gave, once the caller has copied them out: their room
// is reused, so the encoder holds only what is made between two Clears. The file is the
// header Finish returns, then each PCM taken before a Clear, then the rest of Finish's.
func (e *Encoder) Clear() { e.out = e.out[:HeaderSize] }

// Duration is the output made so far in seconds. Until Finish it lags the input by half
// the kernel's span, 20 samples at the lower of the two rates.
func (e *Encoder) Duration() float64 { return float64(e.frames) / float64(e.outRate) }

// SetLimit stops the encoder accepting input once its output reaches maxFrames samples
// (0 means no limit), so that what arrives late can never take a recording past its
// limit. Output already beyond a new limit is cut back to it, as far as it is not cleared:
// a limit meant to be exact is set before the first Clear.
func (e *Encoder) SetLimit(maxFrames int) {
	if e.done {
		return
	}
	e.limit = max(maxFrames, 0)
	e.full = e.limit > 0 && e.frames >= e.limit
	if e.full {
		cut := min(e.frames-e.limit, len(e.PCM())/2)
		e.frames -= cut
		e.out = e.out[:len(e.out)-2*cut]
	}
}

// Finish flushes the filter's tail (the output samples due before the end of the input),
// and returns the WAV file's header followed by the samples not cleared: the complete file
// when Clear was never called. Output sample n is due at n/OutRate seconds, so an input of
// N samples makes ceil(N·OutRate/InRate) of them, unless the limit cuts it short. After
// Finish the encoder is spent: Write does nothing and Finish returns the same bytes.
func (e *Encoder) Finish() []byte {
	if e.done {
		return e.out
	}
	if !e.pass {
		// The last output needs taps/2 samples past the end of the input.
		for pad := e.taps / 2; pad > 0 && !e.full && e.q < e.in; {
			n := min(cap(e.buf)-len(e.buf), pad)
			for range n {
				e.buf = append(e.buf, 0)
			}
			pad -= n
			e.run()
		}
	}
	e.done = true
	e.buf, e.phases, e.table = nil, nil, nil
	copy(e.out, Header(e.outRate, 2*e.frames))
	return e.out
}

// Header returns the 44-byte header of a WAV file holding dataBytes (even, at most
// 4 GiB − 37) bytes of 16-bit mono PCM at rate samples per second: a RIFF chunk with a PCM
// "fmt " chunk and a "data" chunk.
func Header(rate, dataBytes int) []byte {
	h := make([]byte, HeaderSize)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(36+dataBytes))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)           // fmt chunk size
	le.PutUint16(h[20:], 1)            // PCM
	le.PutUint16(h[22:], 1)            // channels
	le.PutUint32(h[24:], uint32(rate)) // samples per second
	le.PutUint32(h[28:], uint32(2*rate))
	le.PutUint16(h[32:], 2)  // bytes per frame
	le.PutUint16(h[34:], 16) // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(dataBytes))
	return h
}

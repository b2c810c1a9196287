package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"
)

// checkSane fails the test unless Probe's answer is a *ProbeError, or an Info of a
// supported format with a finite, non-negative duration no longer than limit.
func checkSane(t *testing.T, what string, info Info, err error, limit float64) {
	t.Helper()
	if err != nil {
		var pe *ProbeError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %T %v is not a *ProbeError", what, err, err)
		}
		return
	}
	if !info.Format.Supported() || math.IsNaN(info.Duration) || math.IsInf(info.Duration, 0) ||
		info.Duration < 0 || info.Duration > limit || info.Channels < 0 || info.SampleRate < 0 {
		t.Fatalf("%s: insane %+v", what, info)
	}
}

// checkPatch runs Repair on b and, when it repairs, checks that the repaired
// file reads its Duration from the header, the one Probe computed before.
func checkPatch(t *testing.T, what string, b []byte) {
	t.Helper()
	head, tailFrom, ok, _, err := Repair(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		var pe *ProbeError
		if !errors.As(err, &pe) || ok {
			t.Fatalf("%s: Repair error %v, ok %v", what, err, ok)
		}
		return
	}
	if !ok {
		return
	}
	if tailFrom < 0 || tailFrom > int64(len(b)) {
		t.Fatalf("%s: tailFrom %d outside %d bytes", what, tailFrom, len(b))
	}
	before, err := probeBytes(b)
	if err != nil {
		t.Fatalf("%s: patched a file Probe refuses: %v", what, err)
	}
	patched := append(bytes.Clone(head), b[tailFrom:]...)
	after, err := probeBytes(patched)
	if err != nil || !after.DurationFromHeader || math.Abs(after.Duration-before.Duration) > 1e-6 {
		t.Fatalf("%s: repaired file probes %+v, %v; want the header Duration %.6f", what, after, err, before.Duration)
	}
}

// TestTruncatedEverywhere cuts each seed file at every byte offset, and also hands
// Probe the whole size with a reader that ends early.
func TestTruncatedEverywhere(t *testing.T) {
	names, files := seeds(t)
	for _, name := range names {
		b := files[name]
		full, err := probeBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range len(b) {
			cut := b[:i]
			info, err := probeBytes(cut)
			// A cut may lose a BlockGroup's DiscardPadding but keep its Block: then
			// the last packet, at most 120 ms, counts in full.
			checkSane(t, name+" cut", info, err, full.Duration+0.120+1e-9)
			info, err = Probe(bytes.NewReader(cut), int64(len(b)))
			checkSane(t, name+" short reader", info, err, math.MaxFloat64)
			if Sniff(b) == WebM {
				checkPatch(t, name+" cut", cut)
			}
		}
	}
}

// lyingFiles are small files whose sizes and counts lie, each built to reach one of
// the parsers' limits; they also seed the fuzz targets.
func lyingFiles() map[string][]byte {
	pcm := bytes.Repeat([]byte{1, 2}, 50)
	ebmlHead := tEl(idEBML, tStr(idDocType, "webm"))
	tracks := tEl(idTracks, tEl(idTrackEntry, tUint(idTrackNumber, 1), tUint(idTrackType, 2), tStr(idCodecID, "A_OPUS")))
	info := tEl(idInfo, tUint(idTimecodeScale, 1_000_000))
	block := tEl(idSimpleBlock, tBlock(0, []byte{31 << 3, 0}))
	huge := []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE} // 2^56 - 2
	return map[string][]byte{
		"wav data past the end":   wavFile(16, 1, 8000, 0xFFFFFFF0, pcm),
		"wav odd data past end":   wavFile(16, 1, 8000, 0x7FFFFFFF, pcm[:99]),
		"wav fmt size huge":       append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"), make([]byte, 40)...),
		"wav fmt size 2^32-2":     append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xfe\xff\xff\xff"), make([]byte, 16)...),
		"wav many empty chunks":   append([]byte("RIFF\x00\x00\x00\x00WAVE"), bytes.Repeat([]byte("JUNK\x00\x00\x00\x00"), 5000)...),
		"wav no data":             wavFile(16, 1, 8000, -1, nil),
		"wav no fmt":              append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00"), 1, 2, 3, 4),
		"wav zero block align":    wavFile(0, 1, 8000, 4, pcm),
		"wav zero rate":           wavFile(16, 1, 0, 4, pcm),
		"wav extensible cut":      append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x12\x00\x00\x00\xfe\xff"), make([]byte, 16)...),
		"webm EBML header huge":   cat([]byte{0x1A, 0x45, 0xDF, 0xA3}, huge, tStr(idDocType, "webm")),
		"webm Segment huge":       cat(ebmlHead, tID(idSegment), huge, info, tracks, tElUnknown(idCluster, tUint(idTimecode, 0), block)),
		"webm Cluster huge":       cat(ebmlHead, tElUnknown(idSegment, info, tracks, cat(tID(idCluster), huge, block))),
		"webm block huge":         cat(ebmlHead, tElUnknown(idSegment, info, tracks, tElUnknown(idCluster, cat(tID(idSimpleBlock), huge, []byte{0x81, 0, 0, 0x80})))),
		"webm Info huge":          cat(ebmlHead, tElUnknown(idSegment, cat(tID(idInfo), huge, info))),
		"webm Tracks huge":        cat(ebmlHead, tElUnknown(idSegment, info, cat(tID(idTracks), huge, tracks))),
		"webm doctype":            append(tEl(idEBML, tStr(idDocType, "mkv\x00\x01")), tElUnknown(idSegment)...),
		"webm no segment":         ebmlHead,
		"webm no tracks":          append(ebmlHead, tElUnknown(idSegment, info, tElUnknown(idCluster, block))...),
		"webm no blocks":          append(ebmlHead, tElUnknown(idSegment, info, tracks)...),
		"webm timecode huge":      append(ebmlHead, tElUnknown(idSegment, info, tracks, tElUnknown(idCluster, tUint(idTimecode, math.MaxUint64), block))...),
		"webm duration inf":       append(ebmlHead, tElUnknown(idSegment, tEl(idInfo, tFloat(idDuration, math.Inf(1))), tracks)...),
		"webm duration huge":      append(ebmlHead, tElUnknown(idSegment, tEl(idInfo, tUint(idTimecodeScale, math.MaxUint64), tFloat(idDuration, math.MaxFloat64)), tracks)...),
		"webm rate NaN":           append(ebmlHead, tElUnknown(idSegment, info, tEl(idTracks, tEl(idTrackEntry, tUint(idTrackNumber, 1), tUint(idTrackType, 2), tEl(idAudio, tFloat(idSamplingFrequency, math.NaN()), tUint(idChannels, math.MaxUint64)))), tElUnknown(idCluster, block))...),
		"webm many tracks":        append(ebmlHead, tElUnknown(idSegment, info, tEl(idTracks, bytes.Repeat(tEl(idTrackEntry, tUint(idTrackNumber, 1)), 100)))...),
		"webm lacing count 256":   append(ebmlHead, tElUnknown(idSegment, info, tracks, tElUnknown(idCluster, tEl(idSimpleBlock, append([]byte{0x81, 0, 0, 0x80 | 1<<1, 255}, bytes.Repeat([]byte{255}, 300)...))))...),
		"webm zero-size elements": append(ebmlHead, tElUnknown(idSegment, bytes.Repeat([]byte{idVoid, 0x80}, 10000))...),
		"webm nested voids":       append(ebmlHead, tElUnknown(idSegment, info, tracks, tElUnknown(idCluster, bytes.Repeat([]byte{idVoid, 0x80}, 10000)))...),
		"webm only magic":         {0x1A, 0x45, 0xDF, 0xA3},
		"ogg segment table past":  append([]byte("OggS\x00\x02"), append(make([]byte, 20), 255, 255, 255)...),
		"ogg body past the end":   buildOggPage(2, 0, 1, append([]byte("OpusHead\x01\x01"), make([]byte, 9)...))[:40],
		"ogg no final page":       buildOggPage(2, 0, 1, opusHead(1)),
		"ogg only headers":        append(buildOggPage(2, 0, 1, opusHead(1)), buildOggPage(0, 0, 1, []byte("OpusTags"))...),
		"ogg granule -1":          append(buildOggPage(2, 0, 1, opusHead(1)), buildOggPage(4, -1, 1, []byte{1})...),
		"ogg other serial":        append(buildOggPage(2, 0, 1, opusHead(1)), buildOggPage(4, 48000, 2, []byte{1})...),
		"ogg preskip past end":    append(buildOggPage(2, 0, 1, append([]byte("OpusHead\x01\x01\xff\xff"), make([]byte, 11)...)), buildOggPage(4, 100, 1, []byte{1})...),
		"ogg false capture":       append(buildOggPage(2, 0, 1, opusHead(1)), buildOggPage(4, 48000, 1, append([]byte("OggS\x00\x04"), make([]byte, 40)...))...),
		"ogg BOS chain":           bytes.Repeat(buildOggPage(2, 0, 9, []byte("unknown codec")), 100),
		"ogg vorbis zero rate":    buildOggPage(2, 0, 1, append([]byte("\x01vorbis\x00\x00\x00\x00\x01"), make([]byte, 30)...)),
	}
}

// TestLyingSizes hands Probe and Repair files whose sizes and counts lie.
func TestLyingSizes(t *testing.T) {
	cases := lyingFiles()
	for name, b := range cases {
		info, err := probeBytes(b)
		checkSane(t, name, info, err, math.MaxFloat64)
		checkPatch(t, name, b)
		for _, n := range []int{len(b) / 2, len(b) - 1} {
			if n > 0 {
				info, err = probeBytes(b[:n])
				checkSane(t, name+" cut", info, err, math.MaxFloat64)
			}
		}
	}
	// Some must be refused, and some read as far as they go.
	for name, want := range map[string]string{
		"wav no data": "no data chunk", "wav no fmt": "no fmt chunk", "wav many empty chunks": "too many chunks",
		"webm doctype": `unsupported DocType "mkv??"`, "webm no tracks": "no audio track", "webm no blocks": "no duration",
		"ogg BOS chain": "no opus or vorbis stream",
	} {
		_, err := probeBytes(cases[name])
		var pe *ProbeError
		if !errors.As(err, &pe) || want != "" && pe.Reason != want {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	for name, want := range map[string]float64{
		"wav data past the end": 0.00625, "wav odd data past end": 0.006125,
		"ogg false capture": 1 - 312.0/48000, "ogg other serial": 0, "ogg preskip past end": 0,
		"ogg no final page": 0, "ogg only headers": 0,
	} {
		info, err := probeBytes(cases[name])
		if err != nil || math.Abs(info.Duration-want) > 1e-9 {
			t.Errorf("%s: %+v, %v; want %.6f s", name, info, err, want)
		}
	}
}

// wavFile builds a PCM WAV; dataSize -1 leaves the data chunk out.
func wavFile(blockAlignBits, channels uint16, rate uint32, dataSize int64, data []byte) []byte {
	align := channels * blockAlignBits / 8
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00")
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(align))
	b = binary.LittleEndian.AppendUint16(b, align)
	b = binary.LittleEndian.AppendUint16(b, blockAlignBits)
	if dataSize >= 0 {
		b = append(b, "data"...)
		b = binary.LittleEndian.AppendUint32(b, uint32(dataSize))
		b = append(b, data...)
	}
	return b
}

// buildOggPage builds one Ogg page with a right checksum, its body one packet.
func buildOggPage(flags byte, granule int64, serial uint32, body []byte) []byte {
	b := []byte("OggS\x00")
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(granule))
	b = binary.LittleEndian.AppendUint32(b, serial)
	b = binary.LittleEndian.AppendUint32(b, 0) // sequence number
	b = binary.LittleEndian.AppendUint32(b, 0) // CRC, below
	var lacing []byte
	n := len(body)
	for ; n >= 255; n -= 255 {
		lacing = append(lacing, 255)
	}
	lacing = append(lacing, byte(n))
	b = append(b, byte(len(lacing)))
	b = append(append(b, lacing...), body...)
	var crc uint32
	for _, c := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	binary.LittleEndian.PutUint32(b[22:], crc)
	return b
}

func TestZerosAndEmpty(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"one byte":  {0x52},
		"zeros 64":  make([]byte, 64),
		"zeros 1M":  make([]byte, 1<<20),
		"RIFF zero": append([]byte("RIFF\x00\x00\x00\x00WAVE"), make([]byte, 1000)...),
		"Ogg zero":  append([]byte("OggS"), make([]byte, 1000)...),
		"EBML zero": append([]byte{0x1A, 0x45, 0xDF, 0xA3}, make([]byte, 1000)...),
		"ones":      bytes.Repeat([]byte{0xFF}, 1000),
	} {
		info, err := probeBytes(b)
		if err == nil {
			t.Errorf("%s: Probe = %+v, want an error", name, info)
		}
		checkSane(t, name, info, err, 0)
		checkPatch(t, name, b)
	}
	if _, err := Probe(bytes.NewReader(nil), -1); err == nil {
		t.Error("negative size: no error")
	}
	if _, err := Probe(nil, 10); err == nil {
		t.Error("nil reader: no error")
	}
	_, err := probeBytes(nil)
	var pe *ProbeError
	if !errors.As(err, &pe) || pe.Format != Unknown || !errors.Is(err, ErrUnsupported) || pe.Reason != "empty file" {
		t.Errorf("empty: %v", err)
	}
}

// failingReader fails every read after the first n bytes.
type failingReader struct {
	b []byte
	n int64
}

var errDisk = errors.New("disk on fire")

func (r failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.n {
		return 0, errDisk
	}
	return copy(p, r.b[off:]), nil
}

// TestReadErrors: the reader's error comes back, wrapped, whatever the format.
func TestReadErrors(t *testing.T) {
	names, files := seeds(t)
	for _, name := range names {
		b := files[name]
		for _, n := range []int64{0, 12, 100, int64(len(b)) / 2} {
			r := failingReader{b, n}
			_, err := Probe(r, int64(len(b)))
			var pe *ProbeError
			if !errors.As(err, &pe) {
				t.Errorf("%s, failing after %d: %v", name, n, err)
			}
			if pe != nil && pe.Reason == "read error" && !errors.Is(err, errDisk) {
				t.Errorf("%s: %v does not wrap the reader's error", name, err)
			}
			_, _, _, _, err = Repair(r, int64(len(b)))
			if err == nil && Sniff(b) == WebM {
				t.Errorf("%s, failing after %d: Repair succeeded", name, n)
			}
		}
	}
}

// sparseFile is a file of size bytes that begins with head and is zeros after it, or
// repeats pattern after it when there is one; it never holds more than its head.
type sparseFile struct {
	head, pattern []byte
	size          int64
}

func (f sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := f.size - off; int64(n) > rest {
		n = int(rest)
	}
	for i := range n {
		at := off + int64(i)
		switch {
		case at < int64(len(f.head)):
			p[i] = f.head[at]
		case len(f.pattern) > 0:
			p[i] = f.pattern[(at-int64(len(f.head)))%int64(len(f.pattern))]
		default:
			p[i] = 0
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestBoundedMemory probes files that claim 10 GB and checks that a call allocates no
// more than a few hundred KiB, whatever they claim.
func TestBoundedMemory(t *testing.T) {
	const tenGB = 10 << 30
	ebmlHead := tEl(idEBML, tStr(idDocType, "webm"))
	mr := append(ebmlHead, tElUnknown(idSegment,
		tEl(idInfo, tUint(idTimecodeScale, 1_000_000)),
		tEl(idTracks, tEl(idTrackEntry, tUint(idTrackNumber, 1), tUint(idTrackType, 2), tStr(idCodecID, "A_OPUS"))),
	)...)
	cluster := tElUnknown(idCluster, tUint(idTimecode, 0), tEl(idSimpleBlock, tBlock(0, []byte{31 << 3, 0})))
	huge := []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE} // 2^56 - 2
	knownCluster := append(append(tID(idCluster), huge...), tUint(idTimecode, 0)...)
	streamingWAV := wavFile(16, 1, 16000, 0xFFFFFFFF, nil)
	cases := map[string]sparseFile{
		"streaming wav":          {head: streamingWAV, size: tenGB},
		"webm unknown cluster":   {head: append(bytes.Clone(mr), cluster...), size: tenGB},
		"webm 2^56 cluster":      {head: append(bytes.Clone(mr), knownCluster...), size: tenGB},
		"ogg":                    {head: buildOggPage(2, 0, 1, opusHead(1)), size: tenGB},
		"webm 1M blocks pattern": {head: append(bytes.Clone(mr), knownCluster...), pattern: tEl(idSimpleBlock, tBlock(0, []byte{31 << 3})), size: 16 << 20},
	}
	for name, f := range cases {
		var info Info
		var err error
		alloc := allocated(func() { info, err = Probe(f, f.size) })
		t.Logf("%s: %+v, %v; %d bytes allocated", name, info, err, alloc)
		if alloc > 1<<20 {
			t.Errorf("%s: Probe allocated %d bytes", name, alloc)
		}
		var head []byte
		alloc = allocated(func() { head, _, _, _, err = Repair(f, f.size) })
		if alloc > 1<<20 {
			t.Errorf("%s: Repair allocated %d bytes (head %d)", name, alloc, len(head))
		}
	}
	info, err := Probe(cases["streaming wav"], tenGB)
	if want := float64(tenGB-len(streamingWAV)) / 2 / 16000; err != nil || info.Duration != want {
		t.Errorf("streaming wav: %+v, %v; want %.3f s", info, err, want)
	}
}

// allocated is the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

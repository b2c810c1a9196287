package audio

import (
	"io"
	"math"
	"slices"
)

// Repair makes a WebM recording that lacks a Segment Info Duration (as MediaRecorder
// writes them) seekable: the repaired file is head followed by the original bytes from
// tailFrom to the end. It returns ok=false, and no error, when the file already has a
// Duration; it fails, as Probe does, on a file Probe refuses. info is the file's Info as
// Probe would give it once repaired: a recording is read once at stop, not twice.
//
// The Duration, the end of the audio track's last block as Probe computes it, is
// written as an 8-byte float in TimecodeScale units at the end of Info (or over an
// unusable Duration element, in place). Info's size, and the Segment's when it is
// known, grow by what is inserted, keeping their vint widths where the new sizes fit.
// When a Void lies among the Segment's children before the first Cluster (ffmpeg
// leaves one after its SeekHead), it shrinks by as much, and nothing after it moves.
// Otherwise the SeekHead and Cues positions that point past the insertion are shifted,
// in the SeekHead and Cues that lie before the first Cluster; a Cues or SeekHead
// further on cannot be rewritten, so the SeekHead entry pointing to it becomes a Void
// rather than leave a reader following a stale index. MediaRecorder writes neither.
//
// Memory is O(header): the head is what changes, typically under a hundred bytes, and
// the recording itself is never copied. Errors are *ProbeError.
func Repair(r io.ReaderAt, size int64) (head []byte, tailFrom int64, ok bool, info Info, err error) {
	if r == nil || size < 0 {
		return nil, 0, false, Info{}, fail(Unknown, "invalid reader or size")
	}
	format, err := sniffAt(r, size)
	switch {
	case err != nil:
		return nil, 0, false, Info{}, err
	case !format.Supported():
		return nil, 0, false, Info{}, unsupported(format, size)
	case format != WebM:
		return nil, 0, false, Info{}, fail(format, "not a WebM file")
	}
	s := newSource(r, size, webmWindow, WebM)
	m, err := scanMatroska(s)
	if err != nil {
		return nil, 0, false, Info{}, err
	}
	// Refuse what Probe refuses, before saying the file needs no repair.
	t, ok := m.audioTrack()
	if !ok {
		return nil, 0, false, Info{}, fail(WebM, "no audio track")
	}
	info = Info{Format: WebM, Codec: codecName(t.codecID), SampleRate: t.sampleRate(), Channels: t.channelCount(),
		DurationFromHeader: true}
	if m.hasDuration {
		info.Duration = m.seconds(m.duration)
		return nil, 0, false, info, nil
	}
	ticks, ok, err := m.blocksEnd(s, t)
	if err != nil {
		return nil, 0, false, Info{}, err
	}
	if !ok || !(ticks > 0) {
		// A Duration of 0 would not be read as one: there is nothing to write.
		return nil, 0, false, Info{}, fail(WebM, "no duration")
	}
	p, err := newPatch(r, m, ticks)
	if err != nil {
		return nil, 0, false, Info{}, err
	}
	if head, tailFrom, err = p.build(); err != nil {
		return nil, 0, false, Info{}, err
	}
	info.Duration = m.seconds(ticks)
	return head, tailFrom, true, info, nil
}

const (
	// maxPatchHead bounds the bytes Repair rewrites: the EBML header and the
	// Segment's children up to the last one it changes, a few hundred bytes in practice.
	maxPatchHead = 1 << 20
	// maxLayoutPasses bounds the passes that settle the new layout: positions decide the
	// index's size and the index's size decides positions, but sizes only grow, so it
	// settles in two or three.
	maxLayoutPasses = 8
)

// patch rewrites the Segment's children before the first Cluster, up to the last that
// changes: Info gains its Duration, SeekHead and Cues their shifted positions. A Void
// among them (the absorber), before Info or after it, may shrink by what the others
// grow, so that nothing past the head moves at all. Offsets are relative to the
// Segment's data, as SeekHead and Cues positions are.
type patch struct {
	m       *mkv
	ticks   float64
	orig    []byte    // the file's bytes up to the end of the largest region
	parts   []element // the Segment's children that may be in the region
	infoIdx int
	last    int   // index of the last part that must be rewritten
	voids   []int // indices of the Voids that may absorb the growth
	// For the layout being tried:
	absorber  int      // -1 for none
	n         int      // parts in the region
	regionLen int64    // the region's old length
	out       [][]byte // each part's new bytes
}

func newPatch(r io.ReaderAt, m *mkv, ticks float64) (*patch, error) {
	p := &patch{m: m, ticks: ticks, infoIdx: -1}
	if m.frontFull {
		return nil, fail(WebM, "too many elements before the first Cluster")
	}
	n := 0 // parts to read: up to the last that must change or may absorb
	for i, e := range m.front {
		if !e.whole() || e.end() > maxPatchHead {
			// Nothing from here on can be rewritten; that must not be needed.
			for _, e := range m.front[i:] {
				if e.id == idInfo || e.id == idSeekHead || e.id == idCues {
					return nil, fail(WebM, "header element cut short or too far in")
				}
			}
			break
		}
		switch {
		case e.id == idInfo && e.off == m.info.off:
			p.infoIdx, p.last = i, i
		case e.id == idSeekHead || e.id == idCues:
			p.last = i
		case e.id == idVoid:
			p.voids = append(p.voids, i)
		default:
			continue
		}
		n = i + 1
	}
	if p.infoIdx < 0 {
		return nil, fail(WebM, "no Info before the first Cluster")
	}
	p.parts = m.front[:n]
	p.orig = make([]byte, p.parts[n-1].end())
	if got, err := r.ReadAt(p.orig, 0); got < len(p.orig) {
		if err != nil && err != io.EOF {
			return nil, &ProbeError{Format: WebM, Reason: "read error", Err: err}
		}
		return nil, fail(WebM, "truncated header")
	}
	return p, nil
}

// build settles the layout, with the first Void that can take the growth or else with
// none, and assembles the head.
func (p *patch) build() ([]byte, int64, error) {
	var growth int64
	ok := false
	var err error
	for _, v := range append(p.voids, -1) {
		if growth, ok, err = p.layout(v); err != nil {
			return nil, 0, err
		}
		if ok {
			break
		}
	}
	if !ok {
		return nil, 0, fail(WebM, "cannot lay out the new header")
	}
	seg := p.m.seg
	head := make([]byte, 0, int64(len(p.orig))+growth+8)
	head = append(head, p.orig[:seg.off]...)
	switch size := seg.declared + uint64(growth); {
	case seg.size < 0:
		head = append(head, p.orig[seg.off:seg.dataOff]...) // unknown size stays unknown
	case size >= ebmlUnknownSize8Bytes&^(1<<56):
		// A size that claimed nearly 2^56 bytes was a lie; unknown is the honest one.
		head = appendID(head, idSegment)
		head = appendBE(head, ebmlUnknownSize8Bytes, 8)
	default:
		head = appendID(head, idSegment)
		head = appendSize(head, size, seg.sizeWidth)
	}
	for _, b := range p.out[:p.n] {
		head = append(head, b...)
	}
	return head, seg.dataOff + p.regionLen, nil
}

// layout encodes the region's parts again and again, each pass with the positions the
// pass before produced, until a pass reproduces them. ok is false when the absorber
// cannot take the growth.
func (p *patch) layout(absorber int) (growth int64, ok bool, err error) {
	p.absorber, p.n = absorber, max(p.last, absorber)+1
	p.regionLen = p.rel(p.parts[p.n-1].end())
	p.out = make([][]byte, p.n)
	prev := make([]int64, p.n)
	for i, e := range p.parts[:p.n] {
		prev[i] = p.rel(e.off)
	}
	var prevGrowth int64
	for range maxLayoutPasses {
		mp := mapping{p: p, newOff: prev, growth: prevGrowth}
		var others int64 // what the parts other than the absorber grow
		for i := range p.n {
			if i == absorber {
				continue
			}
			b, err := p.encode(i, mp)
			if err != nil {
				return 0, false, err
			}
			p.out[i] = b
			others += int64(len(b)) - int64(len(p.raw(i)))
		}
		if absorber >= 0 {
			total := int64(len(p.raw(absorber))) - others
			if total < 0 || total == 1 { // a Void is 0 bytes or at least 2
				return 0, false, nil
			}
			p.out[absorber] = appendVoid(nil, int(total))
		}
		next := make([]int64, p.n)
		pos := int64(0)
		for i, b := range p.out {
			next[i] = pos
			pos += int64(len(b))
		}
		growth = pos - p.regionLen
		if growth == prevGrowth && slices.Equal(next, prev) {
			return growth, true, nil
		}
		prev, prevGrowth = next, growth
	}
	return 0, false, fail(WebM, "header layout does not settle")
}

// rel converts a file offset to an offset from the Segment's data.
func (p *patch) rel(off int64) int64 { return off - p.m.seg.dataOff }

// raw is a part's original bytes.
func (p *patch) raw(i int) []byte {
	e := p.parts[i]
	return p.orig[e.off:e.end()]
}

// encode returns part i's new bytes.
func (p *patch) encode(i int, mp mapping) ([]byte, error) {
	e := p.parts[i]
	switch {
	case i == p.infoIdx:
		return p.encodeInfo(e, p.raw(i)[e.dataOff-e.off:])
	case e.id == idSeekHead || e.id == idCues:
		data, err := p.remap(p.raw(i)[e.dataOff-e.off:], mp, 0)
		if err != nil {
			return nil, err
		}
		return appendElement(nil, e.id, e.sizeWidth, data), nil
	}
	return p.raw(i), nil
}

// encodeInfo adds the Duration to Info's children: over the first Duration, unusable as
// it was, in place when it has 4 or 8 bytes (and the value fits a float32 for 4);
// otherwise as a new 8-byte element, at the end.
func (p *patch) encodeInfo(e element, data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)+11)
	replaced := false
	children := 0
	err := eachChild(data, func(c child) error {
		// Probe reads no further than this; a Duration past it would not be seen.
		if children++; children > maxHeaderChildren {
			return fail(WebM, "malformed Info")
		}
		if c.id != idDuration || replaced {
			out = append(out, c.raw...)
			return nil
		}
		replaced = true
		f32 := float32(p.ticks)
		switch {
		case len(c.data) == 4 && f32 > 0 && !math.IsInf(float64(f32), 0):
			out = append(out, c.raw[:len(c.raw)-4]...)
			out = appendBE(out, uint64(math.Float32bits(f32)), 4)
		case len(c.data) == 8:
			out = append(out, c.raw[:len(c.raw)-8]...)
			out = appendBE(out, math.Float64bits(p.ticks), 8)
		default:
			out = p.appendDuration(out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !replaced {
		out = p.appendDuration(out)
	}
	fixCRC(out)
	return appendElement(nil, idInfo, e.sizeWidth, out), nil
}

func (p *patch) appendDuration(dst []byte) []byte {
	dst = appendID(dst, idDuration)
	dst = appendSize(dst, 8, 1)
	return appendBE(dst, math.Float64bits(p.ticks), 8)
}

// remap re-encodes a SeekHead's or Cues' data, passing each SeekPosition and
// CueClusterPosition through the mapping and keeping all else byte for byte.
func (p *patch) remap(data []byte, mp mapping, depth int) ([]byte, error) {
	if depth > 2 { // SeekHead > Seek, Cues > CuePoint > CueTrackPositions
		return nil, fail(WebM, "malformed index")
	}
	out := make([]byte, 0, len(data)+8)
	err := eachChild(data, func(c child) error {
		switch c.id {
		case idSeek, idCuePoint, idCueTrackPositions:
			if c.id == idSeek && mp.stale(c.data) {
				out = appendVoid(out, len(c.raw))
				return nil
			}
			inner, err := p.remap(c.data, mp, depth+1)
			if err != nil {
				return err
			}
			out = appendElement(out, c.id, c.sizeWidth, inner)
		case idSeekPosition, idCueClusterPosition:
			if len(c.data) > 8 {
				return fail(WebM, "malformed index")
			}
			out = appendUintElement(out, c.id, mp.pos(beUint(c.data)), len(c.data), c.sizeWidth)
		default:
			out = append(out, c.raw...)
		}
		return nil
	})
	fixCRC(out)
	return out, err
}

// mapping takes an old position, relative to the Segment's data, to its new one.
type mapping struct {
	p      *patch
	newOff []int64 // each part's new offset
	growth int64   // how far everything after the region moves
}

func (mp mapping) pos(old uint64) uint64 {
	p := mp.p
	if old >= uint64(p.regionLen) {
		return old + uint64(mp.growth)
	}
	for i := range p.n {
		start, end := p.rel(p.parts[i].off), p.rel(p.parts[i].end())
		if int64(old) >= start && int64(old) < end {
			return uint64(mp.newOff[i] + int64(old) - start)
		}
	}
	return old
}

// stale reports whether a Seek points to a Cues or SeekHead past the region that the
// growth moves: its contents point at the old places and cannot be corrected.
func (mp mapping) stale(seek []byte) bool {
	if mp.growth == 0 {
		return false
	}
	var id uint32
	var pos uint64
	havePos := false
	_ = eachChild(seek, func(c child) error {
		switch c.id {
		case idSeekID:
			id, _, _ = readID(c.data)
		case idSeekPosition:
			if len(c.data) <= 8 {
				pos, havePos = beUint(c.data), true
			}
		}
		return nil
	})
	return havePos && (id == idCues || id == idSeekHead) && pos >= uint64(mp.p.regionLen)
}

// child is one element inside a master element's data held in memory.
type child struct {
	id        uint32
	sizeWidth int
	raw       []byte // the whole element
	data      []byte
}

// eachChild calls fn for each child in data, failing on one that is malformed, of
// unknown size or runs past the end.
func eachChild(data []byte, fn func(c child) error) error {
	for len(data) > 0 {
		id, n, ok := readID(data)
		if !ok {
			return fail(WebM, "malformed header element")
		}
		size, m, unknown, ok := readSize(data[n:])
		if !ok || unknown || size > uint64(len(data)-n-m) {
			return fail(WebM, "malformed header element")
		}
		end := n + m + int(size)
		if err := fn(child{id: id, sizeWidth: m, raw: data[:end], data: data[n+m : end]}); err != nil {
			return err
		}
		data = data[end:]
	}
	return nil
}

// fixCRC recomputes a master element's CRC-32 child, which when present comes first
// and covers all the data after it (little-endian IEEE CRC-32).
func fixCRC(data []byte) {
	if len(data) >= 6 && data[0] == idCRC32 && data[1] == 0x84 {
		c := crcIEEE(data[6:])
		data[2], data[3], data[4], data[5] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	}
}

// crcIEEE stands in for crc32.ChecksumIEEE (FuzzCRCIEEE compares them).
// Why: hash/crc32's tables cost the wasm 7 KB, and a repair checksums only a few small elements.
func crcIEEE(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			c = c>>1 ^ 0xEDB88320&-(c&1)
		}
	}
	return ^c
}

func appendBE(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

package audio

import "math"

// EBML, the binary format of Matroska and WebM: each element is an ID, a data size and
// the data. IDs and sizes are variable-length integers ("vints") whose first byte's
// leading zeros tell their length; IDs keep their length marker, sizes drop it, and a
// size whose value bits are all ones means "unknown": the element runs until something
// that cannot be its child.

// Element IDs, marker bits included, as the Matroska specification writes them.
const (
	idEBML                = 0x1A45DFA3
	idDocType             = 0x4282
	idSegment             = 0x18538067
	idSeekHead            = 0x114D9B74
	idSeek                = 0x4DBB
	idSeekID              = 0x53AB
	idSeekPosition        = 0x53AC
	idInfo                = 0x1549A966
	idTimecodeScale       = 0x2AD7B1
	idDuration            = 0x4489
	idTracks              = 0x1654AE6B
	idTrackEntry          = 0xAE
	idTrackNumber         = 0xD7
	idTrackType           = 0x83
	idCodecID             = 0x86
	idDefaultDuration     = 0x23E383
	idAudio               = 0xE1
	idSamplingFrequency   = 0xB5
	idChannels            = 0x9F
	idCluster             = 0x1F43B675
	idTimecode            = 0xE7
	idSimpleBlock         = 0xA3
	idBlockGroup          = 0xA0
	idBlock               = 0xA1
	idBlockDuration       = 0x9B
	idDiscardPadding      = 0x75A2
	idCues                = 0x1C53BB6B
	idCuePoint            = 0xBB
	idCueTrackPositions   = 0xB7
	idCueClusterPosition  = 0xF1
	idChapters            = 0x1043A770
	idTags                = 0x1254C367
	idAttachments         = 0x1941A469
	idVoid                = 0xEC
	idCRC32               = 0xBF
	ebmlMaxHeaderLen      = 4 + 8
	ebmlUnknownSize8Bytes = 0x01FFFFFFFFFFFFFF
)

// isTopLevel reports whether id is a child of the Segment (or a new EBML document):
// inside a Cluster of unknown size, one of these ends the Cluster.
func isTopLevel(id uint32) bool {
	switch id {
	case idCluster, idCues, idInfo, idTracks, idSeekHead, idTags, idChapters, idAttachments,
		idEBML, idSegment:
		return true
	}
	return false
}

// vintLen is the length of a vint from its first byte, 0 when longer than max.
func vintLen(first byte, max int) int {
	for n := 1; n <= max; n++ {
		if first&(0x80>>(n-1)) != 0 {
			return n
		}
	}
	return 0
}

// readID parses an element ID (1–4 bytes, marker kept) at the start of b.
func readID(b []byte) (id uint32, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	n = vintLen(b[0], 4)
	if n == 0 || len(b) < n {
		return 0, 0, false
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n, true
}

// readSize parses a data size (1–8 bytes, marker dropped) at the start of b.
func readSize(b []byte) (size uint64, n int, unknown, ok bool) {
	if len(b) == 0 {
		return 0, 0, false, false
	}
	n = vintLen(b[0], 8)
	if n == 0 || len(b) < n {
		return 0, 0, false, false
	}
	size = uint64(b[0]) & (0xFF >> n)
	for _, c := range b[1:n] {
		size = size<<8 | uint64(c)
	}
	return size, n, size == 1<<(7*n)-1, true
}

// element is an element's header, located in the file.
type element struct {
	id        uint32
	off       int64  // the ID's offset
	dataOff   int64  // the data's offset
	size      int64  // data size, cut to what the parent can hold; -1 when unknown
	declared  uint64 // data size as written
	sizeWidth int    // bytes of the size vint as written
}

func (e element) end() int64 { return e.dataOff + e.size }

// whole reports whether the element's data is all there, as its size declares it.
func (e element) whole() bool { return e.size >= 0 && uint64(e.size) == e.declared }

// readElement reads the element header at off. limit is where the enclosing element
// ends; a size running past it is cut to it, so that no size a file claims can carry a
// walk past its parent. ok is false when there is no whole, valid header at off.
func (s *source) readElement(off, limit int64) (e element, ok bool, err error) {
	b, err := s.peek(off, ebmlMaxHeaderLen)
	if err != nil {
		return e, false, err
	}
	id, n, ok := readID(b)
	if !ok {
		return e, false, nil
	}
	size, m, unknown, ok := readSize(b[n:])
	if !ok {
		return e, false, nil
	}
	e = element{id: id, off: off, dataOff: off + int64(n+m), declared: size, sizeWidth: m, size: -1}
	if e.dataOff > limit {
		return e, false, nil
	}
	if !unknown {
		if rest := uint64(limit - e.dataOff); size > rest {
			size = rest
		}
		e.size = int64(size)
	}
	return e, true, nil
}

// value returns the data of a small element, or ok=false when it is bigger than max
// bytes, of unknown size or cut short by the end of the file.
func (s *source) value(e element, max int) (b []byte, ok bool, err error) {
	if !e.whole() || e.size > int64(max) {
		return nil, false, nil
	}
	b, err = s.peek(e.dataOff, int(e.size))
	if err != nil || int64(len(b)) != e.size {
		return nil, false, err
	}
	return b, true, nil
}

// floatValue decodes a float element's data: 0, 4 or 8 bytes.
func floatValue(b []byte) (float64, bool) {
	switch len(b) {
	case 0:
		return 0, true
	case 4:
		return float64(math.Float32frombits(uint32(beUint(b)))), true
	case 8:
		return math.Float64frombits(beUint(b)), true
	}
	return 0, false
}

// intValue decodes a signed integer element's data (two's complement, 0–8 bytes).
func intValue(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	shift := 64 - 8*uint(len(b))
	return int64(beUint(b)<<shift) >> shift
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// Encoding, for Repair.

// appendID writes an element ID as it is stored.
func appendID(dst []byte, id uint32) []byte {
	switch {
	case id >= 1<<24:
		return append(dst, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	case id >= 1<<16:
		return append(dst, byte(id>>16), byte(id>>8), byte(id))
	case id >= 1<<8:
		return append(dst, byte(id>>8), byte(id))
	}
	return append(dst, byte(id))
}

// sizeWidthFor is the width to write size in: width when size fits in it (a width-w
// vint holds up to 2^(7w)-2; all ones would mean unknown), else the least that fits.
func sizeWidthFor(size uint64, width int) int {
	if width < 1 {
		width = 1
	}
	for ; width < 8; width++ {
		if size < 1<<(7*width)-1 {
			return width
		}
	}
	return 8
}

// appendSize writes size as a vint of sizeWidthFor(size, width) bytes.
func appendSize(dst []byte, size uint64, width int) []byte {
	w := sizeWidthFor(size, width)
	v := size | 1<<(7*w) // the length marker
	for i := w - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendElement writes a whole element, its size in at least width bytes.
func appendElement(dst []byte, id uint32, width int, data []byte) []byte {
	dst = appendID(dst, id)
	dst = appendSize(dst, uint64(len(data)), width)
	return append(dst, data...)
}

// appendUintElement writes an unsigned integer element in at least width data bytes,
// its size in at least sizeWidth bytes.
func appendUintElement(dst []byte, id uint32, v uint64, width, sizeWidth int) []byte {
	n := 1
	for n < 8 && v>>(8*n) != 0 {
		n++
	}
	n = max(n, min(width, 8))
	dst = appendID(dst, id)
	dst = appendSize(dst, uint64(n), sizeWidth)
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendVoid writes a Void element of exactly total bytes (total must be 0 or ≥ 2).
func appendVoid(dst []byte, total int) []byte {
	if total <= 0 {
		return dst
	}
	width := 1
	if total-2 > 126 {
		width = 8
	}
	dst = append(dst, idVoid)
	dst = appendSize(dst, uint64(total-1-width), width)
	for range total - 1 - width {
		dst = append(dst, 0)
	}
	return dst
}

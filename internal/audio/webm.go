package audio

import (
	"io"
	"math"
)

// WebM and Matroska: an EBML header naming the DocType, then a Segment holding Info
// (TimecodeScale, Duration), Tracks and Clusters of blocks. MediaRecorder writes the
// Segment and its Clusters with unknown sizes and no Duration, so where the Info has
// none the duration is the end of the audio track's last block: its cluster's timecode
// plus its own, plus the block's length.

const (
	defaultTimecodeScale = 1_000_000 // ns per tick
	maxTracks            = 16        // tracks and per-track block records kept
	maxFront             = 64        // Segment children kept before the first Cluster
	maxHeaderChildren    = 4096      // children read from one Info, Tracks or header
	maxCodecIDLen        = 64
	trackTypeAudio       = 2
)

// mkv is what a walk of a Matroska file finds.
type mkv struct {
	docType string
	seg     element
	segEnd  int64

	info        element
	haveInfo    bool
	scale       uint64  // TimecodeScale, ns per tick
	duration    float64 // Info Duration in ticks, when hasDuration
	hasDuration bool    // Info carries a usable Duration

	tracks     []mkvTrack
	haveTracks bool

	front      []element // Segment children before the first Cluster, in order
	frontFull  bool      // more than maxFront of them
	sawCluster bool

	lasts []lastBlock // per track, the block with the latest timestamp
}

type mkvTrack struct {
	number          uint64
	kind            uint64 // TrackType; 2 is audio
	codecID         string
	rate            float64
	channels        uint64
	defaultDuration uint64 // ns per frame
}

// lastBlock locates a track's latest block and what its BlockGroup said of it.
type lastBlock struct {
	track       uint64
	time        int64 // ticks: cluster timecode plus the block's own
	data        element
	duration    uint64 // BlockDuration, ticks
	hasDuration bool
	discard     int64 // DiscardPadding, ns
}

func probeWebM(s *source) (Info, error) {
	m, err := scanMatroska(s)
	if err != nil {
		return Info{}, err
	}
	t, ok := m.audioTrack()
	if !ok {
		return Info{}, fail(WebM, "no audio track")
	}
	info := Info{Codec: codecName(t.codecID), SampleRate: t.sampleRate(), Channels: t.channelCount()}
	if m.hasDuration {
		info.Duration, info.DurationFromHeader = m.seconds(m.duration), true
		return info, nil
	}
	ticks, ok, err := m.blocksEnd(s, t)
	if err != nil {
		return Info{}, err
	}
	if !ok {
		return Info{}, fail(WebM, "no duration")
	}
	info.Duration = m.seconds(ticks)
	return info, nil
}

// seconds converts ticks to seconds.
func (m *mkv) seconds(ticks float64) float64 {
	return ticks * float64(m.scale) / 1e9
}

// scanMatroska reads the EBML header and walks the Segment's children: Info and Tracks,
// and the Clusters too unless Info has already given a Duration.
func scanMatroska(s *source) (*mkv, error) {
	m := &mkv{scale: defaultTimecodeScale}
	segOff, err := m.readHeader(s)
	if err != nil {
		return nil, err
	}
	if err := m.findSegment(s, segOff); err != nil {
		return nil, err
	}
	off := m.seg.dataOff
	for off < m.segEnd {
		e, ok, err := s.readElement(off, m.segEnd)
		if err != nil {
			return nil, err
		}
		if !ok || e.id == idEBML || e.id == idSegment {
			break // garbage, the end of the data, or the next file chained on
		}
		if e.id == idCluster {
			m.sawCluster = true
			if m.hasDuration && m.haveTracks {
				break
			}
			if off, err = m.walkCluster(s, e); err != nil {
				return nil, err
			}
			continue
		}
		if !m.sawCluster {
			if len(m.front) < maxFront {
				m.front = append(m.front, e)
			} else {
				m.frontFull = true
			}
		}
		if e.size < 0 {
			break // only Segments and Clusters may have unknown sizes
		}
		switch {
		case e.id == idInfo && !m.haveInfo:
			err = m.readInfo(s, e)
		case e.id == idTracks && !m.haveTracks:
			err = m.readTracks(s, e)
		}
		if err != nil {
			return nil, err
		}
		off = e.end()
	}
	return m, nil
}

// readHeader reads the EBML header and its DocType, and returns where it ends.
func (m *mkv) readHeader(s *source) (int64, error) {
	e, ok, err := s.readElement(0, s.size)
	if err != nil {
		return 0, err
	}
	if !ok || e.id != idEBML || !e.whole() {
		return 0, fail(WebM, "truncated EBML header")
	}
	m.docType = "matroska" // the specification's default
	err = eachElement(s, e, func(c element) error {
		if c.id == idDocType {
			b, ok, err := s.value(c, maxCodecIDLen)
			if err != nil || !ok {
				return orFail(err, "invalid DocType")
			}
			m.docType = trimZeros(b)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if m.docType != "webm" && m.docType != "matroska" {
		return 0, fail(WebM, "unsupported DocType "+quote(m.docType))
	}
	return e.end(), nil
}

// findSegment finds the Segment after the EBML header, skipping what may lie between.
func (m *mkv) findSegment(s *source, off int64) error {
	for range 16 {
		e, ok, err := s.readElement(off, s.size)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if e.id == idSegment {
			m.seg, m.segEnd = e, s.size
			if e.size >= 0 {
				m.segEnd = e.end()
			}
			return nil
		}
		if e.size < 0 {
			break
		}
		off = e.end()
	}
	return fail(WebM, "no Segment")
}

// eachElement calls fn for each child of e, in order, stopping at the first that is
// malformed, of unknown size or past the end of the data.
func eachElement(s *source, e element, fn func(c element) error) error {
	if e.size < 0 {
		return nil
	}
	end := e.end()
	for i, off := 0, e.dataOff; off < end && i < maxHeaderChildren; i++ {
		c, ok, err := s.readElement(off, end)
		if err != nil {
			return err
		}
		if !ok || c.size < 0 {
			return nil
		}
		if err := fn(c); err != nil {
			return err
		}
		off = c.end()
	}
	return nil
}

// readInfo reads TimecodeScale and Duration; where either is repeated, the first one
// counts, as it does for Repair. A Duration is usable when it is positive and,
// in seconds, finite.
func (m *mkv) readInfo(s *source, e element) error {
	m.info, m.haveInfo = e, true
	var d float64
	var haveScale, haveDuration bool
	err := eachElement(s, e, func(c element) error {
		switch {
		case c.id == idTimecodeScale && !haveScale:
			haveScale = true
		case c.id == idDuration && !haveDuration:
			haveDuration = true
		default:
			return nil
		}
		b, ok, err := s.value(c, 8)
		if err != nil || !ok {
			return err
		}
		if c.id == idDuration {
			d, _ = floatValue(b)
		} else if v := beUint(b); v > 0 {
			m.scale = v
		}
		return nil
	})
	m.duration, m.hasDuration = d, d > 0 && !math.IsInf(m.seconds(d), 0)
	return err
}

// readTracks reads each TrackEntry, and its Audio.
func (m *mkv) readTracks(s *source, e element) error {
	m.haveTracks = true
	return eachElement(s, e, func(c element) error {
		if c.id != idTrackEntry || len(m.tracks) == maxTracks {
			return nil
		}
		t := mkvTrack{rate: 8000, channels: 1} // the specification's defaults
		err := eachElement(s, c, func(c element) error {
			if c.id == idAudio {
				return eachElement(s, c, func(c element) error { return t.read(s, c) })
			}
			return t.read(s, c)
		})
		m.tracks = append(m.tracks, t)
		return err
	})
}

// read reads one child of a TrackEntry, or of its Audio.
func (t *mkvTrack) read(s *source, c element) error {
	b, ok, err := s.value(c, maxCodecIDLen)
	if err != nil || !ok {
		return err
	}
	switch c.id {
	case idTrackNumber:
		t.number = beUint(b)
	case idTrackType:
		t.kind = beUint(b)
	case idCodecID:
		t.codecID = trimZeros(b)
	case idDefaultDuration:
		t.defaultDuration = beUint(b)
	case idSamplingFrequency:
		if f, ok := floatValue(b); ok {
			t.rate = f
		}
	case idChannels:
		t.channels = beUint(b)
	}
	return nil
}

// audioTrack is the first audio track.
func (m *mkv) audioTrack() (mkvTrack, bool) {
	for _, t := range m.tracks {
		if t.kind == trackTypeAudio || t.kind == 0 && len(t.codecID) > 2 && t.codecID[:2] == "A_" {
			return t, true
		}
	}
	return mkvTrack{}, false
}

func (t mkvTrack) sampleRate() int {
	if t.rate > 0 && t.rate < 1e7 {
		return int(math.Round(t.rate))
	}
	return 0
}

func (t mkvTrack) channelCount() int {
	if t.channels < 1<<16 {
		return int(t.channels)
	}
	return 0
}

// codecName names a Matroska CodecID the way ffprobe would, near enough: A_OPUS is
// opus, A_VORBIS vorbis, and any other is its lowercased name without "A_". It lowers
// ASCII by hand, a stand-in for strings.ToLower on these ASCII names (FuzzCodecName).
// Why: strings.ToLower would bring Unicode's tables into the wasm.
func codecName(id string) string {
	if len(id) > 2 && id[:2] == "A_" {
		id = id[2:]
	}
	b := []byte(id)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// walkCluster notes the blocks of a Cluster and returns where the next top-level
// element starts. A Cluster of unknown size ends at the first top-level ID; so does one
// whose size claims more than it holds.
func (m *mkv) walkCluster(s *source, e element) (int64, error) {
	end := m.segEnd
	if e.size >= 0 {
		end = e.end()
	}
	var timecode uint64
	for off := e.dataOff; off < end; {
		c, ok, err := s.readElement(off, end)
		if err != nil {
			return 0, err
		}
		if ok && isTopLevel(c.id) {
			return off, nil
		}
		if !ok || c.size < 0 {
			return end, nil // nothing past this can be found
		}
		switch c.id {
		case idTimecode:
			b, ok, err := s.value(c, 8)
			if err != nil {
				return 0, err
			}
			if ok {
				timecode = beUint(b)
			}
		case idSimpleBlock:
			err = m.noteBlock(s, c, timecode, lastBlock{})
		case idBlockGroup:
			err = m.walkBlockGroup(s, c, timecode)
		}
		if err != nil {
			return 0, err
		}
		off = c.end()
	}
	return end, nil
}

// walkBlockGroup notes a BlockGroup's Block with its BlockDuration and DiscardPadding.
func (m *mkv) walkBlockGroup(s *source, g element, timecode uint64) error {
	var (
		extra lastBlock
		block element
		found bool
	)
	err := eachElement(s, g, func(c element) error {
		if c.id == idBlock {
			block, found = c, true
			return nil
		}
		b, ok, err := s.value(c, 8)
		if err != nil || !ok {
			return err
		}
		switch c.id {
		case idBlockDuration:
			extra.duration, extra.hasDuration = beUint(b), true
		case idDiscardPadding:
			extra.discard = intValue(b)
		}
		return nil
	})
	if err != nil || !found {
		return err
	}
	return m.noteBlock(s, block, timecode, extra)
}

// noteBlock records a whole block if it is its track's latest so far. Ties go to the
// later block in the file.
func (m *mkv) noteBlock(s *source, c element, timecode uint64, extra lastBlock) error {
	if !c.whole() || c.end() > s.size || timecode > 1<<62 {
		return nil // cut short by the end of the file, or a timecode past reason
	}
	b, err := s.peek(c.dataOff, 8+3)
	if err != nil {
		return err
	}
	track, n, _, ok := readSize(b)
	if !ok || len(b) < n+3 {
		return nil
	}
	rel := int16(uint16(b[n])<<8 | uint16(b[n+1]))
	extra.track, extra.time, extra.data = track, int64(timecode)+int64(rel), c
	for i := range m.lasts {
		if m.lasts[i].track == track {
			if extra.time >= m.lasts[i].time {
				m.lasts[i] = extra
			}
			return nil
		}
	}
	if len(m.lasts) < maxTracks {
		m.lasts = append(m.lasts, extra)
	}
	return nil
}

// blocksEnd is the end of the track's last block, in ticks: its timestamp plus its
// length, less the DiscardPadding its BlockGroup may give. ok is false when the track
// has no block.
func (m *mkv) blocksEnd(s *source, t mkvTrack) (ticks float64, ok bool, err error) {
	var lb lastBlock
	for _, l := range m.lasts {
		if l.track == t.number {
			lb, ok = l, true
		}
	}
	if !ok {
		return 0, false, nil
	}
	ns, err := m.blockLength(s, lb, t)
	if err != nil {
		return 0, false, err
	}
	ticks = float64(lb.time) + ns/float64(m.scale)
	return max(ticks, 0), true, nil
}

// blockLength is a block's length in ns. For Opus it is read from the packets
// themselves; otherwise it is the BlockDuration, else the track's DefaultDuration per
// frame, else 0.
func (m *mkv) blockLength(s *source, lb lastBlock, t mkvTrack) (float64, error) {
	b, err := s.peek(lb.data.dataOff, int(min(lb.data.size, maxLaceHeader)))
	if err != nil {
		return 0, err
	}
	frames := blockFrames(b, lb.data.size)
	var ns float64
	if t.codecID == "A_OPUS" {
		samples := 0
		for _, off := range frames {
			p, err := s.peek(lb.data.dataOff+off, 2)
			if err != nil {
				return 0, err
			}
			samples += opusPacketSamples(p)
		}
		ns = float64(samples) * 1e9 / 48000
	}
	switch {
	case ns > 0:
	case lb.hasDuration:
		ns = float64(lb.duration) * float64(m.scale)
	case t.defaultDuration > 0:
		ns = float64(t.defaultDuration) * float64(len(frames))
	}
	return max(ns-float64(lb.discard), 0), nil
}

// maxLaceHeader bounds what is read of a block to find its frames: the block header
// and lace sizes, which for 256 Xiph-laced frames of a few KiB each fit easily.
const maxLaceHeader = 16 << 10

// blockFrames returns the offsets, from the start of the block's data, of the frames a
// block holds, from its lacing (Matroska's "Block Lacing"). b is the start of the block
// and size its whole length. It returns nil when the block is malformed or b too short.
func blockFrames(b []byte, size int64) []int64 {
	_, n, _, ok := readSize(b) // the track number
	if !ok || len(b) < n+3 {
		return nil
	}
	p := n + 3
	lacing := b[n+2] >> 1 & 3
	if lacing == 0 {
		return []int64{int64(p)}
	}
	if len(b) <= p {
		return nil
	}
	count := int(b[p]) + 1
	p++
	sizes := make([]int64, count)
	var ok2 bool
	switch lacing {
	case 1:
		p, ok2 = xiphLaces(b, p, sizes[:count-1])
	case 3:
		p, ok2 = ebmlLaces(b, p, sizes[:count-1])
	case 2:
		each := (size - int64(p)) / int64(count)
		for i := range sizes[:count-1] {
			sizes[i] = each
		}
		ok2 = (size-int64(p))%int64(count) == 0
	}
	if !ok2 {
		return nil
	}
	offs := sizes // reused: each size becomes its frame's offset
	rest, at := size-int64(p), int64(p)
	for i := range count - 1 {
		l := sizes[i]
		if l < 0 || l > rest {
			return nil
		}
		offs[i], at, rest = at, at+l, rest-l
	}
	offs[count-1] = at
	return offs
}

// xiphLaces reads Xiph lace sizes: each a run of 255s and a final byte below 255.
func xiphLaces(b []byte, p int, sizes []int64) (int, bool) {
	for i := range sizes {
		for {
			if p >= len(b) {
				return p, false
			}
			v := b[p]
			p++
			sizes[i] += int64(v)
			if v != 255 {
				break
			}
		}
	}
	return p, true
}

// ebmlLaces reads EBML lace sizes: the first a vint, each next a signed vint difference
// from the one before.
func ebmlLaces(b []byte, p int, sizes []int64) (int, bool) {
	for i := range sizes {
		v, n, _, ok := readSize(b[min(p, len(b)):])
		if !ok {
			return p, false
		}
		p += n
		if i == 0 {
			sizes[i] = int64(v)
			continue
		}
		// A signed vint is stored with a bias of 2^(7n-1)-1.
		sizes[i] = sizes[i-1] + int64(v) - (1<<(7*n-1) - 1)
	}
	return p, true
}

func trimZeros(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

// quote is a short strconv.Quote for error text (FuzzQuote compares them).
// Why: a hostile file's bytes show as at most 32 printable ASCII characters, the rest as '?'.
func quote(s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s) && i < 32; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E || c == '"' {
			c = '?'
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}

// orFail returns err, or a ProbeError with the reason when err is nil.
func orFail(err error, reason string) error {
	if err != nil {
		return err
	}
	return fail(WebM, reason)
}

// WebMCompleteLength answers how many bytes from the start of a WebM are whole elements:
// what is left of a recording cut off mid-write (the page died while recording; the
// browser's slices may end inside a block) once its torn last element is dropped. Only
// live WebM, whose Segment and Clusters have unknown sizes, can be cut this way: an
// element of known size that runs past the end ends what is kept before it.
func WebMCompleteLength(r io.ReaderAt, size int64) (int64, error) {
	s := newSource(r, size, webmWindow, WebM)
	m := &mkv{scale: defaultTimecodeScale}
	segOff, err := m.readHeader(s)
	if err != nil {
		return 0, err
	}
	if err := m.findSegment(s, segOff); err != nil {
		return 0, err
	}
	if m.seg.size >= 0 {
		return 0, fail(WebM, "the Segment has a size: not a live recording")
	}
	whole := m.seg.dataOff
	for off := m.seg.dataOff; off < s.size; {
		e, ok, err := s.readElement(off, s.size)
		if err != nil || !ok {
			return whole, err
		}
		if e.id != idCluster || e.size >= 0 {
			if !e.whole() {
				return whole, nil
			}
			whole, off = e.end(), e.end()
			continue
		}
		// A live Cluster: its children are whole up to the first that is not.
		off = e.dataOff
		for off < s.size {
			c, ok, err := s.readElement(off, s.size)
			if err != nil || !ok {
				return whole, err
			}
			if isTopLevel(c.id) {
				break
			}
			if !c.whole() {
				return whole, nil
			}
			whole, off = c.end(), c.end()
		}
	}
	return whole, nil
}

package audio

import (
	"bytes"
	"io"
)

// Ogg: a sequence of pages, each "OggS", a 27-byte header, a segment table and a body.
// The codec comes from the first packet of the first audio stream (its beginning-of-
// stream page), the duration from the granule position of that stream's last page,
// which is found by searching the file's tail backwards.
//
// Page checksums are checked where they decide something: in the backwards search,
// where "OggS" may occur inside packet data and only the CRC tells a real page from a
// false one. The head pages are found by following page lengths from offset 0 and are
// not checked, which keeps a corrupt but readable first page probe-able.

const (
	oggHeaderLen   = 27
	oggMaxPageLen  = oggHeaderLen + 255 + 255*255 // 65,307
	oggMaxBOSPages = 64                           // streams multiplexed at the start
	// oggMaxTailScan bounds the backwards search for the last page of the stream. In an
	// audio-only file it is in the last window; a video stream multiplexed alongside
	// may push it back, but not by megabytes.
	oggMaxTailScan = 4 << 20
	oggFlagBOS     = 0x02
)

// oggPage is a parsed page header.
type oggPage struct {
	flags   byte
	granule int64
	serial  uint32
	hdrLen  int // header and segment table
	bodyLen int
}

func (p oggPage) len() int { return p.hdrLen + p.bodyLen }

// parseOggPage reads the page header at the start of b, which holds at least the page's
// header and segment table (and more when available). ok is false when b is not a page
// or is too short for its header.
func parseOggPage(b []byte) (p oggPage, ok bool) {
	if len(b) < oggHeaderLen || string(b[:4]) != "OggS" || b[4] != 0 {
		return p, false
	}
	nseg := int(b[26])
	if len(b) < oggHeaderLen+nseg {
		return p, false
	}
	p.flags = b[5]
	p.granule = int64(le64(b[6:]))
	p.serial = le32(b[14:])
	p.hdrLen = oggHeaderLen + nseg
	for _, l := range b[oggHeaderLen:p.hdrLen] {
		p.bodyLen += int(l)
	}
	return p, true
}

// oggStream is the audio stream Probe reports on.
type oggStream struct {
	serial   uint32
	codec    string
	rate     int
	channels int
	preSkip  int64
}

func probeOgg(s *source) (Info, error) {
	st, err := findOggStream(s)
	if err != nil {
		return Info{}, err
	}
	granule, err := lastGranule(s, st.serial)
	if err != nil {
		return Info{}, err
	}
	samples := granule - st.preSkip
	if samples < 0 {
		samples = 0
	}
	return Info{
		Codec:      st.codec,
		SampleRate: st.rate,
		Channels:   st.channels,
		Duration:   float64(samples) / float64(st.rate),
	}, nil
}

// findOggStream walks the beginning-of-stream pages, which all come first, and returns
// the first stream whose identification packet is Opus or Vorbis.
func findOggStream(s *source) (oggStream, error) {
	off := int64(0)
	for i := 0; i < oggMaxBOSPages; i++ {
		b, err := s.peek(off, oggMaxPageLen)
		if err != nil {
			return oggStream{}, err
		}
		p, ok := parseOggPage(b)
		if !ok {
			if i == 0 {
				return oggStream{}, fail(Ogg, "truncated page")
			}
			break
		}
		if p.flags&oggFlagBOS == 0 {
			break
		}
		if len(b) < p.len() {
			return oggStream{}, fail(Ogg, "truncated page")
		}
		if st, ok := identifyOgg(b[p.hdrLen:p.len()]); ok {
			st.serial = p.serial
			return st, nil
		}
		off += int64(p.len())
	}
	return oggStream{}, fail(Ogg, "no opus or vorbis stream")
}

// identifyOgg reads a stream's identification packet (the start of a BOS page's body).
func identifyOgg(b []byte) (oggStream, bool) {
	switch {
	case len(b) >= 19 && string(b[:8]) == "OpusHead":
		// Opus always runs at 48 kHz; the header's "input sample rate" is only a hint.
		// Version's major nibble must be 0 (RFC 7845 §5.1).
		if b[8]>>4 != 0 || b[9] == 0 {
			return oggStream{}, false
		}
		return oggStream{codec: "opus", rate: 48000, channels: int(b[9]), preSkip: int64(le16(b[10:]))}, true
	case len(b) >= 30 && string(b[:7]) == "\x01vorbis":
		channels, rate := int(b[11]), le32(b[12:])
		if le32(b[7:]) != 0 || channels == 0 || rate == 0 || rate > 1<<30 {
			return oggStream{}, false
		}
		return oggStream{codec: "vorbis", rate: int(rate), channels: channels}, true
	}
	return oggStream{}, false
}

// lastGranule searches the file backwards from its end for the last whole page of the
// stream that has a granule position. Windows overlap by a page's maximum length, so a
// page that straddles one window's start lies whole in the next.
func lastGranule(s *source, serial uint32) (int64, error) {
	step := int64(len(s.buf) - oggMaxPageLen)
	end := s.size
	for scanned := int64(0); end > 0 && scanned < oggMaxTailScan; scanned += step {
		start := end - int64(len(s.buf))
		if start < 0 {
			start = 0
		}
		if err := s.fill(start); err != nil {
			return 0, err
		}
		win := s.data
		if int64(len(win)) > end-start {
			win = win[:end-start]
		}
		if g, ok := lastPageIn(win, serial); ok {
			return g, nil
		}
		if start == 0 {
			break
		}
		end = start + oggMaxPageLen
	}
	return 0, fail(Ogg, "no final granule position")
}

// lastPageIn returns the granule of the last valid page of the stream in b.
func lastPageIn(b []byte, serial uint32) (int64, bool) {
	for i := len(b); ; {
		i = bytes.LastIndex(b[:i], []byte("OggS"))
		if i < 0 {
			return 0, false
		}
		p, ok := parseOggPage(b[i:])
		if ok && p.serial == serial && p.granule >= 0 && i+p.len() <= len(b) && oggCRCOK(b[i:i+p.len()]) {
			return p.granule, true
		}
	}
}

// oggCRCTable is the table of Ogg's CRC-32: polynomial 0x04C11DB7, not reflected,
// initial value 0, no final XOR (FuzzOggCRC checks it against hash/crc32, reflected).
// Why: hash/crc32 computes only the reflected kind.
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRCOK checks a whole page's checksum, computed with its own CRC field as zeros.
func oggCRCOK(page []byte) bool {
	var crc uint32
	for i, c := range page {
		if i >= 22 && i < 26 {
			c = 0
		}
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc == le32(page[22:])
}

// OggCompleteLength answers how many bytes from the start of an Ogg file are whole
// pages, each with its checksum right: what is left of a recording cut off mid-write
// (the page died while recording) once its torn last page is dropped. 0 when not even
// the first page is whole.
func OggCompleteLength(r io.ReaderAt, size int64) (int64, error) {
	s := newSource(r, size, oggWindow, Ogg)
	var end int64
	for end < s.size {
		head, err := s.peek(end, oggHeaderLen+255)
		if err != nil {
			return end, err
		}
		p, ok := parseOggPage(head)
		if !ok || end+int64(p.len()) > s.size {
			break
		}
		page, err := s.peek(end, p.len())
		if err != nil {
			return end, err
		}
		if len(page) < p.len() || !oggCRCOK(page) {
			break
		}
		end += int64(p.len())
	}
	return end, nil
}

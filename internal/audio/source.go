package audio

import "io"

// Window sizes, per container. WAV needs only chunk headers; an Ogg page can be 65,307
// bytes and the tail search needs two of them; WebM reads element headers in passing
// and 64 KiB keeps the number of ReadAt calls low on a sequential walk.
const (
	wavWindow  = 4 << 10
	oggWindow  = 128 << 10
	webmWindow = 64 << 10
)

// source reads a file through an io.ReaderAt one bounded window at a time, so that no
// parser ever holds more than one window of the file, whatever sizes the file claims.
type source struct {
	r    io.ReaderAt
	size int64  // bytes known to exist; lowered when the reader ends early
	buf  []byte // the window's storage, allocated once
	data []byte // the valid part of buf
	base int64  // file offset of data[0]
	f    Format // for errors
}

func newSource(r io.ReaderAt, size int64, window int, f Format) *source {
	return &source{r: r, size: size, buf: make([]byte, window), f: f}
}

// peek returns the n bytes at off, or fewer where the file ends first (none past the
// end). n must not exceed the window. The slice is valid until the next call.
func (s *source) peek(off int64, n int) ([]byte, error) {
	if n > len(s.buf) {
		n = len(s.buf)
	}
	if off < 0 || off >= s.size {
		return nil, nil
	}
	end := off + int64(n)
	if end > s.size {
		end = s.size
	}
	if off < s.base || end > s.base+int64(len(s.data)) {
		if err := s.fill(off); err != nil {
			return nil, err
		}
		if end > s.size { // the reader held less than claimed
			end = s.size
		}
		if off >= end {
			return nil, nil
		}
	}
	return s.data[off-s.base : end-s.base], nil
}

// fill loads the window starting at off.
func (s *source) fill(off int64) error {
	n := int64(len(s.buf))
	if rest := s.size - off; rest < n {
		n = rest
	}
	if n < 0 {
		n = 0
	}
	m, err := s.r.ReadAt(s.buf[:n], off)
	if m < 0 || int64(m) > n {
		m = 0
	}
	s.base, s.data = off, s.buf[:m]
	if int64(m) < n {
		if err != nil && err != io.EOF {
			s.data = nil
			return &ProbeError{Format: s.f, Reason: "read error", Err: err}
		}
		// A short read without a real error means the file is shorter than claimed.
		s.size = off + int64(m)
	}
	return nil
}

// has reports whether n bytes at off lie within the file.
func (s *source) has(off, n int64) bool {
	return off >= 0 && n >= 0 && off <= s.size && n <= s.size-off
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

package audio

// WAV: a RIFF (or RF64/BW64) file of form type WAVE, whose chunks come in any order.
// Only `fmt `, `data`, `ds64` and `fact` matter here; LIST, JUNK and the rest are skipped.

// maxWAVChunks bounds the chunk walk: real files have a handful of chunks, and a file
// of millions of empty ones is not worth reading to the end.
const maxWAVChunks = 1024

// WAVE format tags.
const (
	wavePCM        = 0x0001
	waveADPCM      = 0x0002
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveIMAADPCM   = 0x0011
	waveMP3        = 0x0055
	waveExtensible = 0xFFFE
)

type wavFmt struct {
	tag        uint16 // the SubFormat's tag for WAVE_FORMAT_EXTENSIBLE
	channels   uint16
	rate       uint32
	byteRate   uint32
	blockAlign uint16
	bits       uint16
}

// wavScan is what the chunk walk found.
type wavScan struct {
	fmt      wavFmt
	haveFmt  bool
	dataLen  int64
	haveData bool
	ds64Data uint64 // RF64's 64-bit data size
	haveDS64 bool
	samples  uint32 // the fact chunk's sample count
	haveFact bool
}

func probeWAV(s *source) (Info, error) {
	hdr, err := s.peek(0, 12)
	if err != nil {
		return Info{}, err
	}
	if len(hdr) < 12 {
		return Info{}, fail(WAV, "truncated header")
	}
	rf64 := string(hdr[:4]) != "RIFF"
	// Streaming writers leave the data size open and it is then taken from the file's
	// size, so make sure the reader really holds that many bytes.
	if _, err := s.peek(s.size-1, 1); err != nil {
		return Info{}, err
	}
	w, err := walkWAV(s, rf64)
	if err != nil {
		return Info{}, err
	}
	switch {
	case !w.haveFmt:
		return Info{}, fail(WAV, "no fmt chunk")
	case !w.haveData:
		return Info{}, fail(WAV, "no data chunk")
	}
	f := w.fmt
	if f.channels == 0 || f.rate == 0 {
		return Info{}, fail(WAV, "invalid fmt chunk")
	}
	info := Info{
		Codec:      wavCodec(f.tag, f.bits),
		SampleRate: int(f.rate),
		Channels:   int(f.channels),
	}
	switch {
	case isPCMLike(f.tag):
		if f.blockAlign == 0 {
			return Info{}, fail(WAV, "invalid fmt chunk")
		}
		// A data chunk cut mid-frame counts its whole frames only.
		frames := w.dataLen / int64(f.blockAlign)
		info.Duration = float64(frames) / float64(f.rate)
	case w.haveFact:
		info.Duration = float64(w.samples) / float64(f.rate)
	case f.byteRate > 0:
		info.Duration = float64(w.dataLen) / float64(f.byteRate)
	default:
		return Info{}, fail(WAV, "no duration")
	}
	return info, nil
}

// walkWAV reads the chunk headers from the first chunk on, until both `fmt ` and `data`
// are known or the file ends.
func walkWAV(s *source, rf64 bool) (wavScan, error) {
	var w wavScan
	off := int64(12)
	for i := 0; s.has(off, 8) && !(w.haveFmt && w.haveData); i++ {
		if i == maxWAVChunks {
			return w, fail(WAV, "too many chunks")
		}
		b, err := s.peek(off, 8)
		if err != nil {
			return w, err
		}
		if len(b) < 8 {
			break
		}
		id, n := string(b[:4]), int64(le32(b[4:]))
		body := off + 8
		switch id {
		case "fmt ":
			if err := w.readFmt(s, body, n); err != nil {
				return w, err
			}
		case "ds64":
			if rf64 && n >= 24 {
				if b, err := s.peek(body, 24); err == nil && len(b) == 24 {
					w.ds64Data, w.haveDS64 = le64(b[8:]), true
				}
			}
		case "fact":
			if b, err := s.peek(body, 4); err == nil && len(b) == 4 && n >= 4 {
				w.samples, w.haveFact = le32(b), true
			}
		case "data":
			n = w.dataSize(s, body, n, rf64)
		}
		// Chunks are padded to an even length; n is at most 2^32 or the file's size, so
		// this always moves forward and never overflows.
		off = body + n + n&1
	}
	return w, nil
}

// dataSize settles the data chunk's length and returns the length to skip.
func (w *wavScan) dataSize(s *source, body, n int64, rf64 bool) int64 {
	rest := s.size - body
	switch {
	case rf64 && n == 0xFFFFFFFF && w.haveDS64 && w.ds64Data <= uint64(rest):
		n = int64(w.ds64Data)
	case n == 0 || n == 0xFFFFFFFF:
		// What a streaming writer leaves before it knows the length: the data runs to
		// the end of the file.
		n = rest
	case n > rest:
		// Truncated: use what is there.
		n = rest
	}
	w.dataLen, w.haveData = n, true
	return n
}

func (w *wavScan) readFmt(s *source, body, n int64) error {
	if n < 16 {
		return fail(WAV, "short fmt chunk")
	}
	want := n
	if want > 40 {
		want = 40
	}
	b, err := s.peek(body, int(want))
	if err != nil {
		return err
	}
	if len(b) < 16 {
		return fail(WAV, "truncated fmt chunk")
	}
	w.fmt = wavFmt{
		tag:        le16(b[0:]),
		channels:   le16(b[2:]),
		rate:       le32(b[4:]),
		byteRate:   le32(b[8:]),
		blockAlign: le16(b[12:]),
		bits:       le16(b[14:]),
	}
	if w.fmt.tag == waveExtensible {
		if len(b) < 26 {
			return fail(WAV, "truncated fmt chunk")
		}
		// The SubFormat GUID starts with the format tag it stands for.
		w.fmt.tag = le16(b[24:])
	}
	w.haveFmt = true
	return nil
}

// isPCMLike reports whether every block holds exactly one sample frame.
func isPCMLike(tag uint16) bool {
	switch tag {
	case wavePCM, waveFloat, waveALaw, waveMuLaw:
		return true
	}
	return false
}

// wavCodec names the codec as ffprobe does.
func wavCodec(tag, bits uint16) string {
	switch tag {
	case wavePCM:
		switch bits {
		case 8:
			return "pcm_u8"
		case 16:
			return "pcm_s16le"
		case 24:
			return "pcm_s24le"
		case 32:
			return "pcm_s32le"
		case 64:
			return "pcm_s64le"
		}
	case waveFloat:
		switch bits {
		case 32:
			return "pcm_f32le"
		case 64:
			return "pcm_f64le"
		}
	case waveALaw:
		return "pcm_alaw"
	case waveMuLaw:
		return "pcm_mulaw"
	case waveADPCM:
		return "adpcm_ms"
	case waveIMAADPCM:
		return "adpcm_ima_wav"
	case waveMP3:
		return "mp3"
	}
	return ""
}

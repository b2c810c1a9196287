package audio

// opusMaxPacketSamples is 120 ms at 48 kHz, the most one Opus packet may hold.
const opusMaxPacketSamples = 5760

// opusPacketSamples returns how many 48 kHz samples an Opus packet decodes to, from its
// TOC byte and, for code 3, its frame count byte (RFC 6716 §3.1). It returns 0 for a
// packet that is empty, cut short or over 120 ms. Only the first two bytes are read.
func opusPacketSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	var frames int
	switch toc & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 {
			return 0
		}
		frames = int(p[1] & 0x3F)
	}
	n := frames * opusFrameSamples(toc>>3)
	if n > opusMaxPacketSamples {
		return 0
	}
	return n
}

// opusFrameSamples is the frame size of a TOC configuration number (0–31) in 48 kHz
// samples: SILK 10/20/40/60 ms, Hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
func opusFrameSamples(config byte) int {
	switch {
	case config < 12:
		return [4]int{480, 960, 1920, 2880}[config&3]
	case config < 16:
		return [2]int{480, 960}[config&1]
	}
	return [4]int{120, 240, 480, 960}[config&3]
}

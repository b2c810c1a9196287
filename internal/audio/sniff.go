package audio

import "bytes"

// SniffLen is the most of a file's head that Sniff looks at.
const SniffLen = 64

// Sniff names the container from the first bytes of a file. It needs at most SniffLen
// bytes; fewer is fine, and what is not there cannot match. WebM and Matroska are both
// WebM here: Probe checks the DocType.
func Sniff(head []byte) Format {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case isWAV(head):
		return WAV
	case bytes.HasPrefix(head, []byte("OggS")):
		return Ogg
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return WebM
	case bytes.HasPrefix(head, []byte("fLaC")):
		return FLAC
	case len(head) >= 8 && string(head[4:8]) == "ftyp":
		return MP4
	case bytes.HasPrefix(head, []byte("ID3")):
		// An ID3v2 tag mostly precedes MP3; what follows it is past SniffLen anyway.
		return MP3
	case isADTS(head):
		return AAC
	case isMPEGLayer3(head):
		return MP3
	}
	return Unknown
}

// isWAV accepts RIFF, and the 64-bit RF64 and BW64, whose form type is WAVE.
func isWAV(b []byte) bool {
	if len(b) < 12 || string(b[8:12]) != "WAVE" {
		return false
	}
	switch string(b[:4]) {
	case "RIFF", "RF64", "BW64":
		return true
	}
	return false
}

// isADTS checks an ADTS header: a 12-bit sync, layer 00, a sampling frequency index that
// exists, and a frame at least as long as its header.
func isADTS(b []byte) bool {
	if len(b) < 7 || b[0] != 0xFF || b[1]&0xF6 != 0xF0 {
		return false
	}
	if (b[2]>>2)&0x0F > 12 {
		return false
	}
	frameLen := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
	return frameLen >= 7
}

// isMPEGLayer3 checks an MPEG audio frame header: an 11-bit sync, a version that is not
// reserved, layer III, and a bitrate and sample rate index that are not reserved.
func isMPEGLayer3(b []byte) bool {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return false
	}
	version := (b[1] >> 3) & 3
	layer := (b[1] >> 1) & 3
	bitrate := b[2] >> 4
	rate := (b[2] >> 2) & 3
	return version != 1 && layer == 1 && bitrate != 0x0F && rate != 3
}

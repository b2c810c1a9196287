package audio

import (
	"hash/crc32"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The package's stand-ins for the standard library, each against the standard one
// (FuzzCRCIEEE, in fuzz_test.go, is crcIEEE's).

// codecName lowercases as strings.ToLower does, for the ASCII names Matroska's CodecIDs are.
func FuzzCodecName(f *testing.F) {
	for _, s := range []string{"A_OPUS", "A_VORBIS", "A_PCM/INT/LIT", "A_", "V_VP9", "", "a_Mixed-Case9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if strings.ContainsFunc(id, func(r rune) bool { return r >= 0x80 }) {
			return // CodecIDs are ASCII; other bytes are kept as they are
		}
		want := id
		if len(want) > 2 {
			want = strings.TrimPrefix(want, "A_")
		}
		if got, want := codecName(id), strings.ToLower(want); got != want {
			t.Fatalf("codecName(%q) = %q, strings.ToLower gives %q", id, got, want)
		}
	})
}

// quote is strconv.Quote of the first 32 bytes with every byte outside printable ASCII,
// and '"', shown as '?', and a backslash left as it is.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "OpusHead", "a\"b\\c\x00\xff", strings.Repeat("x", 40), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clean := []byte(s[:min(len(s), 32)])
		for i, c := range clean {
			if c < 0x20 || c > 0x7E || c == '"' {
				clean[i] = '?'
			}
		}
		want := strings.ReplaceAll(strconv.Quote(string(clean)), `\\`, `\`)
		if got := quote(s); got != want {
			t.Fatalf("quote(%q) = %s, want %s", s, got, want)
		}
	})
}

// oggCRCOK's table is Ogg's CRC-32 (not reflected, no initial or final XOR), which is
// hash/crc32's IEEE CRC with every bit order reversed and its XORs undone.
func FuzzOggCRC(f *testing.F) {
	f.Add([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead"))
	f.Add(make([]byte, 26))
	f.Fuzz(func(t *testing.T, page []byte) {
		if len(page) < 26 {
			return
		}
		page = slices.Clone(page)
		clear(page[22:26])
		reflected := make([]byte, len(page))
		for i, c := range page {
			reflected[i] = bits.Reverse8(c)
		}
		want := bits.Reverse32(^crc32.Update(^uint32(0), crc32.IEEETable, reflected))
		page[22], page[23], page[24], page[25] = byte(want), byte(want>>8), byte(want>>16), byte(want>>24)
		if !oggCRCOK(page) {
			t.Fatalf("oggCRCOK refuses the checksum hash/crc32 gives: %08x", want)
		}
		page[22] ^= 1
		if oggCRCOK(page) {
			t.Fatal("oggCRCOK accepts a wrong checksum")
		}
	})
}

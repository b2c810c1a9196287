package audio

import (
	"bytes"
	"os"
	"testing"
)

// An Ogg cut anywhere keeps exactly its whole pages, and what is kept still probes.
func TestOggCompleteLengthDropsATornLastPage(t *testing.T) {
	var file []byte
	var ends []int64
	file = append(file, buildOggPage(oggFlagBOS, 0, 7, opusHead(1))...)
	ends = append(ends, int64(len(file)))
	file = append(file, buildOggPage(0, 0, 7, []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00"))...)
	ends = append(ends, int64(len(file)))
	for i := 1; i <= 5; i++ {
		file = append(file, buildOggPage(0, int64(i)*48000, 7, bytes.Repeat([]byte{byte(i)}, 300))...)
		ends = append(ends, int64(len(file)))
	}
	for cut := 0; cut <= len(file); cut++ {
		got, err := OggCompleteLength(bytes.NewReader(file[:cut]), int64(cut))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		for _, e := range ends {
			if e <= int64(cut) {
				want = e
			}
		}
		if got != want {
			t.Fatalf("cut at %d: %d whole bytes, want %d", cut, got, want)
		}
	}
	whole := ends[len(ends)-2] // four seconds of audio
	info, err := Probe(bytes.NewReader(file[:whole]), whole)
	if err != nil || info.Duration < 3.9 || info.Duration > 4.1 {
		t.Fatalf("the kept part probes as %+v, %v", info, err)
	}
	// A page whose bytes were damaged ends what is kept there.
	damaged := bytes.Clone(file)
	damaged[ends[3]+40] ^= 0xff
	if got, _ := OggCompleteLength(bytes.NewReader(damaged), int64(len(damaged))); got != ends[3] {
		t.Fatalf("kept %d past a damaged page, want %d", got, ends[3])
	}
}

func FuzzOggCompleteLength(f *testing.F) {
	f.Add(append(buildOggPage(oggFlagBOS, 0, 7, opusHead(1)), buildOggPage(0, 960, 7, []byte{1, 2})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := OggCompleteLength(bytes.NewReader(b), int64(len(b)))
		if err != nil || n < 0 || n > int64(len(b)) {
			t.Fatalf("%d %v", n, err)
		}
	})
}

// A live WebM cut anywhere keeps whole elements only, and what is kept still probes.
func TestWebMCompleteLengthDropsATornBlock(t *testing.T) {
	file, err := os.ReadFile(chromiumFixture)
	if err != nil {
		t.Fatal(err)
	}
	full, err := WebMCompleteLength(bytes.NewReader(file), int64(len(file)))
	if err != nil || full != int64(len(file)) {
		t.Fatalf("a whole file keeps %d of %d bytes (%v)", full, len(file), err)
	}
	prev := int64(0)
	for cut := len(file) / 3; cut < len(file); cut += 97 {
		n, err := WebMCompleteLength(bytes.NewReader(file[:cut]), int64(cut))
		if err != nil || n > int64(cut) || n < prev {
			t.Fatalf("cut at %d: kept %d (%v), before %d", cut, n, err, prev)
		}
		prev = n
		head, tailFrom, ok, _, err := Repair(bytes.NewReader(file[:n]), n)
		if err != nil || !ok {
			t.Fatalf("cut at %d: the kept part cannot be repaired: %v", cut, err)
		}
		repaired := append(bytes.Clone(head), file[tailFrom:n]...)
		if _, err := Probe(bytes.NewReader(repaired), int64(len(repaired))); err != nil {
			t.Fatalf("cut at %d: the kept part does not probe: %v", cut, err)
		}
	}
}

func FuzzWebMCompleteLength(f *testing.F) {
	if file, err := os.ReadFile(chromiumFixture); err == nil {
		f.Add(file[:len(file)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _ := WebMCompleteLength(bytes.NewReader(b), int64(len(b)))
		if n < 0 || n > int64(len(b)) {
			t.Fatalf("%d of %d", n, len(b))
		}
	})
}

package audio

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math"
	"sort"
	"testing"
)

// fuzzSeeds adds the committed seed files, the MediaRecorder fixture and the lying
// files to a fuzz target's corpus.
func fuzzSeeds(f *testing.F) {
	names, files := seeds(f)
	for _, name := range names {
		f.Add(files[name])
	}
	f.Add(readFile(f, mediaRecorderFixture))
	lying := lyingFiles()
	keys := make([]string, 0, len(lying))
	for k := range lying {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.Add(lying[k])
	}
	f.Add([]byte{})
}

// FuzzProbe: Probe never panics, agrees with Sniff on the format, and either fails with
// a *ProbeError or gives a sane Info.
func FuzzProbe(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		sniffed := Sniff(b)
		info, err := probeBytes(b)
		if info.Format != sniffed {
			t.Fatalf("Probe's Format %q, Sniff's %q", info.Format, sniffed)
		}
		if err != nil {
			var pe *ProbeError
			if !errors.As(err, &pe) || pe.Format != sniffed || errors.Is(err, ErrUnsupported) == sniffed.Supported() {
				t.Fatalf("error %T %v for a %s file", err, err, sniffed)
			}
			_ = err.Error()
			return
		}
		if !sniffed.Supported() || math.IsNaN(info.Duration) || math.IsInf(info.Duration, 0) ||
			info.Duration < 0 || info.Channels < 0 || info.SampleRate < 0 {
			t.Fatalf("insane %+v", info)
		}
		// A reader that holds less than the size claims is no worse.
		if len(b) > 1 {
			info, err := Probe(bytes.NewReader(b[:len(b)/2]), int64(len(b)))
			if err == nil && (math.IsNaN(info.Duration) || info.Duration < 0) {
				t.Fatalf("short reader: insane %+v", info)
			}
		}
	})
}

// FuzzRepair: the repair never panics, what it repairs reads its Duration from
// the header (the one Probe computed from the blocks before), and the Info Repair gives
// is what Probe says of the repaired file.
func FuzzRepair(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		head, tailFrom, ok, info, err := Repair(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			var pe *ProbeError
			if !errors.As(err, &pe) || ok || head != nil {
				t.Fatalf("error %v with ok %v, %d bytes", err, ok, len(head))
			}
			return
		}
		if !ok {
			if probed, err := probeBytes(b); err != nil || !probed.DurationFromHeader || probed != info {
				t.Fatalf("not repaired, but Probe says %+v, %v; Repair said %+v", probed, err, info)
			}
			return
		}
		if tailFrom < 0 || tailFrom > int64(len(b)) {
			t.Fatalf("tailFrom %d outside %d bytes", tailFrom, len(b))
		}
		before, err := probeBytes(b)
		if err != nil || before.DurationFromHeader {
			t.Fatalf("repaired a file Probe says is %+v, %v", before, err)
		}
		patched := append(bytes.Clone(head), b[tailFrom:]...)
		after, err := probeBytes(patched)
		if err != nil || !after.DurationFromHeader || math.Abs(after.Duration-before.Duration) > 1e-6*max(1, before.Duration) {
			t.Fatalf("repaired file probes %+v, %v; want the header Duration %v", after, err, before.Duration)
		}
		if after.Codec != before.Codec || after.SampleRate != before.SampleRate || after.Channels != before.Channels {
			t.Fatalf("repair changed the track: %+v, was %+v", after, before)
		}
		if info != after {
			t.Fatalf("Repair says %+v of the file Probe reads as %+v", info, after)
		}
	})
}

func FuzzCRCIEEE(f *testing.F) {
	f.Add([]byte("123456789"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := crcIEEE(b), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("crcIEEE(%x) = %08x, want %08x", b, got, want)
		}
	})
}

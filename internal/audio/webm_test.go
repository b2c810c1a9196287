package audio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkNoDurationWebM checks a WebM without Duration: Probe computes its length within
// tolerance of truth, Repair writes the Duration so that Probe then reads the same length
// from the header, the repaired file's structure is consistent, and, where ffmpeg is
// installed, ffprobe reports the length and ffmpeg decodes it without an error.
func checkNoDurationWebM(t *testing.T, b []byte, truth, tolerance float64) {
	t.Helper()
	info, err := probeBytes(b)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if info.Format != WebM || info.Codec != "opus" || info.DurationFromHeader {
		t.Errorf("Probe = %+v, want webm/opus without a header Duration", info)
	}
	t.Logf("computed %.4f s, truth %.4f s", info.Duration, truth)
	if math.Abs(info.Duration-truth) > tolerance {
		t.Errorf("Duration %.4f s, want %.4f ± %.3f", info.Duration, truth, tolerance)
	}
	patched, ok := patchBytes(t, b)
	if !ok {
		t.Fatal("Repair: ok = false for a file without Duration")
	}
	again, err := probeBytes(patched)
	if err != nil {
		t.Fatalf("Probe of the repaired file: %v", err)
	}
	if !again.DurationFromHeader || math.Abs(again.Duration-info.Duration) > 1e-9 {
		t.Errorf("repaired: %+v, want the header Duration %.6f", again, info.Duration)
	}
	if _, ok := patchBytes(t, patched); ok {
		t.Error("Repair of the repaired file: ok = true")
	}
	checkStructure(t, patched)
	if !haveTools("ffmpeg", "ffprobe") {
		return
	}
	path := filepath.Join(t.TempDir(), "repaired.webm")
	if err := os.WriteFile(path, patched, 0o644); err != nil {
		t.Fatal(err)
	}
	d, ok := ffprobeDuration(t, path)
	if !ok || math.Abs(d-truth) > tolerance {
		t.Errorf("ffprobe of the repaired file: %.4f s (ok %v), want %.4f", d, ok, truth)
	}
	ffmpegDecodes(t, path)
}

func haveTools(tools ...string) bool {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

// checkStructure checks what Repair must keep consistent: a known Segment size
// still ends where the file does; every SeekHead entry points at an element of the ID
// it names; every CueClusterPosition of the Cues a SeekHead names, or of Cues before the
// first Cluster, at a Cluster.
func checkStructure(t *testing.T, b []byte) {
	t.Helper()
	seg, ok := tFind(tElems(t, b, 0), idSegment)
	if !ok {
		t.Fatal("no Segment")
	}
	if !seg.unknown && seg.dataOff+len(seg.data) != len(b) {
		t.Errorf("Segment ends at %d, the file at %d", seg.dataOff+len(seg.data), len(b))
	}
	at := func(pos uint64, id []byte) bool {
		p := uint64(seg.dataOff) + pos
		return p < uint64(len(b)) && bytes.HasPrefix(b[p:], id)
	}
	var cues []tElem
	clusters := false
	for _, e := range headerElems(t, seg) {
		switch e.id {
		case idCluster:
			clusters = true
		case idCues:
			if !clusters {
				cues = append(cues, e)
			}
		case idSeekHead:
			for _, s := range tElems(t, e.data, e.dataOff) {
				if s.id != idSeek {
					continue
				}
				f := tElems(t, s.data, s.dataOff)
				id, _ := tFind(f, idSeekID)
				pos, _ := tFind(f, idSeekPosition)
				if !at(beUint(pos.data), id.data) {
					t.Errorf("Seek %x → %d: no such element there", id.data, beUint(pos.data))
				} else if bytes.Equal(id.data, tID(idCues)) {
					cues = append(cues, tElemAt(t, b, seg.dataOff+int(beUint(pos.data))))
				}
			}
		}
	}
	for _, e := range cues {
		for _, cp := range tElems(t, e.data, e.dataOff) {
			if cp.id != idCuePoint {
				continue
			}
			for _, tp := range tElems(t, cp.data, cp.dataOff) {
				if tp.id != idCueTrackPositions {
					continue
				}
				if pos, ok := tFind(tElems(t, tp.data, tp.dataOff), idCueClusterPosition); ok &&
					!at(beUint(pos.data), tID(idCluster)) {
					t.Errorf("CueClusterPosition %d: no Cluster there", beUint(pos.data))
				}
			}
		}
	}
}

// headerElems returns the Segment's children until one of unknown size.
func headerElems(t *testing.T, seg tElem) []tElem {
	t.Helper()
	var out []tElem
	for p := 0; p < len(seg.data); {
		id, n := tVint(seg.data[p:], true)
		size, m := tVint(seg.data[p+n:], false)
		if size == 1<<(7*m)-1 {
			break // an unknown-size Cluster: nothing after it is looked at
		}
		end := p + n + m + int(size)
		if end > len(seg.data) {
			t.Fatalf("element %x runs past the Segment", id)
		}
		out = append(out, tElem{id: uint32(id), off: seg.dataOff + p, dataOff: seg.dataOff + p + n + m, data: seg.data[p+n+m : end]})
		p = end
	}
	return out
}

func TestMediaRecorderFixture(t *testing.T) {
	checkNoDurationWebM(t, readFile(t, mediaRecorderFixture), mediaRecorderSeconds, 0.050)
}

// TestChromiumRecording checks a real recording by Chromium's MediaRecorder, when the
// lead engineer has added one, against the length written beside it.
func TestChromiumRecording(t *testing.T) {
	b, err := os.ReadFile(chromiumFixture)
	if os.IsNotExist(err) {
		t.Skip(chromiumFixture + " not added yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	text := readFile(t, chromiumFixture+".duration")
	truth, err := strconv.ParseFloat(strings.TrimSpace(string(text)), 64)
	if err != nil {
		t.Fatalf("%s.duration: %v", chromiumFixture, err)
	}
	checkNoDurationWebM(t, b, truth, 0.050)
}

// TestMediaRecorderStyle rebuilds ffmpeg's Opus as MediaRecorder would write it, for
// several lengths, packet durations and channel counts.
func TestMediaRecorderStyle(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe", "espeak-ng")
	dir := t.TempDir()
	for _, c := range []struct {
		packets, frameMs, channels int
	}{{65, 20, 1}, {116, 60, 2}, {1017, 60, 1}, {250, 10, 1}, {75, 40, 1}} {
		seconds := opusLength(c.packets, c.frameMs)
		t.Run(ftoa(seconds)+"s-"+strconv.Itoa(c.frameMs)+"ms", func(t *testing.T) {
			checkNoDurationWebM(t, mediaRecorderWebM(t, dir, seconds, c.frameMs, c.channels), seconds, 0.050)
		})
	}
}

// TestFFmpegLive repairs ffmpeg's live WebM: no Duration, a SeekHead before Info whose
// entries for Tracks and Tags, after the insertion, must move; a Void before Info that
// cannot absorb anything; known-size Clusters; a final block with DiscardPadding.
func TestFFmpegLive(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe", "espeak-ng")
	dir := t.TempDir()
	for _, seconds := range []float64{1.3, 7} {
		path := ffPipe("live-"+ftoa(seconds)+".webm", seconds, "-ar", "48000", "-c:a", "libopus", "-f", "webm", "-live", "1")(t, dir)
		checkNoDurationWebM(t, readFile(t, path), seconds, 0.050)
	}
}

// voidDuration turns a WebM's Info Duration into a Void of the same length, which leaves
// every position as it was: a file with SeekHead and Cues but no Duration.
func voidDuration(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	seg, _ := tFind(tElems(t, b, 0), idSegment)
	for _, e := range headerElems(t, seg) {
		if e.id != idInfo {
			continue
		}
		for _, c := range tElems(t, e.data, e.dataOff) {
			if c.id == idDuration {
				total := c.dataOff + len(c.data) - c.off
				copy(b[c.off:], appendVoid(nil, total))
				return b
			}
		}
	}
	t.Fatal("no Duration")
	return nil
}

// ffmpegWebM is ffmpeg's usual layout: SeekHead, Void, Info, Tracks, Tags, Clusters of
// known size, Cues at the end, a Segment of known size; without its Duration.
func ffmpegWebM(t *testing.T, seconds float64) []byte {
	t.Helper()
	needTools(t, "ffmpeg", "ffprobe", "espeak-ng")
	path := loopSpeech(t, t.TempDir(), "cues.webm", seconds, "-ar", "48000", "-c:a", "libopus", "-cluster_time_limit", "1000")
	return voidDuration(t, readFile(t, path))
}

// TestPatchVoidAbsorbs: the Void ffmpeg leaves between SeekHead and Info shrinks by what
// Info grows, so nothing after Info moves and the Cues at the end stay right.
func TestPatchVoidAbsorbs(t *testing.T) {
	b := ffmpegWebM(t, 7)
	checkNoDurationWebM(t, b, 7, 0.050)
	head, tailFrom, _, _, _ := Repair(bytes.NewReader(b), int64(len(b)))
	if int64(len(head)) != tailFrom {
		t.Errorf("head %d bytes replaces %d: the Void did not absorb the insertion", len(head), tailFrom)
	}
}

// TestPatchNoVoid: without a Void the Segment grows, the SeekHead moves Tracks and Tags,
// and its Cues entry, which would point at stale positions, becomes a Void.
func TestPatchNoVoid(t *testing.T) {
	b := ffmpegWebM(t, 7)
	seg, _ := tFind(tElems(t, b, 0), idSegment)
	void, ok := tFind(headerElems(t, seg), idVoid)
	if !ok {
		t.Fatal("ffmpeg wrote no Void")
	}
	b[void.off] = 0xFB // an element no reader knows, which they skip
	checkNoDurationWebM(t, b, 7, 0.050)
	patched, _ := patchBytes(t, b)
	seg, _ = tFind(tElems(t, patched, 0), idSegment)
	head, _ := tFind(headerElems(t, seg), idSeekHead)
	if bytes.Contains(head.data, tID(idCues)) {
		t.Error("the SeekHead still points at the Cues, whose positions are stale")
	}
	if len(patched) == len(b) {
		t.Error("the file did not grow")
	}
}

// TestPatchFrontCues: with reserve_index_space ffmpeg puts the Cues before the Clusters
// and a Void after them. The Void absorbs the insertion, so the Clusters stay where they
// are and the Cues, rewritten in the head, still point at them.
func TestPatchFrontCues(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe", "espeak-ng")
	dir := t.TempDir()
	path := loopSpeech(t, dir, "front.webm", 7, "-ar", "48000", "-c:a", "libopus",
		"-cluster_time_limit", "1000", "-reserve_index_space", "400")
	b := voidDuration(t, readFile(t, path))
	checkNoDurationWebM(t, b, 7, 0.050)
	head, tailFrom, _, _, _ := Repair(bytes.NewReader(b), int64(len(b)))
	if int64(len(head)) != tailFrom {
		t.Errorf("head %d bytes replaces %d: the Void did not absorb the insertion", len(head), tailFrom)
	}
}

// TestPatchCRC: ffmpeg writes CRC-32 elements in Matroska (not WebM) files; the repaired
// Info's must be right.
func TestPatchCRC(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe", "espeak-ng")
	dir := t.TempDir()
	path := loopSpeech(t, dir, "crc.mka", 1.3, "-ar", "48000", "-c:a", "libopus")
	b := voidDuration(t, readFile(t, path))
	patched, ok := patchBytes(t, b)
	if !ok {
		t.Fatal("not patched")
	}
	seg, _ := tFind(tElems(t, patched, 0), idSegment)
	checked := 0
	for _, e := range headerElems(t, seg) {
		if len(e.data) >= 6 && e.data[0] == idCRC32 {
			if got, want := binary.LittleEndian.Uint32(e.data[2:]), crc32.ChecksumIEEE(e.data[6:]); got != want {
				t.Errorf("element %x: CRC %08x, want %08x", e.id, got, want)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no CRC-32 elements to check")
	}
	checkNoDurationWebM(t, b, 1.3, 0.050)
}

// TestPatchAlreadyHasDuration: ok is false, and nothing else.
func TestPatchAlreadyHasDuration(t *testing.T) {
	b := readFile(t, filepath.Join(seedDir, "ffmpeg-cues.webm"))
	head, tailFrom, ok, _, err := Repair(bytes.NewReader(b), int64(len(b)))
	if ok || err != nil || head != nil || tailFrom != 0 {
		t.Errorf("Repair = %d bytes, %d, %v, %v", len(head), tailFrom, ok, err)
	}
}

// TestPatchUnusableDuration: a Duration of 0 is written over in place.
func TestPatchUnusableDuration(t *testing.T) {
	b := readFile(t, mediaRecorderFixture)
	info, _ := probeBytes(b)
	// Give the fixture's Info a zero Duration by hand: Info is the Segment's first child.
	seg, _ := tFind(tElems(t, b, 0), idSegment)
	infoEl := headerElems(t, seg)[0]
	grown := append(bytes.Clone(infoEl.data), tFloat(idDuration, 0)...)
	z := append(bytes.Clone(b[:infoEl.off]), tEl(idInfo, grown)...)
	z = append(z, b[infoEl.dataOff+len(infoEl.data):]...)
	if got, err := probeBytes(z); err != nil || got.DurationFromHeader || got.Duration != info.Duration {
		t.Fatalf("Probe with a zero Duration = %+v, %v; want the computed %.4f", got, err, info.Duration)
	}
	head, tailFrom, ok, _, err := Repair(bytes.NewReader(z), int64(len(z)))
	if !ok || err != nil || int64(len(head)) != tailFrom {
		t.Fatalf("Repair = %d bytes, %d, %v, %v; want an in-place repair", len(head), tailFrom, ok, err)
	}
	checkNoDurationWebM(t, z, mediaRecorderSeconds, 0.050)
}

// TestOpusPacketSamples covers RFC 6716 §3.1's table and frame count codes.
func TestOpusPacketSamples(t *testing.T) {
	for _, c := range []struct {
		packet []byte
		want   int
	}{
		{[]byte{0<<3 | 0}, 480},         // SILK NB 10 ms
		{[]byte{3<<3 | 0}, 2880},        // SILK NB 60 ms
		{[]byte{11<<3 | 1}, 2 * 2880},   // SILK WB 60 ms, two frames
		{[]byte{13<<3 | 2}, 2 * 960},    // Hybrid SWB 20 ms, two frames
		{[]byte{15<<3 | 3, 3}, 3 * 960}, // Chromium's: Hybrid FB 20 ms × 3
		{[]byte{16<<3 | 0}, 120},        // CELT NB 2.5 ms
		{[]byte{28<<3 | 3, 0x80 | 48}, 48 * 120},
		{[]byte{28<<3 | 3, 49}, 0}, // 122.5 ms: too long
		{[]byte{3<<3 | 3, 3}, 0},   // 180 ms: too long
		{[]byte{28<<3 | 3}, 0},     // code 3 without its count byte
		{[]byte{28<<3 | 3, 0}, 0},  // no frames
		{nil, 0},
	} {
		if got := opusPacketSamples(c.packet); got != c.want {
			t.Errorf("opusPacketSamples(% x) = %d, want %d", c.packet, got, c.want)
		}
	}
}

// TestBlockLacing: an Opus block laced three ways holds three packets whose lengths
// add up.
func TestBlockLacing(t *testing.T) {
	p20 := []byte{31 << 3, 1, 2, 3}         // CELT FB 20 ms, 4 bytes
	p10 := []byte{30 << 3, 9, 9}            // CELT FB 10 ms, 3 bytes
	p60 := []byte{31<<3 | 3, 3, 7, 7, 7, 7} // 3 × 20 ms, 6 bytes
	frames := append(append(append([]byte(nil), p20...), p10...), p60...)
	for name, lace := range map[string][]byte{
		"xiph": {0x81, 0, 0, 0x80 | 1<<1, 2, 4, 3},
		"ebml": {0x81, 0, 0, 0x80 | 3<<1, 2, 0x84, 0xBE}, // 4, then 4 + (62 - 63)
	} {
		block := append(bytes.Clone(lace), frames...)
		mr := mrWithLastBlock(t, block)
		info, err := probeBytes(mr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := 1.0 + 0.090; math.Abs(info.Duration-want) > 1e-9 {
			t.Errorf("%s: Duration %.6f, want %.6f", name, info.Duration, want)
		}
	}
	fixed := append([]byte{0x81, 0, 0, 0x80 | 2<<1, 2}, bytes.Repeat(p20, 3)...)
	info, err := probeBytes(mrWithLastBlock(t, fixed))
	if err != nil || math.Abs(info.Duration-1.060) > 1e-9 {
		t.Errorf("fixed lacing: %+v, %v; want 1.060 s", info, err)
	}
}

// mrWithLastBlock builds a MediaRecorder-style file whose last block, at 1 s, is block.
func mrWithLastBlock(t *testing.T, block []byte) []byte {
	t.Helper()
	tr := webmTrack{codecPrivate: opusHead(1), channels: 1}
	tr.blocks = []webmBlock{{ms: 0, frame: []byte{31 << 3, 0}}}
	b := muxMediaRecorder(tr, 1000)
	return append(b, tElUnknown(idCluster, tUint(idTimecode, 1000), tEl(idSimpleBlock, block))...)
}

func opusHead(channels byte) []byte {
	return append([]byte("OpusHead"), 1, channels, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0)
}

// TestBlockDurationAndDefault: other codecs take the BlockDuration, else DefaultDuration.
func TestBlockDurationAndDefault(t *testing.T) {
	build := func(trackExtra, group []byte) []byte {
		header := tEl(idEBML, tStr(idDocType, "matroska"))
		tracks := tEl(idTracks, tEl(idTrackEntry, tUint(idTrackNumber, 1), tUint(idTrackType, 2),
			tStr(idCodecID, "A_VORBIS"), trackExtra, tEl(idAudio, tFloat(idSamplingFrequency, 44100), tUint(idChannels, 2))))
		cluster := tElUnknown(idCluster, tUint(idTimecode, 2000),
			tEl(idSimpleBlock, tBlock(0, []byte{1})), tEl(idBlockGroup, tEl(idBlock, tBlock(500, []byte{2})), group))
		return append(header, tElUnknown(idSegment, tEl(idInfo, tUint(idTimecodeScale, 1_000_000)), tracks, cluster)...)
	}
	for _, c := range []struct {
		name         string
		track, group []byte
		want         float64
	}{
		{"BlockDuration", tUint(idDefaultDuration, 5_000_000), tUint(idBlockDuration, 20), 2.520},
		{"DefaultDuration", tUint(idDefaultDuration, 5_000_000), nil, 2.505},
		{"neither", nil, nil, 2.500},
		{"DiscardPadding", nil, append(tUint(idBlockDuration, 20), tUint(idDiscardPadding, 4_000_000)...), 2.516},
	} {
		info, err := probeBytes(build(c.track, c.group))
		if err != nil || info.Codec != "vorbis" || info.SampleRate != 44100 || info.Channels != 2 ||
			math.Abs(info.Duration-c.want) > 1e-9 {
			t.Errorf("%s: %+v, %v; want vorbis 44100 Hz ×2, %.3f s", c.name, info, err, c.want)
		}
	}
}

package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The real-file tests make their files at test time with ffmpeg, sox and espeak-ng,
// and skip when one is missing (as under GOOS=js, where nothing can be run).

func needTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s not available: %v", tool, err)
		}
	}
}

// run runs a command and fails the test with its output when it fails.
func run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// ffmpeg runs ffmpeg quietly, overwriting its output.
func ffmpeg(tb testing.TB, args ...string) {
	tb.Helper()
	run(tb, "ffmpeg", append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, args...)...)
}

// ffprobeDuration is the format duration ffprobe reports; ok is false for "N/A".
func ffprobeDuration(tb testing.TB, path string) (float64, bool) {
	tb.Helper()
	out := strings.TrimSpace(string(run(tb, "ffprobe", "-v", "error", "-show_entries",
		"format=duration", "-of", "csv=p=0", path)))
	d, err := strconv.ParseFloat(out, 64)
	return d, err == nil
}

// ffmpegDecodes fails the test when ffmpeg reports any error decoding the file.
func ffmpegDecodes(tb testing.TB, path string) {
	tb.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		tb.Errorf("ffmpeg decoding %s: %v\n%s", filepath.Base(path), err, out)
	}
}

// speech makes a few seconds of espeak-ng speech, the source of most test files.
func speech(tb testing.TB, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "speech.wav")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	run(tb, "espeak-ng", "-w", path, "This is a voice note, recorded for the audio container tests.")
	return path
}

// loopSpeech encodes the speech, looped to exactly seconds long, with ffmpeg.
func loopSpeech(tb testing.TB, dir, out string, seconds float64, args ...string) string {
	tb.Helper()
	src := speech(tb, dir)
	path := filepath.Join(dir, out)
	ffmpeg(tb, append([]string{"-stream_loop", "-1", "-i", src, "-t", ftoa(seconds)}, append(args, path)...)...)
	return path
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func writeFile(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func probeBytes(b []byte) (Info, error) { return Probe(bytes.NewReader(b), int64(len(b))) }

// patchBytes runs Repair and assembles the repaired file.
func patchBytes(tb testing.TB, b []byte) ([]byte, bool) {
	tb.Helper()
	head, tailFrom, ok, _, err := Repair(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("Repair: %v", err)
	}
	if !ok {
		return nil, false
	}
	if tailFrom < 0 || tailFrom > int64(len(b)) {
		tb.Fatalf("tailFrom %d outside the file (%d bytes)", tailFrom, len(b))
	}
	return append(append([]byte(nil), head...), b[tailFrom:]...), true
}

// Shared files for the benchmarks, made once per `go test` run.
var (
	sharedMu    sync.Mutex
	sharedDir   string
	sharedFiles = map[string][]byte{}
)

// sharedFile returns the bytes of a file made once by make, in a directory removed at
// the end of the run (see TestMain).
func sharedFile(tb testing.TB, name string, make func(tb testing.TB, dir string) string) []byte {
	tb.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if b, ok := sharedFiles[name]; ok {
		return b
	}
	if sharedDir == "" {
		dir, err := os.MkdirTemp("", "audio-test-")
		if err != nil {
			tb.Fatal(err)
		}
		sharedDir = dir
	}
	b := readFile(tb, make(tb, sharedDir))
	sharedFiles[name] = b
	return b
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// A small EBML reader and writer of the tests' own, independent of the package's, to
// take ffmpeg's WebM apart, rebuild it the way MediaRecorder writes it, and check the
// structure of repaired files.

type tElem struct {
	id      uint32
	off     int // offset of the ID in the buffer it was parsed from
	dataOff int
	data    []byte
	unknown bool
}

// tVint decodes a vint; keep keeps the length marker (for IDs).
func tVint(b []byte, keep bool) (uint64, int) {
	n := 1
	for n <= 8 && b[0]&(0x80>>(n-1)) == 0 {
		n++
	}
	v := uint64(b[0])
	if !keep {
		v &= 0xFF >> n
	}
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n
}

// tElems parses the elements of b, base being b's offset in its file. An element of
// unknown size runs to the end of b.
func tElems(tb testing.TB, b []byte, base int) []tElem {
	tb.Helper()
	var out []tElem
	for p := 0; p < len(b); {
		id, n := tVint(b[p:], true)
		size, m := tVint(b[p+n:], false)
		e := tElem{id: uint32(id), off: base + p, dataOff: base + p + n + m}
		end := p + n + m + int(size)
		if size == 1<<(7*m)-1 {
			end, e.unknown = len(b), true
		}
		if end > len(b) {
			tb.Fatalf("element %x at %d runs past the end", id, base+p)
		}
		e.data = b[p+n+m : end]
		out = append(out, e)
		p = end
	}
	return out
}

// tElemAt parses the one element at off in b.
func tElemAt(tb testing.TB, b []byte, off int) tElem {
	tb.Helper()
	id, n := tVint(b[off:], true)
	size, m := tVint(b[off+n:], false)
	end := off + n + m + int(size)
	if end > len(b) {
		tb.Fatalf("element %x at %d runs past the end", id, off)
	}
	return tElem{id: uint32(id), off: off, dataOff: off + n + m, data: b[off+n+m : end]}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func tFind(es []tElem, id uint32) (tElem, bool) {
	for _, e := range es {
		if e.id == id {
			return e, true
		}
	}
	return tElem{}, false
}

func tID(id uint32) []byte {
	var b []byte
	for shift := 24; shift >= 0; shift -= 8 {
		if c := byte(id >> shift); c != 0 || len(b) > 0 {
			b = append(b, c)
		}
	}
	return b
}

// tEl encodes an element with a minimal size.
func tEl(id uint32, parts ...[]byte) []byte {
	data := bytes.Join(parts, nil)
	n := 1
	for uint64(len(data)) >= 1<<(7*n)-1 {
		n++
	}
	size := uint64(len(data)) | 1<<(7*n)
	out := tID(id)
	for i := n - 1; i >= 0; i-- {
		out = append(out, byte(size>>(8*i)))
	}
	return append(out, data...)
}

// tElUnknown encodes an element of unknown size, as MediaRecorder writes Segments and
// Clusters: 01 FF FF FF FF FF FF FF.
func tElUnknown(id uint32, parts ...[]byte) []byte {
	out := append(tID(id), 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	return append(out, bytes.Join(parts, nil)...)
}

func tUint(id uint32, v uint64) []byte {
	var b []byte
	for shift := 56; shift >= 0; shift -= 8 {
		if c := byte(v >> shift); c != 0 || len(b) > 0 || shift == 0 {
			b = append(b, c)
		}
	}
	return tEl(id, b)
}

func tFloat(id uint32, f float64) []byte {
	return tEl(id, binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
}

func tStr(id uint32, s string) []byte { return tEl(id, []byte(s)) }

// tBlock is a SimpleBlock's contents: track 1, a timecode relative to the cluster, a
// keyframe, and one frame.
func tBlock(rel int16, frame []byte) []byte {
	b := []byte{0x81, byte(uint16(rel) >> 8), byte(rel), 0x80}
	return append(b, frame...)
}

// webmBlock is one audio block taken from a WebM: its absolute timecode (ms at the
// default scale) and its frame.
type webmBlock struct {
	ms    int64
	frame []byte
}

// webmTrack is what tReadWebM takes from ffmpeg's WebM.
type webmTrack struct {
	codecPrivate []byte
	channels     uint64
	blocks       []webmBlock
}

// tReadWebM takes the audio blocks out of a WebM ffmpeg wrote (known sizes, one track,
// unlaced blocks).
func tReadWebM(tb testing.TB, b []byte) webmTrack {
	tb.Helper()
	var tr webmTrack
	top := tElems(tb, b, 0)
	seg, ok := tFind(top, idSegment)
	if !ok {
		tb.Fatal("no Segment")
	}
	for _, e := range tElems(tb, seg.data, seg.dataOff) {
		switch e.id {
		case idTracks:
			entry, _ := tFind(tElems(tb, e.data, e.dataOff), idTrackEntry)
			fields := tElems(tb, entry.data, entry.dataOff)
			cp, _ := tFind(fields, 0x63A2)
			tr.codecPrivate = cp.data
			audio, _ := tFind(fields, idAudio)
			ch, _ := tFind(tElems(tb, audio.data, audio.dataOff), idChannels)
			tr.channels = beUint(ch.data)
		case idCluster:
			var tc int64
			for _, c := range tElems(tb, e.data, e.dataOff) {
				block := c.data
				switch c.id {
				case idTimecode:
					tc = int64(beUint(c.data))
					continue
				case idBlockGroup:
					bl, _ := tFind(tElems(tb, c.data, c.dataOff), idBlock)
					block = bl.data
				case idSimpleBlock:
				default:
					continue
				}
				rel := int16(binary.BigEndian.Uint16(block[1:3]))
				tr.blocks = append(tr.blocks, webmBlock{ms: tc + int64(rel), frame: block[4:]})
			}
		}
	}
	if len(tr.blocks) == 0 {
		tb.Fatal("no blocks")
	}
	return tr
}

// muxMediaRecorder writes the blocks the way Chromium's MediaRecorder does: no
// SeekHead, Cues or Duration, a Segment and Clusters of unknown size, SimpleBlocks
// only, and a new Cluster every clusterMs (as with a timeslice).
func muxMediaRecorder(tr webmTrack, clusterMs int64) []byte {
	header := tEl(idEBML,
		tUint(0x4286, 1), tUint(0x42F7, 1), tUint(0x42F2, 4), tUint(0x42F3, 8),
		tStr(idDocType, "webm"), tUint(0x4287, 4), tUint(0x4285, 2))
	info := tEl(idInfo, tUint(idTimecodeScale, 1_000_000), tStr(0x4D80, "Chrome"), tStr(0x5741, "Chrome"))
	tracks := tEl(idTracks, tEl(idTrackEntry,
		tUint(idTrackNumber, 1), tUint(0x73C5, 0x1234567), tUint(idTrackType, 2),
		tStr(idCodecID, "A_OPUS"), tEl(0x63A2, tr.codecPrivate),
		tEl(idAudio, tFloat(idSamplingFrequency, 48000), tUint(idChannels, tr.channels), tUint(0x6264, 32))))
	var clusters []byte
	var cluster []byte
	var start int64 = -1
	flush := func() {
		if start >= 0 {
			clusters = append(clusters, tElUnknown(idCluster, tUint(idTimecode, uint64(start)), cluster)...)
		}
	}
	for _, bl := range tr.blocks {
		if start < 0 || bl.ms-start >= clusterMs || bl.ms-start > math.MaxInt16 {
			flush()
			start, cluster = bl.ms, nil
		}
		cluster = append(cluster, tEl(idSimpleBlock, tBlock(int16(bl.ms-start), bl.frame))...)
	}
	flush()
	return append(header, tElUnknown(idSegment, info, tracks, clusters)...)
}

// opusPreSkip is the delay libopus puts before the audio, 312 samples at 48 kHz.
const opusPreSkip = 0.0065

// opusLength is a length of input that fills exactly packets of frameMs each once
// libopus has put its pre-skip before it. Made from any other length, the last packet
// is padded out past the audio, which ffmpeg marks with DiscardPadding but which a
// rebuilt MediaRecorder file cannot say; MediaRecorder itself, recording live, never
// pads.
func opusLength(packets, frameMs int) float64 {
	return float64(packets*frameMs)/1000 - opusPreSkip
}

// mediaRecorderWebM encodes seconds of looped speech to Opus with ffmpeg, frameMs per
// packet, and rebuilds it as MediaRecorder would have written it.
func mediaRecorderWebM(tb testing.TB, dir string, seconds float64, frameMs, channels int) []byte {
	tb.Helper()
	src := loopSpeech(tb, dir, "mr-src-"+ftoa(seconds)+".webm", seconds, "-ar", "48000",
		"-ac", strconv.Itoa(channels), "-c:a", "libopus", "-b:a", "24k", "-frame_duration", strconv.Itoa(frameMs))
	return muxMediaRecorder(tReadWebM(tb, readFile(tb, src)), 1000)
}

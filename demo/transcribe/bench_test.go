package transcribe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestWERTable measures the engine on every recording of pocketsphinx-testdata that has a
// known transcript (a CMU Sphinx "transcription" file beside it): the word error rate on
// the original 16 kHz WAV and after a browser's encoding (Opus, 48 kHz, 32 kbit/s, in
// WebM and in Ogg) through the engine's own decode path, and the real-time factor (wall
// time of the whole Transcribe over the audio's duration). It prints a markdown table.
//
//	VOCAFUSE_BENCH=1 go test -run TestWERTable -v ./demo/transcribe/
//
// VOCAFUSE_BENCH_OUT=file also writes the table there; VOCAFUSE_BENCH_ARGS adds
// arguments to pocketsphinx_continuous (tuning), space-separated.
func TestWERTable(t *testing.T) {
	if os.Getenv("VOCAFUSE_BENCH") != "1" {
		t.Skip("the WER/RTF benchmark runs with VOCAFUSE_BENCH=1 (make bench)")
	}
	base := engineOrSkip(t)
	c := base.Config()
	c.ExtraArgs = strings.Fields(os.Getenv("VOCAFUSE_BENCH_ARGS"))
	e := NewPocketSphinx(c)

	refs := knownTranscripts(t, testDataDir())
	if len(refs) == 0 {
		t.Fatalf("no recording with a known transcript under %s", testDataDir())
	}
	dir := t.TempDir()
	type row struct {
		name                 string
		words                int
		errs                 [3]int // original, webm, ogg
		seconds, wall, wallW float64
	}
	var rows []row
	for _, r := range refs {
		name := strings.TrimSuffix(filepath.Base(r.wav), ".wav")
		webm := filepath.Join(dir, name+".webm")
		ogg := filepath.Join(dir, name+".ogg")
		toOpus(t, r.wav, webm, 1)
		toOpus(t, r.wav, ogg, 1)
		rw := row{name: filepath.Base(filepath.Dir(r.wav)) + "/" + name}
		for i, f := range []string{r.wav, webm, ogg} {
			start := time.Now()
			res, secs, err := e.transcribe(context.Background(), f)
			wall := time.Since(start).Seconds()
			if err != nil && err != ErrNoSpeech {
				t.Fatalf("%s: %v", f, err)
			}
			errs, words := WER(r.text, res.Text)
			rw.errs[i], rw.words = errs, words
			switch i {
			case 0:
				rw.seconds, rw.wall = secs, wall
			case 1:
				rw.wallW = wall
			}
			t.Logf("%s [%s]: %q (%d/%d errors)", rw.name, filepath.Ext(f), res.Text, errs, words)
		}
		rows = append(rows, rw)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| file | words | WER original | WER webm | WER ogg | RTF original | RTF webm |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|\n")
	var tot row
	pct := func(e, w int) string {
		if w == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f%% (%d)", 100*float64(e)/float64(w), e)
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.2f | %.2f |\n", r.name, r.words,
			pct(r.errs[0], r.words), pct(r.errs[1], r.words), pct(r.errs[2], r.words),
			r.wall/r.seconds, r.wallW/r.seconds)
		tot.words += r.words
		for i := range tot.errs {
			tot.errs[i] += r.errs[i]
		}
		tot.seconds += r.seconds
		tot.wall += r.wall
		tot.wallW += r.wallW
	}
	fmt.Fprintf(&b, "| **total** (%d files, %.1f s) | %d | %s | %s | %s | %.2f | %.2f |\n", len(rows), tot.seconds, tot.words,
		pct(tot.errs[0], tot.words), pct(tot.errs[1], tot.words), pct(tot.errs[2], tot.words),
		tot.wall/tot.seconds, tot.wallW/tot.seconds)
	fmt.Print("\n" + b.String() + "\n")
	if out := os.Getenv("VOCAFUSE_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// transcript is a recording and what is said in it.
type transcript struct{ wav, text string }

// knownTranscripts finds CMU Sphinx transcription files under dir ("transcription",
// "*.transcription": lines "<s> words </s> (utterance-id)") and the WAV files they
// name, beside them.
func knownTranscripts(t testing.TB, dir string) []transcript {
	t.Helper()
	var out []transcript
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if n := d.Name(); n != "transcription" && !strings.HasSuffix(n, ".transcription") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		for _, tr := range parseTranscription(f, filepath.Dir(path)) {
			if _, err := os.Stat(tr.wav); err == nil {
				out = append(out, tr)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].wav < out[j].wav })
	return out
}

// parseTranscription reads "<s> words </s> (id)" lines; the recording is dir/id.wav.
func parseTranscription(r io.Reader, dir string) []transcript {
	var out []transcript
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		i := strings.LastIndexByte(line, '(')
		if i < 0 || !strings.HasSuffix(line, ")") {
			continue
		}
		id := strings.TrimSpace(line[i+1 : len(line)-1])
		if id == "" || strings.ContainsAny(id, "/\\") {
			continue
		}
		out = append(out, transcript{wav: filepath.Join(dir, id+".wav"), text: strings.TrimSpace(line[:i])})
	}
	return out
}

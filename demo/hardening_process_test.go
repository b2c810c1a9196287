package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/internal/testaudio"

	"github.com/vocafuse/recorder/internal/demoproc"
)

// Issue 13, point 4: SIGTERM with an upload that never finishes: the upload gets the
// drain time, is then answered 503 / 5002 and cut, no temporary file stays, every
// line on stderr is JSON, and the process exits 0.
func TestSIGTERMCutsAnUploadThatNeverEnds(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--drain-timeout", "1s")
	body, feed := io.Pipe()
	defer feed.Close()
	req, _ := http.NewRequestWithContext(withTimeout(t, time.Minute), "PUT", s.url+"/v1/voicenotes/0190a0c0-7777-7000-8000-000000000009", body)
	req.ContentLength = 1 << 20
	req.Header.Set("Authorization", "Bearer "+mint(t, "user_42"))
	type answer struct {
		status int
		body   string
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- answer{resp.StatusCode, string(b)}
	}()
	feed.Write(testaudio.WAVHeader(16000, 1<<20))
	waitUntil(t, "the upload to start", 10*time.Second, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		return len(entries) > 0
	})
	s.cmd.Process.Signal(syscall.SIGTERM)
	a := <-answered
	if a.status != 503 || strings.TrimSpace(a.body) != `{"error":{"code":5002,"message":"Service temporarily unavailable"}}` {
		t.Errorf("the upload cut at shutdown: %d %s", a.status, a.body)
	}
	s.waitExit() // exit status 0, or it fails
	expectEmptyDir(t, filepath.Join(dir, "tmp"))
	for _, line := range strings.Split(strings.TrimSpace(s.log.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON log line: %s", line)
		}
	}
}

func expectEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left in %s: %s", dir, e.Name())
	}
}

// Issue 13, point 2: pointed at a directory that is not its own (a home directory,
// with tmp/ and audio/ of its own), the server refuses to start and removes nothing.
func TestForeignDataDirIsLeftAlone(t *testing.T) {
	home := t.TempDir()
	files := map[string]string{"tmp/draft.txt": "mine", "audio/song.mp3": "ID3", ".profile": "x"}
	for name, content := range files {
		os.MkdirAll(filepath.Join(home, filepath.Dir(name)), 0o700)
		os.WriteFile(filepath.Join(home, name), []byte(content), 0o600)
	}
	cmd := exec.Command(demoproc.Binary(t), "--addr", "127.0.0.1:0", "--data-dir", home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), "not a VocaFuse data directory") || !json.Valid(bytes.TrimSpace(stderr.Bytes())) {
		t.Errorf("started on a foreign directory: %v %s", err, stderr.String())
	}
	for name, content := range files {
		if b, err := os.ReadFile(filepath.Join(home, name)); err != nil || string(b) != content {
			t.Errorf("%s: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 3 {
		t.Errorf("the directory changed: %v", entries)
	}
}

// slowClients holds n uploads open that declare 1 MB and send four bytes, each its own
// identity, until the server answers or cuts them; it returns when all have ended, and
// counts those the server ended.
func slowClients(t *testing.T, s *server, n int, identities int) (done chan struct{}, answered *atomic.Int64) {
	done = make(chan struct{})
	answered = &atomic.Int64{}
	tokens := make([]string, identities)
	for i := range tokens {
		tokens[i] = mint(t, fmt.Sprintf("slow_%d", i))
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body, feed := io.Pipe()
			defer feed.Close()
			req, _ := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/v1/voicenotes/0190a0c0-9999-7000-8000-%012d", s.url, i), body)
			req.ContentLength = 1 << 20
			req.Header.Set("Authorization", "Bearer "+tokens[i%identities])
			go feed.Write([]byte("RIFF"))
			resp, err := client.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			// Answered, or cut by the server (a connection refused past a cap is
			// closed with the client's bytes unread: a reset); only a client that
			// gave up waiting (its context's deadline) was not ended by the server.
			if !errors.Is(err, context.DeadlineExceeded) {
				answered.Add(1)
			}
		})
	}
	go func() { wg.Wait(); cancel(); close(done) }()
	return done, answered
}

// openFDs counts the server process's file descriptors.
func (s *server) openFDs() int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		s.t.Skipf("no /proc here: %v", err)
	}
	return len(entries)
}

// Issue 13, point 1, as go test runs it: 200 slow uploads held open do not stop the
// server: health and an honest upload are answered, the slow ones are all answered or
// cut by the server itself (no client gives up), nothing of them is stored, and the
// file descriptors stay bounded. The figures for 2,000 are make bench's.
func TestSlowClientsDoNotStopTheServer(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--upload-timeout", "3s")
	res := runSlowClients(t, s, dir, 200)
	t.Logf("%d slow clients: health %v, honest upload %v, peak fds %d, peak RSS %.1f MiB, all ended in %v",
		res.clients, res.health, res.upload, res.peakFDs, float64(res.peakRSS)/(1<<20), res.elapsed)
}

type slowRun struct {
	clients        int
	health, upload time.Duration
	peakFDs        int
	peakRSS        int64
	elapsed        time.Duration
}

func runSlowClients(t *testing.T, s *server, dir string, n int) slowRun {
	t.Helper()
	start := time.Now()
	done, answered := slowClients(t, s, n, n/10)
	// While they are held open: health and an honest upload.
	waitUntil(t, "slow uploads under way", 30*time.Second, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		return len(entries) >= 10
	})
	res := slowRun{clients: n}
	// The honest client is another address: the slow ones may hold all of theirs.
	other := s.from("127.0.0.2")
	t0 := time.Now()
	if resp, body := other.do("GET", "/v1/health", "", nil, 0); resp.StatusCode != 200 {
		t.Errorf("health under slow clients: %d %s", resp.StatusCode, body)
	}
	res.health = time.Since(t0)
	t0 = time.Now()
	honest := testaudio.WAV(16000, 2, 440)
	other.put("0190a0c0-9999-7000-8000-ffffffffffff", mint(t, "honest"), honest)
	res.upload = time.Since(t0)
	res.peakFDs = s.openFDs()
	<-done
	res.elapsed = time.Since(start)
	res.peakRSS = s.peakRSS()
	if got := answered.Load(); got != int64(n) {
		t.Errorf("%d of %d slow clients got an answer", got, n)
	}
	waitUntil(t, "the slow uploads' files to go", 10*time.Second, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		return len(entries) == 0
	})
	// The bound: a connection per client, a temporary file per upload under way (at
	// most 8 per identity and 256 in all, plus the reserve of 64 for identities with none),
	// and a few dozen of the server's own.
	if limit := n + min(256+256/4, 8*(n/10)) + 50; res.peakFDs > limit {
		t.Errorf("%d file descriptors for %d clients (bound %d)", res.peakFDs, n, limit)
	}
	return res
}

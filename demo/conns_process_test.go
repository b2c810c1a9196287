package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/demoproc"
)

// shellServer is the binary run through sh, so that a test can set a limit first.
type shellServer struct {
	url     string
	log     *bytes.Buffer
	logMu   *sync.Mutex
	exited  chan struct{} // closed once the process has ended, with exitErr
	exitErr error
}

func (s *shellServer) logText() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startInShell runs `setup; exec vocafuse-demo --addr 127.0.0.1:0 --data-dir dir args…`
// and waits for its URL line or its exit (url "" then).
func startInShell(t *testing.T, setup, dir string, args ...string) *shellServer {
	t.Helper()
	argv := append([]string{"-c", setup + `; exec "$0" "$@"`, demoproc.Binary(t), "--addr", "127.0.0.1:0", "--data-dir", dir}, args...)
	cmd := exec.Command("sh", argv...)
	cmd.Env = append(os.Environ(), "VOCAFUSE_API_KEY="+demoproc.APIKey, "VOCAFUSE_API_SECRET="+demoproc.APISecret,
		"VOCAFUSE_TOKEN_SECRET="+demoproc.TokenSecret)
	s := &shellServer{log: &bytes.Buffer{}, logMu: &sync.Mutex{}, exited: make(chan struct{})}
	cmd.Stderr = lockedWriter{s.logMu, s.log}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), "VocaFuse demo: "); ok {
				found <- strings.TrimSuffix(rest, "/")
			}
		}
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
	})
	select {
	case s.url = <-found:
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("no URL line in 30 s; log:\n%s", s.logText())
	}
	return s
}

// Issue 24, 9: with `ulimit -n 256`, --max-conns is lowered to what fits, with a warning,
// and each of 300 connections past it is answered 503 / 5002, none left to time out.
func TestMaxConnsWithinTheOpenFileLimit(t *testing.T) {
	const files, dials = 256, 300
	s := startInShell(t, fmt.Sprintf("ulimit -n %d", files), t.TempDir(), "--max-conns-per-client", "1000")
	if s.url == "" {
		t.Fatalf("the server did not start:\n%s", s.logText())
	}
	capacity := 0
	for _, line := range strings.Split(s.logText(), "\n") {
		var entry struct {
			Msg      string `json:"msg"`
			MaxConns int    `json:"max_conns"`
			Limit    int    `json:"open_file_limit"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Limit == files && strings.HasPrefix(entry.Msg, "--max-conns 4096 lowered to ") {
			capacity = entry.MaxConns
		}
	}
	if capacity <= 0 || capacity >= dials {
		t.Fatalf("no warning that --max-conns 4096 was lowered below %d:\n%s", dials, s.logText())
	}

	addr := strings.TrimPrefix(s.url, "http://")
	conns := make([]net.Conn, 0, dials)
	for i := range dials {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// A refused connection is answered at once, before it sends anything; a held one
	// waits for its request (its header timeout is 10 s, far longer than this wait).
	const refusal = "HTTP/1.1 503 Service Unavailable"
	answers := make([]string, dials)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			switch {
			case err != nil && os.IsTimeout(err):
				answers[i] = "none yet"
			case err != nil:
				answers[i] = err.Error()
			default:
				body, _ := io.ReadAll(resp.Body)
				answers[i] = resp.Proto + " " + resp.Status + " " + strings.TrimSpace(string(body))
			}
		})
	}
	wg.Wait()
	// Each held one is served.
	for i, c := range conns {
		if answers[i] != "none yet" {
			continue
		}
		wg.Go(func() {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			if _, err := io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
				answers[i] = err.Error()
				return
			}
			resp, err := http.ReadResponse(r, nil)
			switch {
			case err != nil && os.IsTimeout(err):
				answers[i] = "held, then timed out"
				return
			case err != nil:
				answers[i] = "held, then: " + err.Error()
				return
			}
			resp.Body.Close()
			answers[i] = "served " + resp.Status
		})
	}
	wg.Wait()
	tally := map[string]int{}
	for _, a := range answers {
		tally[a]++
	}
	want := map[string]int{
		"served 200 OK": capacity,
		refusal + ` {"error":{"code":5002,"message":"Service temporarily unavailable"}}`: dials - capacity,
	}
	if fmt.Sprint(tally) != fmt.Sprint(want) {
		t.Errorf("%d connections at --max-conns %d: %v, want %v", dials, capacity, tally, want)
	}
	if n := strings.Count(s.logText(), "too many open files"); n > 0 {
		t.Errorf("the server ran out of files (%d lines say so)", n)
	}
}

// Issue 24, 10: a second server (another port, the same data directory) says which
// directory another server holds, and exits.
func TestSecondServerOnTheSameDataDir(t *testing.T) {
	dir := t.TempDir()
	first := startServer(t, dir)
	second := startInShell(t, ":", dir)
	if second.url != "" {
		t.Fatalf("a second server started on %s beside %s", second.url, first.url)
	}
	<-second.exited
	err := second.exitErr
	want := "vocafuse-demo stopped: data directory: another VocaFuse server is using " + dir +
		" (its database is locked); stop it, or start this one with another --data-dir"
	if err == nil || !strings.Contains(second.logText(), want) {
		t.Errorf("second server: exit %v, log:\n%s\nwant a line %q", err, second.logText(), want)
	}
	first.do("GET", "/v1/health", "", nil, 0) // the first goes on
}

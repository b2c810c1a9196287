package main

// Tests of the built binary: what only a real process shows (restarts, SIGKILL, SIGTERM,
// memory under load). The binary is built once, without the race detector, so the
// figures are the server's own.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/internal/demoproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	demoproc.Cleanup()
	os.Exit(code)
}

// The credentials the processes get from the environment (internal/demoproc's), so
// tests can mint tokens for as many identities as they like without going through the
// rate-limited route.
var testEnv = map[string]string{
	auth.EnvAPIKey:      demoproc.APIKey,
	auth.EnvAPISecret:   demoproc.APISecret,
	auth.EnvTokenSecret: demoproc.TokenSecret,
}

func mint(t *testing.T, identity string) string {
	t.Helper()
	tok, _, err := auth.NewIssuer([]byte(testEnv[auth.EnvTokenSecret]), time.Now).Mint(identity, time.Hour, auth.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// server is a running vocafuse-demo process, with the checks these tests make of it.
type server struct {
	*demoproc.Server
	t   *testing.T
	cmd *exec.Cmd
	url string // "http://127.0.0.1:PORT"
	log logText
	// client is who asks: nil for http.DefaultClient (127.0.0.1); see from.
	client *http.Client
}

// from is the same server asked by a client at another loopback address, which the
// server counts as another client (connections, upload slots).
func (s *server) from(ip string) *server {
	other := *s
	other.client = clientFrom(ip)
	return &other
}

// clientFrom is an HTTP client whose connections come from ip, an address of 127.0.0.0/8.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// logText shows the server's log in a test's messages.
type logText struct{ s *demoproc.Server }

func (l logText) String() string { return l.s.Log() }

// startServer runs the binary on dataDir at a free port and waits for its URL line.
func startServer(t *testing.T, dataDir string, args ...string) *server {
	t.Helper()
	p := demoproc.Start(t, dataDir, args...)
	return &server{Server: p, t: t, cmd: p.Cmd, url: p.URL, log: logText{p}}
}

// kill stops the process at once, as a crash would (a no-op once it has exited).
func (s *server) kill() { s.Kill() }

// terminate sends SIGTERM and waits for a clean exit.
func (s *server) terminate() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitExit()
}

// waitExit waits for the process to exit by itself, successfully.
func (s *server) waitExit() {
	s.t.Helper()
	err, timedOut := s.Wait(40 * time.Second)
	switch {
	case timedOut:
		s.t.Fatal("still running 40 s after SIGTERM")
	case err != nil:
		s.t.Fatalf("exit: %v\n%s", err, s.log)
	}
}

// peakRSS is the process's high-water mark of resident memory (VmHWM), in bytes.
func (s *server) peakRSS() int64 {
	s.t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	s.t.Fatal("no VmHWM")
	return 0
}

func (s *server) do(method, path, token string, body io.Reader, length int64) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if length > 0 {
		req.ContentLength = length
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type voiceNote struct {
	ID       string  `json:"id"`
	Identity string  `json:"identity"`
	Format   string  `json:"format"`
	Size     int64   `json:"size"`
	Duration float64 `json:"duration"`
	AudioURL string  `json:"audio_url"`
}

func (s *server) put(id, token string, audio []byte) voiceNote {
	s.t.Helper()
	resp, body := s.do("PUT", "/v1/voicenotes/"+id, token, bytes.NewReader(audio), 0)
	if resp.StatusCode != 201 {
		s.t.Fatalf("PUT %s: %d %s", id, resp.StatusCode, body)
	}
	var v voiceNote
	json.Unmarshal(body, &v)
	return v
}

// expectStored checks that a voice note is there with exactly these bytes, through the
// API and through its signed audio_url.
func (s *server) expectStored(id, token string, audio []byte) {
	s.t.Helper()
	resp, body := s.do("GET", "/v1/voicenotes/"+id, token, nil, 0)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %s", id, resp.StatusCode, body)
	}
	var v voiceNote
	json.Unmarshal(body, &v)
	if v.Size != int64(len(audio)) {
		s.t.Errorf("%s: size %d, want %d", id, v.Size, len(audio))
	}
	res, err := http.Get(v.AudioURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !bytes.Equal(got, audio) {
		s.t.Errorf("%s: audio %d, %d bytes, want %d", id, res.StatusCode, len(got), len(audio))
	}
}

func (s *server) expectMissing(id, token string) {
	s.t.Helper()
	resp, body := s.do("GET", "/v1/voicenotes/"+id, token, nil, 0)
	want := `{"error":{"code":6001,"details":{"voicenote_id":"` + id + `"},"message":"Voice note not found"}}`
	if resp.StatusCode != 404 || strings.TrimSpace(string(body)) != want {
		s.t.Errorf("GET %s: %d %s", id, resp.StatusCode, body)
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// withTimeout bounds a test's requests.
func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

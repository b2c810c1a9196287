// Package demoproc runs the local API server (./demo) as a process for tests, the
// server's own and the vocafuse client's: built once per test binary, started on a free
// loopback port with its own data directory and known credentials, stopped with the test.
package demoproc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Credentials the processes get from the environment.
const (
	APIKey    = "sk_test_vocafuse_go"
	APISecret = "go-client-secret" // 16 bytes, the shortest the server takes
	// TokenSecret is the JWT signing key: the server refuses one under 32 bytes.
	TokenSecret = "go-client-signing-key-for-the-tests"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Binary builds the server once per test binary and answers its path.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "vocafuse-go-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vocafuse-demo")
		// The module root is two levels up from this package's tests (vocafuse/).
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/vocafuse/recorder/demo").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is a running vocafuse-demo process.
type Server struct {
	URL     string // "http://127.0.0.1:PORT"
	DataDir string
	Cmd     *exec.Cmd // for signals and /proc readings
	t       testing.TB
	log     *syncBuffer
	exited  chan error
}

// Start runs the server on dataDir ("" for a fresh one) with extra flags and waits
// until it listens.
func Start(t testing.TB, dataDir string, args ...string) *Server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cmd := exec.Command(Binary(t), append([]string{"--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	cmd.Env = append(os.Environ(), "VOCAFUSE_API_KEY="+APIKey, "VOCAFUSE_API_SECRET="+APISecret,
		"VOCAFUSE_TOKEN_SECRET="+TokenSecret)
	s := &Server{DataDir: dataDir, t: t, Cmd: cmd, log: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(s.Kill)
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), "VocaFuse demo: "); ok {
				found <- strings.TrimSuffix(rest, "/")
			}
		}
	}()
	select {
	case s.URL = <-found:
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("server exited: %v\n%s", err, s.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("no URL line; log:\n%s", s.log)
	}
	return s
}

// Kill stops the process at once, as a crash would; a no-op once it has exited.
func (s *Server) Kill() {
	_ = s.Cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.exited
	s.exited <- err
}

// Wait waits up to timeout for the process to exit by itself, and answers how it ended;
// timedOut when it is still running.
func (s *Server) Wait(timeout time.Duration) (err error, timedOut bool) {
	select {
	case err := <-s.exited:
		s.exited <- err // for whoever waits next
		return err, false
	case <-time.After(timeout):
		return nil, true
	}
}

// Log is what the server has written to stderr so far (its JSON log lines).
func (s *Server) Log() string { return s.log.String() }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/internal/testaudio"
)

func TestRestartKeepsEveryVoiceNote(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	token := mint(t, "user_42")
	notes := map[string][]byte{
		"0190a0c0-5555-7000-8000-000000000001": testaudio.WAV(16000, 3, 440),
		"0190a0c0-5555-7000-8000-000000000002": testaudio.WAV(8000, 1, 660),
	}
	for i, container := range []string{"webm", "ogg"} {
		if _, err := exec.LookPath("ffmpeg"); err == nil { // else WAV alone
			notes["0190a0c0-5555-7000-8000-00000000001"+string(rune('0'+i))] = testaudio.FFmpeg(t, container, "2")
		}
	}
	for id, audio := range notes {
		s.put(id, token, audio)
	}
	s.terminate()

	s = startServer(t, dir)
	for id, audio := range notes {
		s.expectStored(id, token, audio)
	}
	// Acknowledged means durable: a crash right after the answer loses nothing.
	late := "0190a0c0-5555-7000-8000-000000000099"
	notes[late] = testaudio.WAV(8000, 2, 220)
	s.put(late, token, notes[late])
	s.kill()

	s = startServer(t, dir)
	for id, audio := range notes {
		s.expectStored(id, token, audio)
	}
}

func TestKillDuringUploadLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	token := mint(t, "user_42")
	id := "0190a0c0-6666-7000-8000-000000000001"
	// A valid 20 MB recording (192 kHz mono, 54.6 s), sent slowly through a pipe.
	const total = 20 << 20
	body, feed := io.Pipe()
	defer feed.Close()
	req, _ := http.NewRequestWithContext(withTimeout(t, time.Minute), "PUT", s.url+"/v1/voicenotes/"+id, body)
	req.ContentLength = total
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "audio/wav")
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	go func() {
		feed.Write(testaudio.WAVHeader(192000, total-44))
		chunk := make([]byte, 256<<10)
		for sent := 44; sent < total; sent += len(chunk) {
			if _, err := feed.Write(chunk); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Wait until several MB have reached the server's temporary file, then crash it.
	waitUntil(t, "the upload to be under way", 30*time.Second, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Size() > 4<<20 {
				return true
			}
		}
		return false
	})
	s.kill()
	if err := <-answered; err == nil {
		t.Fatal("the upload was answered although the server died in the middle of it")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) == 0 {
		t.Fatal("the crash left no temporary file: the test proves nothing")
	}

	s = startServer(t, dir)
	s.expectMissing(id, token)
	assertNoFileNamed(t, dir, id)
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Errorf("stray temporary files after the restart: %v", entries)
	}
	if !strings.Contains(s.log.String(), `"temp_files":["tmp/upload-`) {
		t.Errorf("the repair was not logged:\n%s", s.log)
	}
	// The same upload, whole this time, works.
	s.put(id, token, testaudio.WAV(8000, 1, 440))
}

func assertNoFileNamed(t *testing.T, dir, name string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), name) {
			t.Errorf("stray file %s", path)
		}
		return nil
	})
}

func TestSIGTERMDrainsUploads(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	token := mint(t, "user_42")
	id := "0190a0c0-7777-7000-8000-000000000001"
	audio := testaudio.WAV(16000, 5, 440)
	body, feed := io.Pipe()
	defer feed.Close()
	req, _ := http.NewRequestWithContext(withTimeout(t, time.Minute), "PUT", s.url+"/v1/voicenotes/"+id, body)
	req.ContentLength = int64(len(audio))
	req.Header.Set("Authorization", "Bearer "+token)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		answered <- resp
	}()
	feed.Write(audio[:1000])
	waitUntil(t, "the upload to start", 10*time.Second, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		return len(entries) > 0
	})
	s.cmd.Process.Signal(syscall.SIGTERM)

	// New requests are answered 503 / 5002 while the upload goes on.
	waitUntil(t, "503 while draining", 10*time.Second, func() bool {
		resp, err := http.Get(s.url + "/v1/health")
		if err != nil {
			t.Fatalf("refused instead of answered while draining: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 {
			return false
		}
		if got := strings.TrimSpace(string(body)); got != `{"error":{"code":5002,"message":"Service temporarily unavailable"}}` ||
			resp.Header.Get("Retry-After") == "" {
			t.Errorf("while draining: %s, Retry-After %q", got, resp.Header.Get("Retry-After"))
		}
		return true
	})
	feed.Write(audio[1000:])
	feed.Close()
	resp := <-answered
	if resp == nil || resp.StatusCode != 201 {
		t.Fatalf("the upload under way at SIGTERM: %v", resp)
	}
	resp.Body.Close()
	s.waitExit() // the SIGTERM already sent: a second one would stop it at once

	s = startServer(t, dir)
	s.expectStored(id, token, audio)
}

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/internal/testaudio"
)

// TestLoadConcurrentUploads sends 200 uploads of 1 MiB at once, each from its own
// identity (so the per-identity rate limit does not get in the way), and checks that
// every one is stored exactly once and that the server's memory stays far below the
// 200 MiB it received: uploads are streamed to disk, never held.
func TestLoadConcurrentUploads(t *testing.T) {
	const (
		uploads = 200
		size    = 1 << 20
	)
	dir := t.TempDir()
	s := startServer(t, dir)
	ctx := withTimeout(t, 2*time.Minute)

	// One shared body of samples; each upload differs in its first eight sample bytes,
	// so the client too holds 1 MiB, not 200.
	header := testaudio.WAVHeader(16000, size-44) // 32.8 s of 16 kHz mono
	samples := testaudio.WAV(16000, 33, 440)[44:size]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: uploads}}
	ids := make([]string, uploads)
	tokens := make([]string, uploads)
	for i := range uploads {
		ids[i] = fmt.Sprintf("0190a0c0-8888-7000-8000-%012d", i)
		tokens[i] = mint(t, fmt.Sprintf("load_user_%03d", i))
	}

	start := time.Now()
	statuses := make([]int, uploads)
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Go(func() {
			unique := binary.LittleEndian.AppendUint64(nil, uint64(i+1))
			body := io.MultiReader(bytes.NewReader(header), bytes.NewReader(unique), bytes.NewReader(samples[8:]))
			req, _ := http.NewRequestWithContext(ctx, "PUT", s.url+"/v1/voicenotes/"+ids[i], body)
			req.ContentLength = size
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			req.Header.Set("Content-Type", "audio/wav")
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := s.peakRSS()

	for i, status := range statuses {
		if status != 201 {
			t.Errorf("upload %d: %d", i, status)
		}
	}
	// Exactly once: one file per upload, and each identity lists exactly its one.
	var files int
	filepath.WalkDir(filepath.Join(dir, "audio"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return nil
	})
	if files != uploads {
		t.Errorf("%d audio files for %d uploads", files, uploads)
	}
	for i := range uploads {
		resp, body := s.do("GET", "/v1/voicenotes?limit=10", tokens[i], nil, 0)
		var page struct {
			Data []voiceNote `json:"data"`
		}
		json.Unmarshal(body, &page)
		if resp.StatusCode != 200 || len(page.Data) != 1 || page.Data[0].ID != ids[i] || page.Data[0].Size != size {
			t.Errorf("identity %d lists %s", i, body)
		}
	}
	t.Logf("%d concurrent uploads of 1 MiB (%d MiB in all) in %v; server peak RSS (VmHWM) %.1f MiB",
		uploads, uploads*size>>20, elapsed.Round(time.Millisecond), float64(peak)/(1<<20))
	if limit := int64(uploads*size) / 4; peak > limit {
		t.Errorf("peak RSS %d MiB: more than a quarter of what was uploaded", peak>>20)
	}
}

// TestLoadSlowClients is make bench's slow-client run: 2,000 uploads that declare 1 MB
// and send four bytes, from 200 identities, held open until the server answers or cuts
// them (bounded: --upload-timeout 10s). It prints the figures; it runs only when
// VOCAFUSE_BENCH is set, since it wants the machine to itself.
func TestLoadSlowClients(t *testing.T) {
	if os.Getenv("VOCAFUSE_BENCH") == "" {
		t.Skip("make bench runs it (VOCAFUSE_BENCH=1); go test runs TestSlowClientsDoNotStopTheServer")
	}
	dir := t.TempDir()
	s := startServer(t, dir, "--upload-timeout", "10s")
	res := runSlowClients(t, s, dir, 2000)
	t.Logf("slow clients: %d uploads held open; health answered in %v, an honest upload stored in %v; "+
		"server fds %d (bound %d); server peak RSS (VmHWM) %.1f MiB; all ended in %v",
		res.clients, res.health.Round(time.Millisecond), res.upload.Round(time.Millisecond), res.peakFDs,
		res.clients+256+256/4+50, float64(res.peakRSS)/(1<<20), res.elapsed.Round(time.Millisecond))
}

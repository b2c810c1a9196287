package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// VocaFuse's two-step upload against the built server: POST /v1/upload, then the parts
// PUT to their presigned URLs as the browser SDK sends them (all at once, no token).

// stereoWAV48k is a 16-bit stereo 48 kHz WAV of two tones: 192,000 bytes a second.
func stereoWAV48k(seconds int) []byte {
	const rate = 48000
	frames := rate * seconds
	b := bytes.NewBuffer(make([]byte, 0, 44+frames*4))
	le := func(v any) { binary.Write(b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + frames*4))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(rate), uint32(rate * 4), uint16(4), uint16(16)} {
		le(v)
	}
	b.WriteString("data")
	le(uint32(frames * 4))
	for i := range frames {
		t := float64(i) / rate
		le(int16(9000 * math.Sin(2*math.Pi*330*t)))
		le(int16(9000 * math.Sin(2*math.Pi*550*t+float64(i%7))))
	}
	return b.Bytes()
}

type uploadPlan struct {
	Data struct {
		VoiceNoteID string `json:"voicenote_id"`
		UploadType  string `json:"upload_type"`
		UploadInfo  struct {
			UploadID string `json:"upload_id"`
			Parts    []struct {
				PartNumber   int    `json:"part_number"`
				PresignedURL string `json:"presigned_url"`
				StartByte    int64  `json:"start_byte"`
				EndByte      int64  `json:"end_byte"`
			} `json:"parts"`
		} `json:"upload_info"`
	} `json:"data"`
}

func (s *server) announce(token, key string, audio []byte, seconds int) uploadPlan {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"file_name": "voicenote.wav", "file_size": len(audio), "audio_format": "wav",
		"duration_seconds": seconds, "use_multipart": len(audio) > 5<<20,
		"sdk_metadata": map[string]any{"codec": "wav", "sample_rate": 48000, "channels": 2}})
	req, _ := http.NewRequest("POST", s.url+"/v1/upload", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var plan uploadPlan
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &plan) != nil || plan.Data.UploadType != "multipart" {
		s.t.Fatalf("POST /v1/upload: %d %s", resp.StatusCode, raw)
	}
	return plan
}

// putPart PUTs part i of the plan to this server (a restarted server listens on another
// port: the URL's path and signed query are what count).
func (s *server) putPart(plan uploadPlan, i int, audio []byte) (status int, etag string, body []byte) {
	p := plan.Data.UploadInfo.Parts[i]
	u, err := url.Parse(p.PresignedURL)
	if err != nil {
		s.t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", s.url+u.RequestURI(), bytes.NewReader(audio[p.StartByte:p.EndByte+1]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Errorf("PUT part %d: %v", p.PartNumber, err)
		return 0, "", nil
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), body
}

func TestMultipartUploadOfA35SecondStereoWAV(t *testing.T) {
	s := startServer(t, "")
	token := mint(t, "user_42")
	audio := stereoWAV48k(35) // 6,720,044 bytes: over 5 MB, two parts
	plan := s.announce(token, "", audio, 35)
	parts := plan.Data.UploadInfo.Parts
	if len(parts) != 2 || parts[1].EndByte != int64(len(audio)-1) {
		t.Fatalf("plan %+v", plan.Data)
	}
	// Every part at once, the last one started first, as Promise.all sends them.
	var wg sync.WaitGroup
	statuses := make([]int, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, _, body := s.putPart(plan, i, audio)
			if statuses[i] = status; status != 200 {
				t.Errorf("part %d: %d %s", i+1, status, body)
			}
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s.expectStored(plan.Data.VoiceNoteID, token, audio)
}

func TestKilledBetweenPartsLosesNoAnsweredPart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	token := mint(t, "user_42")
	audio := stereoWAV48k(35)
	key := "0190a0c0-aaaa-7000-8000-000000000001"
	plan := s.announce(token, key, audio, 35)
	status, etag, body := s.putPart(plan, 1, audio) // the second part first
	if status != 200 || etag == "" {
		t.Fatalf("part 2: %d %s", status, body)
	}
	s.kill() // acknowledged means durable
	if _, err := os.Stat(filepath.Join(dir, "parts", plan.Data.UploadInfo.UploadID, "2")); err != nil {
		t.Fatalf("the answered part is not on disk: %v", err)
	}

	s = startServer(t, dir)
	// The part is still there: the same bytes again are recognised, not stored anew.
	if again, etag2, body := s.putPart(plan, 1, audio); again != 200 || etag2 != etag ||
		!strings.Contains(string(body), `"parts_received":1`) {
		t.Fatalf("part 2 after the restart: %d %q %s", again, etag2, body)
	}
	status, _, body = s.putPart(plan, 0, audio)
	if status != 200 || !strings.Contains(string(body), plan.Data.VoiceNoteID) {
		t.Fatalf("part 1 after the restart: %d %s", status, body)
	}
	s.expectStored(key, token, audio)
	// The same key once more: the same voice note.
	if again := s.announce(token, key, audio, 35); again.Data.VoiceNoteID != key {
		t.Errorf("the key now names %q", again.Data.VoiceNoteID)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "parts")); len(entries) != 0 {
		t.Errorf("part files left after completion: %v", entries)
	}
}

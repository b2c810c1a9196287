package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUploadAnswersTheResource(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	wavBytes := makeWAV(16000, 2.5, 440)
	resp := h.do(request{method: "PUT", path: "/v1/voicenotes/" + strings.ToUpper(noteID), token: token,
		body: bytes.NewReader(wavBytes), header: http.Header{
			"Content-Type":        {"audio/wav"},
			"X-Vocafuse-Metadata": {` { "lesson": 3, "tags": ["a"] } `},
		}})
	v := decode[voiceNote](t, resp, 201)
	want := voiceNote{ID: noteID, Identity: "user_42", Format: "wav", MimeType: "audio/wav", Size: int64(len(wavBytes)),
		Duration: 2.5, Metadata: []byte(`{"lesson":3,"tags":["a"]}`), Status: "processing", CreatedAt: "2026-03-01T12:00:00Z"}
	got := v
	got.AudioURL = ""
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resource\n%+v\nwant\n%+v", got, want)
	}
	if !strings.HasPrefix(v.AudioURL, h.url+"/v1/voicenotes/"+noteID+"/audio?") || strings.Contains(v.AudioURL, token) {
		t.Errorf("audio_url %q", v.AudioURL)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/voicenotes/"+noteID {
		t.Errorf("Location %q", loc)
	}

	t.Run("containers made by ffmpeg", func(t *testing.T) {
		for i, format := range []string{"webm", "ogg"} {
			b := ffmpegAudio(t, format, "1.5")
			id := fmt.Sprintf("0190a0c0-2222-7000-8000-00000000000%d", i)
			v := decode[voiceNote](t, h.put(id, token, b, "audio/"+format+";codecs=opus"), 201)
			if v.Format != format || v.MimeType != "audio/"+format || v.Duration < 1.4 || v.Duration > 1.6 {
				t.Errorf("%s: %+v", format, v)
			}
		}
	})
	t.Run("the declared type is not trusted", func(t *testing.T) {
		v := decode[voiceNote](t, h.put("0190a0c0-2222-7000-8000-0000000000aa", token, wavBytes, "audio/ogg"), 201)
		if v.Format != "wav" || v.MimeType != "audio/wav" {
			t.Errorf("%+v", v)
		}
	})
	t.Run("metadata that is not a JSON object", func(t *testing.T) {
		for _, m := range []string{`not json`, `[1,2]`, `"text"`, `{"a":`, `{"big":"` + strings.Repeat("x", 17<<10) + `"}`} {
			resp := h.do(request{method: "PUT", path: "/v1/voicenotes/0190a0c0-2222-7000-8000-0000000000bb", token: token,
				body: bytes.NewReader(wavBytes), header: http.Header{"X-Vocafuse-Metadata": {m}}})
			expectError(t, resp, 400, 2003, map[string]any{"field": "metadata", "reason": "must be a JSON object of at most 16 KB"})
		}
	})
}

func TestIdempotentPut(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	wavBytes := makeWAV(8000, 1, 440)
	first := decode[voiceNote](t, h.put(noteID, token, wavBytes, "audio/wav"), 201)
	h.clock.Advance(time.Minute)
	again := decode[voiceNote](t, h.put(noteID, token, wavBytes, "audio/wav"), 200)
	first.AudioURL, again.AudioURL = "", "" // signed afresh on every answer
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("a repeated PUT changed the resource:\n%+v\n%+v", first, again)
	}
	expectError(t, h.put(noteID, token, makeWAV(8000, 1, 441), "audio/wav"), 409, 2003,
		map[string]any{"field": "voicenote_id", "value": noteID, "reason": "already used for a different recording"})

	t.Run("concurrent repeats store it once", func(t *testing.T) {
		id := "0190a0c0-3333-7000-8000-000000000001"
		statuses := make(chan int, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				resp := h.put(id, token, wavBytes, "audio/wav")
				io.Copy(io.Discard, resp.Body)
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[201] != 1 || count[200] != 7 {
			t.Errorf("statuses %v, want one 201 and seven 200", count)
		}
	})
}

func TestListPaging(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("0190a0c0-4444-7000-8000-00000000000%d", i)
		ids = append([]string{id}, ids...) // newest first
		decode[voiceNote](t, h.put(id, token, makeWAV(8000, 1, float64(300+i)), "audio/wav"), 201)
		h.clock.Advance(time.Second)
	}
	decode[voiceNote](t, h.put("0190a0c0-4444-7000-8000-0000000000ff", h.token("user_43"), makeWAV(8000, 1, 200), "audio/wav"), 201)

	type page struct {
		Data       []voiceNote `json:"data"`
		HasMore    bool        `json:"has_more"`
		NextCursor *string     `json:"next_cursor"`
	}
	var got []string
	path := "/v1/voicenotes?limit=2"
	for pages := 0; ; pages++ {
		p := decode[page](t, h.get(path, token), 200)
		for _, v := range p.Data {
			got = append(got, v.ID)
		}
		if !p.HasMore {
			if p.NextCursor != nil || pages != 2 {
				t.Errorf("last page: cursor %v after %d pages", p.NextCursor, pages+1)
			}
			break
		}
		path = "/v1/voicenotes?limit=2&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("listed %v, want %v (newest first, own only)", got, ids)
	}
	// A deletion between pages neither repeats nor skips the rest.
	p := decode[page](t, h.get("/v1/voicenotes?limit=2", token), 200)
	resp := h.do(request{method: "DELETE", path: "/v1/voicenotes/" + ids[2], token: token})
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	rest := decode[page](t, h.get("/v1/voicenotes?limit=10&cursor="+*p.NextCursor, token), 200)
	if len(rest.Data) != 2 || rest.Data[0].ID != ids[3] || rest.Data[1].ID != ids[4] {
		t.Errorf("after a delete: %+v", rest.Data)
	}

	for _, bad := range []struct{ query, field, value, reason string }{
		{"limit=0", "limit", "0", "must be an integer between 1 and 100"},
		{"limit=101", "limit", "101", "must be an integer between 1 and 100"},
		{"limit=ten", "limit", "ten", "must be an integer between 1 and 100"},
		{"cursor=nope", "cursor", "nope", "must be a next_cursor from an earlier page"},
	} {
		expectError(t, h.get("/v1/voicenotes?"+bad.query, token), 400, 2003,
			map[string]any{"field": bad.field, "value": bad.value, "reason": bad.reason})
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 440), "audio/wav"), 201)
	if resp := h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteID, token: token}); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	expectError(t, h.get("/v1/voicenotes/"+noteID, token), 404, 6001, map[string]any{"voicenote_id": noteID})
	// The id is free again.
	decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 660), "audio/wav"), 201)
}

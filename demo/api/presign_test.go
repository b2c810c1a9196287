package api_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/internal/testaudio"
	"github.com/vocafuse/recorder/demo/store"
)

// stereoWAV is a 16-bit stereo WAV of a tone (left and right at different pitches).
func stereoWAV(rate int, seconds float64) []byte {
	frames := int(float64(rate) * seconds)
	data := frames * 4
	b := bytes.NewBuffer(make([]byte, 0, 44+data))
	le := func(v any) { binary.Write(b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + data))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(2))
	le(uint32(rate))
	le(uint32(rate * 4))
	le(uint16(4))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(data))
	for i := range frames {
		t := float64(i) / float64(rate)
		le(int16(8000 * math.Sin(2*math.Pi*440*t)))
		le(int16(8000 * math.Sin(2*math.Pi*660*t)))
	}
	return b.Bytes()
}

// presignedAnswer is POST /v1/upload's answer as VocaFuse's browser SDK reads it.
type presignedAnswer struct {
	Data struct {
		VoiceNoteID        string `json:"voicenote_id"`
		UploadType         string `json:"upload_type"`
		PresignedURL       string `json:"presigned_url"`
		S3Key              string `json:"s3_key"`
		ExpiresIn          int    `json:"expires_in"`
		ProcessingStrategy string `json:"processing_strategy"`
		ClientProcessed    bool   `json:"client_processed"`
		Message            string `json:"message"`
		UploadInfo         *struct {
			UploadID string `json:"upload_id"`
			Parts    []struct {
				PartNumber    int    `json:"part_number"`
				PresignedURL  string `json:"presigned_url"`
				StartByte     int64  `json:"start_byte"`
				EndByte       int64  `json:"end_byte"`
				ContentLength int64  `json:"content_length"`
			} `json:"parts"`
		} `json:"upload_info"`
	} `json:"data"`
}

// announce is the SDK's POST /v1/upload body for a recording.
func announce(audio []byte, format string, seconds float64, multipart bool) string {
	return fmt.Sprintf(`{"file_name":"voicenote-2026-03-01T12-00-00-000Z.%s","file_size":%d,"audio_format":%q,`+
		`"duration_seconds":%g,"use_multipart":%t,"sdk_metadata":{"duration_seconds":%g,"codec":%q,"file_size_bytes":%d,`+
		`"sample_rate":44100,"channels":1,"bit_rate":128000}}`, format, len(audio), format, seconds, multipart, seconds, format, len(audio))
}

func (h *harness) postUpload(token, body, key string) *http.Response {
	h.t.Helper()
	header := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		header.Set("Idempotency-Key", key)
	}
	return h.do(request{method: "POST", path: "/v1/upload", token: token, body: strings.NewReader(body), header: header})
}

func (h *harness) startUpload(token, body, key string, want int) presignedAnswer {
	h.t.Helper()
	return decode[presignedAnswer](h.t, h.postUpload(token, body, key), want)
}

// putTo is the browser's PUT of bytes to a presigned URL: no Authorization.
func putTo(t *testing.T, rawURL string, body []byte, contentType string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("PUT", rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", rawURL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type noteAnswer struct {
	Data voiceNote `json:"data"`
}

// listed is the identity's voice notes as the list shows them.
func (h *harness) listed(token string) []voiceNote {
	h.t.Helper()
	return decode[struct {
		Data []voiceNote `json:"data"`
	}](h.t, h.get("/v1/voicenotes", token), 200).Data
}

func (h *harness) expectAudio(n voiceNote, want []byte) {
	h.t.Helper()
	resp, err := http.Get(n.AudioURL)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		h.t.Fatalf("audio: %d, %d bytes, want %d bytes as uploaded", resp.StatusCode, len(got), len(want))
	}
}

// partDirs is what the data directory holds of upload sessions' parts.
func (h *harness) partDirs() []string {
	entries, _ := os.ReadDir(filepath.Join(h.dataDir, "parts"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// createdEvents counts the voicenote.created deliveries recorded for a webhook.
func (h *harness) createdEvents(id string) int {
	h.t.Helper()
	ds, err := h.store.PendingDeliveries()
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if d.Event == "voicenote.created" && strings.Contains(string(d.Body), id) {
			n++
		}
	}
	return n
}

func (h *harness) hook() {
	h.t.Helper()
	err := h.store.CreateWebhook(store.Webhook{ID: store.NewWebhookID(), URL: "https://example.com/hook",
		Events: []string{"voicenote.created"}, Secret: "s", Active: true, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()})
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestUploadSingleAsVocaFusesSDKDoes(t *testing.T) {
	h := newHarness(t)
	h.hook()
	token := h.token("user_42")
	audio := testaudio.WAV(16000, 2, 440)
	a := h.startUpload(token, announce(audio, "wav", 2, false), "", 201)
	d := a.Data
	if d.UploadType != "single" || d.UploadInfo != nil || d.ExpiresIn != 3600 || d.ClientProcessed ||
		d.ProcessingStrategy == "" || d.Message == "" || d.S3Key == "" {
		t.Fatalf("answer %+v", d)
	}
	if _, ok := store.ParseID(d.VoiceNoteID); !ok {
		t.Fatalf("voicenote_id %q", d.VoiceNoteID)
	}
	if !strings.HasPrefix(d.PresignedURL, h.url+"/v1/upload-sessions/") || strings.Contains(d.PresignedURL, "user_42") {
		t.Fatalf("presigned_url %q", d.PresignedURL)
	}
	// Nothing is listed before the bytes are in.
	if got := h.listed(token); len(got) != 0 {
		t.Fatalf("listed before any byte: %+v", got)
	}
	n := decode[noteAnswer](t, putTo(t, d.PresignedURL, audio, "audio/wav"), 200).Data
	if n.ID != d.VoiceNoteID || n.Format != "wav" || n.Size != int64(len(audio)) || n.Status != "processing" || n.Identity != "user_42" {
		t.Fatalf("note %+v", n)
	}
	h.expectAudio(n, audio)
	// The same bytes again: 200, the same note, no second event.
	again := decode[noteAnswer](t, putTo(t, d.PresignedURL, audio, "audio/wav"), 200).Data
	if again.ID != n.ID {
		t.Fatal("a repeated PUT made another note")
	}
	// Other bytes to the same URL: the note's id holds other audio.
	other := testaudio.WAV(16000, 2, 660)
	expectError(t, putTo(t, d.PresignedURL, other, "audio/wav"), 409, 2003, map[string]any{
		"field": "voicenote_id", "value": n.ID, "reason": "already used for a different recording"})
	if got := h.listed(token); len(got) != 1 {
		t.Fatalf("listed %d notes", len(got))
	}
	if c := h.createdEvents(n.ID); c != 1 {
		t.Errorf("voicenote.created recorded %d times", c)
	}
	// Another identity's token cannot see it; the URL named nothing of the identity.
	if got := h.listed(h.token("user_43")); len(got) != 0 {
		t.Error("another identity sees the note")
	}
}

func TestUploadAnnouncementErrors(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	audio := testaudio.WAV(8000, 1, 440)
	good := func(change func(m map[string]any)) string {
		var m map[string]any
		json.Unmarshal([]byte(announce(audio, "wav", 1, false)), &m)
		change(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, body string
		status     int
		code       int
		details    map[string]any
	}{
		{"malformed JSON", `{"file_size":`, 400, 2001, nil},
		{"not an object", `[1,2]`, 400, 2001, nil},
		{"no audio_format", good(func(m map[string]any) { delete(m, "audio_format") }), 400, 2002, map[string]any{"field": "audio_format"}},
		{"no file_size", good(func(m map[string]any) { delete(m, "file_size") }), 400, 2002, map[string]any{"field": "file_size"}},
		{"no duration_seconds", good(func(m map[string]any) { delete(m, "duration_seconds") }), 400, 2002, map[string]any{"field": "duration_seconds"}},
		{"empty body", ``, 400, 2002, map[string]any{"field": "audio_format"}},
		{"file_size a string", good(func(m map[string]any) { m["file_size"] = "12" }), 400, 2003,
			map[string]any{"field": "file_size", "value": "12", "reason": "must be a positive integer (bytes)"}},
		{"file_size 0", good(func(m map[string]any) { m["file_size"] = 0 }), 400, 2003,
			map[string]any{"field": "file_size", "value": 0, "reason": "must be a positive integer (bytes)"}},
		{"audio_format a number", good(func(m map[string]any) { m["audio_format"] = 3 }), 400, 2003,
			map[string]any{"field": "audio_format", "value": 3, "reason": "must be a string: webm, wav or ogg"}},
		{"duration negative", good(func(m map[string]any) { m["duration_seconds"] = -1 }), 400, 2003,
			map[string]any{"field": "duration_seconds", "value": -1, "reason": "must be a number of seconds, 0 or more"}},
		{"use_multipart a string", good(func(m map[string]any) { m["use_multipart"] = "yes" }), 400, 2003,
			map[string]any{"field": "use_multipart", "value": "yes", "reason": "must be true or false"}},
		{"sdk_metadata a string", good(func(m map[string]any) { m["sdk_metadata"] = "x" }), 400, 2003,
			map[string]any{"field": "sdk_metadata", "value": "x", "reason": "must be a JSON object"}},
		{"mp4", good(func(m map[string]any) { m["audio_format"] = "mp4" }), 400, 2005,
			map[string]any{"format": "mp4", "supported_formats": []string{"webm", "wav", "ogg"}}},
		{"30 MB", good(func(m map[string]any) { m["file_size"] = 30 << 20 }), 400, 2004,
			map[string]any{"max_size": "25MB", "actual_size": "30MB"}},
		{"75 s", good(func(m map[string]any) { m["duration_seconds"] = 75 }), 400, 2006,
			map[string]any{"max_duration": 60, "actual_duration": 75}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, h.postUpload(token, c.body, ""), c.status, c.code, c.details)
		})
	}
	// 60.5 s passes (container rounding), as on the one-request route.
	h.startUpload(token, good(func(m map[string]any) { m["duration_seconds"] = 60.5 }), "", 201)
	expectError(t, h.postUpload(token, announce(audio, "wav", 1, false), "two words"), 400, 2003,
		map[string]any{"field": "Idempotency-Key", "value": "two words", "reason": "must be one value of 1 to 255 visible ASCII characters"})
	expectError(t, h.postUpload("", announce(audio, "wav", 1, false), ""), 401, 1001, nil)
	expectError(t, h.postUpload(h.token("reader", "voicenotes:read"), announce(audio, "wav", 1, false), ""), 403, 1003, nil)
	if got := h.listed(token); len(got) != 0 {
		t.Fatalf("listed: %+v", got)
	}
}

func TestPresignedURLsForgedOrExpired(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	audio := testaudio.WAV(8000, 1, 440)
	single := h.startUpload(token, announce(audio, "wav", 1, false), "", 201).Data.PresignedURL
	big := stereoWAV(48000, 30) // 5.76 MB: two parts
	multi := h.startUpload(token, announce(big, "wav", 30, true), "", 201).Data.UploadInfo
	part2 := multi.Parts[1].PresignedURL

	alter := func(raw, param, value string) string {
		u, _ := url.Parse(raw)
		q := u.Query()
		q.Set(param, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	otherPath := func(raw, from, to string) string { return strings.Replace(raw, from, to, 1) }
	forged := map[string]string{
		"signature changed":  alter(single, "signature", "AAAA"+strings.Repeat("B", 39)),
		"expiry moved":       alter(single, "expires", strconv.FormatInt(h.clock.Now().Add(48*time.Hour).Unix(), 10)),
		"length changed":     alter(single, "length", "100"),
		"owner changed":      alter(single, "owner", strings.Repeat("0", 32)),
		"no signature":       strings.Split(single, "?")[0],
		"part number":        otherPath(part2, "/parts/2?", "/parts/1?"),
		"part as single":     otherPath(part2, "/parts/2?", "?"),
		"another session":    otherPath(single, "/upload-sessions/", "/upload-sessions/0"),
		"not a part number":  otherPath(part2, "/parts/2?", "/parts/02?"),
		"a token instead":    strings.Split(single, "?")[0] + "?token=" + token,
		"part of a single":   otherPath(single, "?", "/parts/1?"),
		"query param repeat": single + "&length=1",
	}
	for name, u := range forged {
		t.Run(name, func(t *testing.T) {
			expectError(t, putTo(t, u, audio, "audio/wav"), 403, 1001, nil)
		})
	}
	h.clock.Advance(time.Hour)
	expectError(t, putTo(t, single, audio, "audio/wav"), 403, 1002, nil)
	expectError(t, putTo(t, part2, big[multi.Parts[1].StartByte:], ""), 403, 1002, nil)
	token = h.token("user_42") // the first one has expired too
	if got := h.listed(token); len(got) != 0 {
		t.Fatalf("listed: %+v", got)
	}
}

func TestUploadedBytesMustBeWhatWasAnnounced(t *testing.T) {
	h := newHarness(t)
	h.hook()
	token := h.token("user_42")
	wav := testaudio.WAV(8000, 1, 440)
	start := func(announced []byte, format string, seconds float64) string {
		return h.startUpload(token, announce(announced, format, seconds, false), "", 201).Data.PresignedURL
	}
	// Fewer bytes than file_size.
	u := start(wav, "wav", 1)
	expectError(t, putTo(t, u, wav[:len(wav)-10], "audio/wav"), 400, 2003, map[string]any{
		"field": "file_size", "value": len(wav) - 10, "reason": fmt.Sprintf("the body must be exactly the %d bytes announced", len(wav))})
	// The session is still open: the right bytes complete it.
	decode[noteAnswer](t, putTo(t, u, wav, "audio/wav"), 200)
	// Another supported format than announced.
	ogg := start(wav, "ogg", 1)
	expectError(t, putTo(t, ogg, wav, "audio/ogg"), 400, 2003, map[string]any{
		"field": "audio_format", "value": "ogg", "reason": "the bytes are wav, not the ogg announced"})
	// Bytes that are no supported format at all: the one-request route's 2005.
	mp3 := testaudio.MP3()
	expectError(t, putTo(t, start(mp3, "webm", 1), mp3, "audio/webm"), 400, 2005, map[string]any{
		"format": "mp3", "supported_formats": []string{"webm", "wav", "ogg"}})
	// Recognised but unreadable: 3004, as on the one-request route.
	broken := append(testaudio.WAVHeader(8000, 1000)[:36:36], []byte("junkjunkjunk")...)
	expectError(t, putTo(t, start(broken, "wav", 1), broken, "audio/wav"), 422, 3004, nil)
	// Longer than announced and than allowed: 2006.
	long := testaudio.WAV(8000, 75, 440)
	expectError(t, putTo(t, start(long, "wav", 59), long, "audio/wav"), 400, 2006, map[string]any{
		"max_duration": 60, "actual_duration": 75})
	if got := h.listed(token); len(got) != 1 {
		t.Fatalf("listed %d notes, want only the good one", len(got))
	}
}

// multipartUpload announces audio as multipart and checks the plan covers every byte once.
func (h *harness) multipartUpload(token string, audio []byte, seconds float64, key string, want int) presignedAnswer {
	h.t.Helper()
	a := h.startUpload(token, announce(audio, "wav", seconds, false), key, want)
	info := a.Data.UploadInfo
	if a.Data.UploadType != "multipart" || info == nil || a.Data.PresignedURL != "" || info.UploadID == "" {
		h.t.Fatalf("not multipart: %+v", a.Data)
	}
	next := int64(0)
	for i, p := range info.Parts {
		if p.PartNumber != i+1 || p.StartByte != next || p.ContentLength != p.EndByte-p.StartByte+1 ||
			(i < len(info.Parts)-1 && p.ContentLength != 5<<20) {
			h.t.Fatalf("part %d: %+v", i, p)
		}
		next = p.EndByte + 1
	}
	if next != int64(len(audio)) {
		h.t.Fatalf("the parts cover %d bytes of %d", next, len(audio))
	}
	return a
}

func TestMultipartConcurrentOutOfOrder(t *testing.T) {
	h := newHarness(t)
	h.hook()
	token := h.token("user_42")
	audio := stereoWAV(48000, 55) // 10.56 MB: three parts
	a := h.multipartUpload(token, audio, 55, "", 201)
	parts := a.Data.UploadInfo.Parts
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	type answer struct {
		status int
		etag   string
		body   []byte
	}
	answers := make([]answer, len(parts))
	var wg sync.WaitGroup
	for i := len(parts) - 1; i >= 0; i-- { // started last first, all at once
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := parts[i]
			resp := putTo(t, p.PresignedURL, audio[p.StartByte:p.EndByte+1], "")
			body, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("ETag"), body}
		}(i)
	}
	wg.Wait()
	withNote := 0
	for i, an := range answers {
		if an.status != 200 || !strings.HasPrefix(an.etag, `"`) {
			t.Fatalf("part %d: %d %q %s", i+1, an.status, an.etag, an.body)
		}
		var v noteAnswer
		json.Unmarshal(an.body, &v)
		if v.Data.ID == a.Data.VoiceNoteID {
			withNote++
		}
	}
	if withNote < 1 {
		t.Fatal("no part answered with the voice note")
	}
	notes := h.listed(token)
	if len(notes) != 1 || notes[0].ID != a.Data.VoiceNoteID || notes[0].Size != int64(len(audio)) {
		t.Fatalf("listed %+v", notes)
	}
	h.expectAudio(notes[0], audio)
	if c := h.createdEvents(a.Data.VoiceNoteID); c != 1 {
		t.Errorf("voicenote.created recorded %d times", c)
	}
	if dirs := h.partDirs(); len(dirs) != 0 {
		t.Errorf("part files left after completion: %v", dirs)
	}
	// A part again with the same bytes: 200, the same ETag, and the note.
	p := parts[0]
	resp := putTo(t, p.PresignedURL, audio[p.StartByte:p.EndByte+1], "")
	if v := decode[noteAnswer](t, resp, 200); v.Data.ID != a.Data.VoiceNoteID || resp.Header.Get("ETag") != answers[0].etag {
		t.Errorf("a repeated part: %+v %q", v, resp.Header.Get("ETag"))
	}
}

func TestMultipartPartErrors(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	audio := stereoWAV(48000, 30)
	a := h.multipartUpload(token, audio, 30, "", 201)
	p1, p2 := a.Data.UploadInfo.Parts[0], a.Data.UploadInfo.Parts[1]
	first := audio[p1.StartByte : p1.EndByte+1]
	resp := putTo(t, p1.PresignedURL, first, "")
	part := decode[struct {
		Data struct {
			PartNumber    int `json:"part_number"`
			PartsReceived int `json:"parts_received"`
			PartsTotal    int `json:"parts_total"`
		} `json:"data"`
	}](t, resp, 200).Data
	etag := resp.Header.Get("ETag")
	if part.PartNumber != 1 || part.PartsReceived != 1 || part.PartsTotal != 2 || etag == "" {
		t.Fatalf("part answer %+v %q", part, etag)
	}
	// The same bytes: the same answer and ETag.
	if again := putTo(t, p1.PresignedURL, first, ""); again.StatusCode != 200 || again.Header.Get("ETag") != etag {
		t.Fatalf("a repeated part: %d %q", again.StatusCode, again.Header.Get("ETag"))
	}
	// Other bytes: 409.
	other := bytes.Clone(first)
	other[1000] ^= 0xFF
	expectError(t, putTo(t, p1.PresignedURL, other, ""), 409, 2003, map[string]any{
		"field": "part", "value": 1, "reason": "this part was already received with other bytes"})
	// The wrong length for the part.
	expectError(t, putTo(t, p2.PresignedURL, append(bytes.Clone(audio[p2.StartByte:]), 0, 0), ""), 400, 2003, map[string]any{
		"field": "content_length", "value": p2.ContentLength + 2,
		"reason": fmt.Sprintf("the body must be exactly the %d bytes announced", p2.ContentLength)})
	expectError(t, putTo(t, p2.PresignedURL, audio[p2.StartByte:p2.EndByte], ""), 400, 2003, map[string]any{
		"field": "content_length", "value": p2.ContentLength - 1,
		"reason": fmt.Sprintf("the body must be exactly the %d bytes announced", p2.ContentLength)})
	if got := h.listed(token); len(got) != 0 {
		t.Fatalf("listed before the last part: %+v", got)
	}
	decode[noteAnswer](t, putTo(t, p2.PresignedURL, audio[p2.StartByte:p2.EndByte+1], ""), 200)
}

func TestMultipartOfBadBytesIsDiscarded(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	junk := bytes.Repeat([]byte("not audio "), 600_000) // 6 MB of nothing
	a := h.startUpload(token, announce(junk, "wav", 30, true), "", 201)
	parts := a.Data.UploadInfo.Parts
	p1, p2 := parts[0], parts[1]
	decode[map[string]any](t, putTo(t, p2.PresignedURL, junk[p2.StartByte:p2.EndByte+1], ""), 200)
	if len(h.partDirs()) != 1 {
		t.Fatalf("part files: %v", h.partDirs())
	}
	expectError(t, putTo(t, p1.PresignedURL, junk[p1.StartByte:p1.EndByte+1], ""), 400, 2005, map[string]any{
		"format": "unknown", "supported_formats": []string{"webm", "wav", "ogg"}})
	// The session is gone, and its parts with it.
	expectError(t, putTo(t, p1.PresignedURL, junk[p1.StartByte:p1.EndByte+1], ""), 404, 6001,
		map[string]any{"upload_id": a.Data.UploadInfo.UploadID})
	if dirs := h.partDirs(); len(dirs) != 0 {
		t.Errorf("part files left: %v", dirs)
	}
	if got := h.listed(token); len(got) != 0 {
		t.Fatalf("listed: %+v", got)
	}
}

func TestIdempotencyKeyBeforeDuringAfter(t *testing.T) {
	h := newHarness(t)
	h.hook()
	token := h.token("user_42")
	audio := stereoWAV(48000, 30)
	key := "0190A0C0-8888-7000-8000-000000000001" // the recording's UUID, any case
	id := strings.ToLower(key)
	before := h.multipartUpload(token, audio, 30, key, 201)
	if before.Data.VoiceNoteID != id {
		t.Fatalf("voicenote_id %q, want the key %q", before.Data.VoiceNoteID, id)
	}
	p1 := before.Data.UploadInfo.Parts[0]
	decode[map[string]any](t, putTo(t, p1.PresignedURL, audio[p1.StartByte:p1.EndByte+1], ""), 200)
	// During: the same upload, fresh URLs.
	h.clock.Advance(time.Minute)
	during := h.multipartUpload(token, audio, 30, key, 200)
	if during.Data.VoiceNoteID != id || during.Data.UploadInfo.UploadID != before.Data.UploadInfo.UploadID ||
		during.Data.UploadInfo.Parts[1].PresignedURL == before.Data.UploadInfo.Parts[1].PresignedURL {
		t.Fatalf("during: %+v", during.Data)
	}
	p2 := during.Data.UploadInfo.Parts[1]
	decode[noteAnswer](t, putTo(t, p2.PresignedURL, audio[p2.StartByte:p2.EndByte+1], ""), 200)
	// After: the same voice note, URLs whose PUT of the same bytes answers it.
	after := h.multipartUpload(token, audio, 30, key, 200)
	if after.Data.VoiceNoteID != id {
		t.Fatalf("after: %+v", after.Data)
	}
	for _, p := range after.Data.UploadInfo.Parts {
		if n := decode[noteAnswer](t, putTo(t, p.PresignedURL, audio[p.StartByte:p.EndByte+1], ""), 200).Data; n.ID != id {
			t.Fatalf("after, part %d: %+v", p.PartNumber, n)
		}
	}
	// The same key for another recording: 409.
	expectError(t, h.postUpload(token, announce(audio[:len(audio)-2], "wav", 30, true), key), 409, 2003, map[string]any{
		"field": "Idempotency-Key", "value": key, "reason": fmt.Sprintf("already used for a wav recording of %d bytes", len(audio))})
	if notes := h.listed(token); len(notes) != 1 || notes[0].ID != id {
		t.Fatalf("listed %+v", notes)
	}
	if c := h.createdEvents(id); c != 1 {
		t.Errorf("voicenote.created recorded %d times", c)
	}
	// Another identity's same key is another upload: keys are per identity.
	other := h.multipartUpload(h.token("user_43"), audio, 30, key, 201)
	if other.Data.UploadInfo.UploadID == before.Data.UploadInfo.UploadID {
		t.Error("another identity got the same session")
	}
	// A key that is not a UUID names a new id, the same every time.
	small := testaudio.WAV(8000, 1, 440)
	k1 := h.startUpload(token, announce(small, "wav", 1, false), "order-17", 201).Data
	k2 := h.startUpload(token, announce(small, "wav", 1, false), "order-17", 200).Data
	if k1.VoiceNoteID != k2.VoiceNoteID || k1.VoiceNoteID == id {
		t.Errorf("a non-UUID key: %q then %q", k1.VoiceNoteID, k2.VoiceNoteID)
	}
	// No key: a new upload each time.
	n1 := h.startUpload(token, announce(small, "wav", 1, false), "", 201).Data
	n2 := h.startUpload(token, announce(small, "wav", 1, false), "", 201).Data
	if n1.VoiceNoteID == n2.VoiceNoteID {
		t.Error("two POSTs without a key got one voice note")
	}
}

func TestUnfinishedUploadsExpireAndAreCleanedUp(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	audio := stereoWAV(48000, 30)
	a := h.multipartUpload(token, audio, 30, "0190a0c0-9999-7000-8000-000000000001", 201)
	p1, p2 := a.Data.UploadInfo.Parts[0], a.Data.UploadInfo.Parts[1]
	decode[map[string]any](t, putTo(t, p1.PresignedURL, audio[p1.StartByte:p1.EndByte+1], ""), 200)
	if len(h.partDirs()) != 1 {
		t.Fatalf("part files: %v", h.partDirs())
	}
	h.clock.Advance(time.Hour + time.Second)
	expectError(t, putTo(t, p2.PresignedURL, audio[p2.StartByte:p2.EndByte+1], ""), 403, 1002, nil)
	// The next POST sweeps: the parts go.
	token = h.token("user_42") // the first one has expired too
	small := testaudio.WAV(8000, 1, 440)
	h.startUpload(token, announce(small, "wav", 1, false), "", 201)
	if dirs := h.partDirs(); len(dirs) != 0 {
		t.Errorf("expired parts left: %v", dirs)
	}
	if got := h.listed(token); len(got) != 0 {
		t.Fatalf("listed: %+v", got)
	}
	// The key, its session expired, starts over for the same voice note.
	again := h.multipartUpload(token, audio, 30, "0190a0c0-9999-7000-8000-000000000001", 201)
	if again.Data.VoiceNoteID != a.Data.VoiceNoteID || again.Data.UploadInfo.UploadID == a.Data.UploadInfo.UploadID {
		t.Fatalf("after expiry: %+v", again.Data)
	}
}

func TestOpenUploadSessionsAreCapped(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	small := testaudio.WAV(8000, 1, 440)
	for range 20 {
		h.startUpload(token, announce(small, "wav", 1, false), "", 201)
	}
	resp := h.postUpload(token, announce(small, "wav", 1, false), "")
	if resp.Header.Get("Retry-After") != "3600" {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	expectError(t, resp, 429, 4003, map[string]any{"limit": 20, "window": "60 minutes", "retry_after": 3600,
		"reason": "too many unfinished uploads"})
	// Another identity is not held up.
	h.startUpload(h.token("user_43"), announce(small, "wav", 1, false), "", 201)
}

func TestPresignedURLsAnswerCORSForAnyOrigin(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	audio := testaudio.WAV(8000, 1, 440)
	u := h.startUpload(token, announce(audio, "wav", 1, false), "", 201).Data.PresignedURL
	req, _ := http.NewRequest("OPTIONS", u, nil)
	req.Header.Set("Origin", "https://customer.example")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ = http.NewRequest("PUT", u, bytes.NewReader(audio))
	req.Header.Set("Origin", "https://customer.example")
	req.Header.Set("Content-Type", "audio/wav")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("PUT: %d %v", resp.StatusCode, resp.Header)
	}
	// The rest of the API keeps its allowed origins (none here).
	req, _ = http.NewRequest("OPTIONS", h.url+"/v1/upload", nil)
	req.Header.Set("Origin", "https://customer.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST /v1/upload allowed from any origin: %v", resp.Header)
	}
}

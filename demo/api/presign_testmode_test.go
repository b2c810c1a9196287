package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/internal/testaudio"
)

// The tests' mode of the two-step upload (--fault-injection only): presigned URLs that
// point at a stand-in for object storage, an answer lost after the server acted, and
// URLs that expire before their PUT. The browser tests build on these (js/test).

const standIn = "http://127.0.0.2:9/s3" // never dialled: the test swaps it back

func presignVia(base string) func(*api.Config) {
	return func(c *api.Config) { c.PresignVia = base }
}

func TestPresignViaPointsTheURLsAtTheStandIn(t *testing.T) {
	h := newHarness(t, withFaults, presignVia(standIn+"/"))
	token := h.token("user_42")
	viaStandIn := func(t *testing.T, u string) string {
		t.Helper()
		if !strings.HasPrefix(u, standIn+"/v1/upload-sessions/") {
			t.Fatalf("presigned URL %q is not on the stand-in %s", u, standIn)
		}
		return h.url + strings.TrimPrefix(u, standIn) // as the stand-in forwards it
	}

	audio := testaudio.WAV(8000, 1, 440)
	single := h.startUpload(token, announce(audio, "wav", 1, false), "", 201).Data
	n := decode[noteAnswer](t, putTo(t, viaStandIn(t, single.PresignedURL), audio, "audio/wav"), 200).Data
	if n.ID != single.VoiceNoteID || n.Size != int64(len(audio)) {
		t.Fatalf("note %+v", n)
	}
	// The rest of the API still answers with the server's own URLs.
	if !strings.HasPrefix(n.AudioURL, h.url+"/v1/voicenotes/") {
		t.Errorf("audio_url %q", n.AudioURL)
	}

	big := stereoWAV(48000, 30)
	multi := h.multipartUpload(token, big, 30, "", 201).Data.UploadInfo
	var last *http.Response
	for _, p := range multi.Parts {
		last = putTo(t, viaStandIn(t, p.PresignedURL), big[p.StartByte:p.EndByte+1], "")
	}
	h.expectAudio(decode[noteAnswer](t, last, 200).Data, big)
}

func TestPresignViaIsIgnoredWithoutFaultInjection(t *testing.T) {
	h := newHarness(t, presignVia(standIn))
	audio := testaudio.WAV(8000, 1, 440)
	u := h.startUpload(h.token("user_42"), announce(audio, "wav", 1, false), "", 201).Data.PresignedURL
	if !strings.HasPrefix(u, h.url+"/v1/upload-sessions/") {
		t.Fatalf("presigned URL %q: the stand-in is for tests only", u)
	}
}

// A POST whose answer is lost: the session exists, the client heard nothing, and the same
// Idempotency-Key finds it again.
func TestDropAfterFaultCutsTheAnswerOfARouteThatActed(t *testing.T) {
	h := newHarness(t, withFaults)
	token := h.token("user_42")
	audio := testaudio.WAV(8000, 1, 440)
	h.planFault(`{"path_prefix":"/v1/upload","method":"POST","drop_after":true}`)

	req, _ := http.NewRequest("POST", h.url+"/v1/upload", strings.NewReader(announce(audio, "wav", 1, false)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", noteID)
	// A fresh connection: Go's client would replay an Idempotency-Key request once on a
	// reused one, and the test must see the cut.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the answer came through: %d", resp.StatusCode)
	}
	waitFor(t, "the dropped request's log line", func() bool {
		return strings.Contains(h.log.String(), `"fault":"drop_after:201"`)
	})
	// The session's log line names the request that was cut, so a test can follow it.
	dropped := regexp.MustCompile(`"request_id":"([0-9a-f]+)"[^}]*"fault":"drop_after:201"`).FindStringSubmatch(h.log.String())
	if dropped == nil || !strings.Contains(h.log.String(), `"msg":"upload session","voicenote_id":"`+noteID+`"`) ||
		!regexp.MustCompile(`"msg":"upload session".*"request_id":"`+dropped[1]+`"`).MatchString(h.log.String()) {
		t.Errorf("the dropped POST and its session's log line do not name the same request:\n%s", h.log)
	}
	a := h.startUpload(token, announce(audio, "wav", 1, false), noteID, 200).Data // the session it made
	if a.VoiceNoteID != noteID {
		t.Fatalf("voicenote_id %q", a.VoiceNoteID)
	}
	decode[noteAnswer](t, putTo(t, a.PresignedURL, audio, "audio/wav"), 200)
	if got := h.listed(token); len(got) != 1 {
		t.Fatalf("listed %d notes", len(got))
	}
}

func TestURLTTLFaultExpiresThePresignedURLsOfOneAnswer(t *testing.T) {
	h := newHarness(t, withFaults)
	token := h.token("user_42")
	audio := testaudio.WAV(8000, 1, 440)
	h.planFault(`{"path_prefix":"/v1/upload","method":"POST","url_ttl_ms":2000}`)
	short := h.startUpload(token, announce(audio, "wav", 1, false), noteID, 201).Data
	if short.ExpiresIn < 1 || short.ExpiresIn > 2 {
		t.Fatalf("expires_in %d under url_ttl_ms 2000", short.ExpiresIn)
	}
	h.clock.Advance(2 * time.Second)
	expectError(t, putTo(t, short.PresignedURL, audio, "audio/wav"), 403, 1002, nil)
	// The fault was used up: the same key again is the same session with URLs of an hour.
	again := h.startUpload(token, announce(audio, "wav", 1, false), noteID, 200).Data
	if again.ExpiresIn != 3600 || again.VoiceNoteID != noteID {
		t.Fatalf("again %+v", again)
	}
	decode[noteAnswer](t, putTo(t, again.PresignedURL, audio, "audio/wav"), 200)
}

func TestTestModeFaultsThatMakeNoSense(t *testing.T) {
	h := newHarness(t, withFaults)
	for body, field := range map[string]string{
		`{"path_prefix":"/v1","url_ttl_ms":-1}`:               "url_ttl_ms",
		`{"path_prefix":"/v1","url_ttl_ms":3600001}`:          "url_ttl_ms",
		`{"path_prefix":"/v1","drop":true,"drop_after":true}`: "drop_after",
	} {
		resp := h.do(request{method: "POST", path: "/_faults", body: strings.NewReader(body)})
		got := decode[struct {
			Error struct {
				Code    int            `json:"code"`
				Details map[string]any `json:"details"`
			} `json:"error"`
		}](t, resp, 400)
		if got.Error.Code != 2003 || got.Error.Details["field"] != field {
			t.Errorf("%s: %+v", body, got.Error)
		}
	}
}

// path_suffix: a fault for one part of whichever session the test's client opens.
func TestFaultOnOnePartOfAnySession(t *testing.T) {
	h := newHarness(t, withFaults)
	token := h.token("user_42")
	big := stereoWAV(48000, 30)
	h.planFault(`{"path_prefix":"/v1/upload-sessions/","path_suffix":"/parts/2","method":"PUT","status":503,"code":5002,"times":2}`)
	parts := h.multipartUpload(token, big, 30, "", 201).Data.UploadInfo.Parts
	body := func(i int) []byte { return big[parts[i].StartByte : parts[i].EndByte+1] }
	decode[map[string]any](t, putTo(t, parts[0].PresignedURL, body(0), ""), 200) // part 1 passes
	for range 2 {
		expectError(t, putTo(t, parts[1].PresignedURL, body(1), ""), 503, 5002, nil)
	}
	h.expectAudio(decode[noteAnswer](t, putTo(t, parts[1].PresignedURL, body(1), ""), 200).Data, big)
}

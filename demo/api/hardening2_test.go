package api_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/store"
)

// Issue 24, point 10: the metadata of a voicenote.deleted event arrives as it was
// stored; through float64, 12345678901234567890123 became 1.2345678901234568e+22.
func TestDeletedEventKeepsMetadataVerbatim(t *testing.T) {
	h := newHarness(t)
	resp := h.do(request{method: "POST", path: "/v1/webhooks",
		header: http.Header{"X-Vocafuse-Api-Key": {h.creds.APIKey}, "X-Vocafuse-Api-Secret": {h.creds.APISecret}},
		body:   strings.NewReader(`{"url":"https://hooks.example.com/vocafuse","events":["voicenote.created","voicenote.deleted"]}`)})
	decode[map[string]any](t, resp, 201)
	token := h.token("user_42")
	const metadata = `{"n":12345678901234567890123,"f":0.10000000000000000555,"e":1E400}`
	put := h.do(request{method: "PUT", path: "/v1/voicenotes/" + noteID, token: token, body: bytes.NewReader(makeWAV(8000, 1, 440)),
		header: http.Header{"Content-Type": {"audio/wav"}, "X-Vocafuse-Metadata": {metadata}}})
	decode[voiceNote](t, put, 201)
	if resp := h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteID, token: token}); resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	bodies := recordedEvents(t, h.store)
	for _, event := range []string{"voicenote.created", "voicenote.deleted"} {
		body, ok := bodies[event]
		if !ok {
			t.Fatalf("no %s delivery recorded: %v", event, bodies)
		}
		if !strings.Contains(body, `"metadata":`+metadata) {
			t.Errorf("%s: the metadata is not as stored: %s", event, body)
		}
	}
	if strings.Contains(bodies["voicenote.deleted"], "audio_url") {
		t.Errorf("a deleted note's event has an audio_url: %s", bodies["voicenote.deleted"])
	}
}

// recordedEvents claims every delivery the store holds, as the dispatcher would, and
// returns their bodies by event name.
func recordedEvents(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	bodies := map[string]string{}
	later := time.Now().Add(time.Hour)
	due, _, err := st.DueDeliveries(later, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for len(due) > 0 {
		claimed, err := st.Claim(due, store.ClaimRules{Now: later, MaxAttempts: 10, RetryAt: func(int) time.Time { return later.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range claimed {
			bodies[a.Delivery.Event] = string(a.Delivery.Body)
			if _, err := st.RecordAttempt(a.Delivery, store.Outcome{Delivered: true}); err != nil {
				t.Fatal(err)
			}
		}
		if due, _, err = st.DueDeliveries(later, func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
	}
	return bodies
}

// Issue 24, point 10: an audio_url made before a delete and a re-upload of the same id
// does not play the new note, not even when the new note has the same bytes.
func TestOldAudioURLDoesNotPlayANewNote(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	first, second := makeWAV(8000, 1, 440), makeWAV(8000, 1, 660)
	old := decode[voiceNote](t, h.put(noteID, token, first, "audio/wav"), 201)
	if resp := h.get(pathOf(t, old.AudioURL), ""); resp.StatusCode != 200 {
		t.Fatalf("the URL before the delete: %d", resp.StatusCode)
	}
	notFound := map[string]any{"voicenote_id": noteID}
	for _, again := range [][]byte{second, first} {
		if resp := h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteID, token: token}); resp.StatusCode != 204 {
			t.Fatalf("DELETE: %d", resp.StatusCode)
		}
		expectError(t, h.get(pathOf(t, old.AudioURL), ""), 404, 6001, notFound)
		renewed := decode[voiceNote](t, h.put(noteID, token, again, "audio/wav"), 201)
		expectError(t, h.get(pathOf(t, old.AudioURL), ""), 404, 6001, notFound)
		resp := h.get(pathOf(t, renewed.AudioURL), "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(body, again) {
			t.Errorf("the new note's own URL: %d, %d bytes", resp.StatusCode, len(body))
		}
	}
}

// Issue 24, point 10: a token's signature spelled with non-zero unused bits in its last
// character decodes to the same bytes; it is refused (1001), the token as issued is not.
func TestTokenWithAnotherSpellingIsRefused(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	for _, bits := range []int{1, 2, 3} { // a 43-character signature has 2 unused bits
		twin := token[:len(token)-1] + string(alphabet[last^bits])
		a, _ := base64.RawURLEncoding.DecodeString(token[strings.LastIndexByte(token, '.')+1:])
		b, _ := base64.RawURLEncoding.DecodeString(twin[strings.LastIndexByte(twin, '.')+1:])
		if !bytes.Equal(a, b) {
			t.Fatalf("%q is not a spelling of the same signature", twin[len(twin)-3:])
		}
		expectError(t, h.get("/v1/voicenotes", twin), 401, 1001, nil)
	}
	decode[map[string]any](t, h.get("/v1/voicenotes", token), 200)
}

// Issue 24, point 6: DELETE, DELETE and PUT on one id, at once, round after round: no
// answer is a server error, and the identity's list stays readable with every note in
// it playable.
func TestDeleteDeletePutOverHTTP(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.RateLimit = 1 << 20 })
	token := h.token("user_42")
	audio := [][]byte{makeWAV(8000, 0.5, 440), makeWAV(8000, 0.5, 660)}
	decode[voiceNote](t, h.put(noteID, token, audio[0], "audio/wav"), 201)
	for round := range 30 {
		var wg sync.WaitGroup
		statuses := make(chan string, 3)
		send := func(method string, body []byte) {
			defer wg.Done()
			req, _ := http.NewRequest(method, h.url+"/v1/voicenotes/"+noteID, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "audio/wav")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- fmt.Sprintf("%s: %v", method, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				statuses <- fmt.Sprintf("%s: %d %s", method, resp.StatusCode, b)
			}
		}
		wg.Add(3)
		go send("DELETE", nil)
		go send("DELETE", nil)
		go send("PUT", audio[round%2])
		wg.Wait()
		close(statuses)
		for s := range statuses {
			t.Errorf("round %d: %s", round, s)
		}
		list := decode[struct{ Data []voiceNote }](t, h.get("/v1/voicenotes", token), 200)
		for _, n := range list.Data {
			if resp := h.get(pathOf(t, n.AudioURL), ""); resp.StatusCode != 200 {
				t.Errorf("round %d: a listed note does not play: %d", round, resp.StatusCode)
			}
		}
		if len(list.Data) > 1 {
			t.Fatalf("round %d: one id listed %d times", round, len(list.Data))
		}
	}
}

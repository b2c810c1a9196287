package api_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/store"
)

// clientFrom is an HTTP client whose connections come from ip, an address of
// 127.0.0.0/8: another client address on the same machine.
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// visitorToken is a demo visitor's token from POST /api/token, as a browser at
// client's address gets it.
func (h *harness) visitorToken(client *http.Client) string {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/api/token", nil)
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	return decode[map[string]any](h.t, resp, 201)["token"].(string)
}

// slowUploadFrom starts, from client, a PUT that declares 1 MB and sends four bytes,
// then nothing; the answer (nil: cut without one) arrives on the channel, and stop ends it.
func (h *harness) slowUploadFrom(client *http.Client, id, token string) (answer chan *http.Response, stop func()) {
	body, feed := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "PUT", h.url+"/v1/voicenotes/"+id, body)
	req.ContentLength = 1 << 20
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "audio/wav")
	answer = make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			answer <- nil
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		answer <- resp
	}()
	go feed.Write([]byte("RIFF"))
	stop = func() { feed.Close(); cancel() }
	h.t.Cleanup(stop)
	return answer, stop
}

// putFrom is PUT /v1/voicenotes/{id} of audio from client.
func (h *harness) putFrom(client *http.Client, id, token string, audio []byte) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("PUT", h.url+"/v1/voicenotes/"+id, bytes.NewReader(audio))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "audio/wav")
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// holdSlowUploads starts n slow uploads from client, spread over tokens, and waits
// until each is under way (a temporary file) or refused; it returns how many refused.
func (h *harness) holdSlowUploads(client *http.Client, tokens []string, n, firstNote int) (refused int) {
	h.t.Helper()
	for i := range n {
		before := h.tempFiles()
		answer, _ := h.slowUploadFrom(client, noteN(firstNote+i), tokens[i%len(tokens)])
		deadline := time.Now().Add(10 * time.Second)
		for h.tempFiles() == before {
			select {
			case resp := <-answer:
				if resp == nil || resp.StatusCode != 503 {
					h.t.Fatalf("slow upload %d: %v", i, resp)
				}
				refused++
			case <-time.After(5 * time.Millisecond):
				if time.Now().After(deadline) {
					h.t.Fatalf("slow upload %d neither under way nor refused", i)
				}
				continue
			}
			break
		}
	}
	return refused
}

// Issue 24, finding 2, as the attack ran (at small settings: 4 uploads under way, a
// reserve of 1, 2 per identity): an attacker at 127.0.0.2 with six visitor identities
// holds slow bodies; an honest visitor at 127.0.0.1 still uploads. Before, the
// attacker's fresh identities took the reserve too and the honest upload got 503.
func TestSlowBodiesFromOneAddressCannotStarveAnother(t *testing.T) {
	h := newHarness(t, func(c *api.Config) {
		c.MaxUploads, c.MaxUploadsPerIdentity = 4, 2
		c.UploadGrace = time.Minute // nothing is cut for being slow here
	})
	attacker := clientFrom(t, "127.0.0.2")
	var tokens []string
	for range 6 {
		tokens = append(tokens, h.visitorToken(attacker))
	}
	refused := h.holdSlowUploads(attacker, tokens, 12, 1)
	held := h.tempFiles()
	honest := clientFrom(t, "127.0.0.1")
	resp := h.putFrom(honest, noteN(100), h.visitorToken(honest), makeWAV(8000, 1, 440))
	if resp.StatusCode != 201 {
		t.Fatalf("the honest upload: %d, while the attacker holds %d uploads", resp.StatusCode, held)
	}
	decode[voiceNote](t, resp, 201)
	if held != 4 || refused != 8 {
		t.Errorf("the attacker held %d uploads, %d refused; want 4 and 8", held, refused)
	}
}

// --max-uploads-per-client bounds one address below the global cap: an address at it
// is refused while the server has room, and another address is not.
func TestUploadsPerClientAddressAreCapped(t *testing.T) {
	h := newHarness(t, func(c *api.Config) {
		c.MaxUploads, c.MaxUploadsPerIdentity, c.MaxUploadsPerClient = 8, 2, 3
		c.UploadGrace = time.Minute
	})
	attacker := clientFrom(t, "127.0.0.2")
	tokens := []string{h.token("a1"), h.token("a2"), h.token("a3")}
	if refused := h.holdSlowUploads(attacker, tokens, 6, 1); refused != 3 || h.tempFiles() != 3 {
		t.Fatalf("%d refused, %d under way; want 3 and 3", refused, h.tempFiles())
	}
	resp := h.putFrom(attacker, noteN(50), h.token("a4"), makeWAV(8000, 1, 440))
	expectError(t, resp, 503, 5002, nil)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	decode[voiceNote](t, h.putFrom(clientFrom(t, "127.0.0.3"), noteN(51), h.token("b1"), makeWAV(8000, 1, 440)), 201)
}

// The reserve past the global cap is one per address that has none under way: an
// identity with none from an address that holds uploads gets none of it.
func TestUploadReserveIsPerAddress(t *testing.T) {
	h := newHarness(t, func(c *api.Config) {
		c.MaxUploads, c.MaxUploadsPerIdentity = 4, 2 // a reserve of one
		c.UploadGrace = time.Minute
	})
	first := clientFrom(t, "127.0.0.2")
	h.holdSlowUploads(first, []string{h.token("alice"), h.token("bob")}, 4, 1)
	expectError(t, h.putFrom(first, noteN(10), h.token("carol"), makeWAV(8000, 1, 440)), 503, 5002, nil)
	second := clientFrom(t, "127.0.0.3")
	if refused := h.holdSlowUploads(second, []string{h.token("dave")}, 1, 20); refused != 0 {
		t.Fatal("an address with none under way got no slot of the reserve")
	}
	expectError(t, h.putFrom(clientFrom(t, "127.0.0.4"), noteN(11), h.token("erin"), makeWAV(8000, 1, 440)), 503, 5002, nil)
}

// quotaDetails are the quota's 4003 details.
func quotaDetails(limit, stored int) map[string]any {
	return map[string]any{"limit": limit, "stored": stored, "retry_after": 60, "reason": "storage quota"}
}

// Issue 24, finding 2: an identity keeps at most --quota-per-identity bytes of audio.
// An upload that would pass it is 429 / 4003 before its body is read when its size is
// announced (Content-Length, POST /v1/upload's file_size), and at commit otherwise;
// deleting frees the space; a repeated upload of a stored note is not refused; another
// identity has its own quota.
func TestStorageQuotaPerIdentity(t *testing.T) {
	audio := makeWAV(8000, 1, 440)
	size := len(audio)
	limit := 2*size + size/2
	h := newHarness(t, func(c *api.Config) { c.QuotaPerIdentity = int64(limit) })
	alice := h.token("alice")
	decode[voiceNote](t, h.put(noteN(1), alice, audio, "audio/wav"), 201)
	decode[voiceNote](t, h.put(noteN(2), alice, makeWAV(8000, 1, 441), "audio/wav"), 201)

	// Announced: refused with the body unsent (a pipe nobody writes to).
	body, feed := io.Pipe()
	defer feed.Close()
	req, _ := http.NewRequest("PUT", h.url+"/v1/voicenotes/"+noteN(3), body)
	req.ContentLength = int64(size)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	expectError(t, resp, 429, 4003, quotaDetails(limit, 2*size))

	// Not announced (chunked): counted at commit, nothing stored.
	req, _ = http.NewRequest("PUT", h.url+"/v1/voicenotes/"+noteN(3), io.MultiReader(bytes.NewReader(makeWAV(8000, 1, 442))))
	req.Header.Set("Authorization", "Bearer "+alice)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	expectError(t, resp, 429, 4003, quotaDetails(limit, 2*size))
	expectError(t, h.get("/v1/voicenotes/"+noteN(3), alice), 404, 6001, map[string]any{"voicenote_id": noteN(3)})
	waitFor(t, "no temporary file", func() bool { return h.tempFiles() == 0 })

	// The two-step upload: the announcement is refused.
	expectError(t, h.postUpload(alice, announce(audio, "wav", 1, false), ""), 429, 4003, quotaDetails(limit, 2*size))

	// A repeat of a stored note changes nothing and is answered as ever.
	decode[voiceNote](t, h.put(noteN(1), alice, audio, "audio/wav"), 200)
	// Another identity is not concerned.
	decode[voiceNote](t, h.put(noteN(4), h.token("bob"), audio, "audio/wav"), 201)
	// Deleting frees the space.
	if resp := h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteN(2), token: alice}); resp.StatusCode != 204 && resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	decode[voiceNote](t, h.put(noteN(3), alice, makeWAV(8000, 1, 442), "audio/wav"), 201)
}

// The quota holds for presigned PUTs too: an announcement accepted while there was room
// is refused at its PUT once the room is gone, and the session stays for a retry.
func TestStorageQuotaAtThePresignedPUT(t *testing.T) {
	audio := makeWAV(8000, 1, 440)
	size := len(audio)
	h := newHarness(t, func(c *api.Config) { c.QuotaPerIdentity = int64(size + size/2) })
	alice := h.token("alice")
	a := h.startUpload(alice, announce(audio, "wav", 1, false), "", 201)
	decode[voiceNote](t, h.put(noteN(1), alice, makeWAV(8000, 1, 441), "audio/wav"), 201)
	expectError(t, putTo(t, a.Data.PresignedURL, audio, "audio/wav"), 429, 4003, quotaDetails(size+size/2, size))
	if resp := h.do(request{method: "DELETE", path: "/v1/voicenotes/" + noteN(1), token: alice}); resp.StatusCode >= 300 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	n := decode[noteAnswer](t, putTo(t, a.Data.PresignedURL, audio, "audio/wav"), 200).Data
	if n.ID != a.Data.VoiceNoteID || n.Size != int64(size) {
		t.Errorf("note %+v", n)
	}
}

// Uploads that each fit but not all together, committed at once: the commits of one
// identity take turns, so exactly as many as fit are stored.
func TestStorageQuotaHoldsUnderConcurrentCommits(t *testing.T) {
	size := len(makeWAV(8000, 1, 440))
	h := newHarness(t, func(c *api.Config) { c.QuotaPerIdentity = int64(2*size + size/2) })
	alice := h.token("alice")
	statuses := make(chan int, 8)
	for i := range 8 {
		go func() {
			// Chunked: the check before the body passes every one of them.
			req, _ := http.NewRequest("PUT", h.url+"/v1/voicenotes/"+noteN(i+1), io.MultiReader(bytes.NewReader(makeWAV(8000, 1, float64(440+i)))))
			req.Header.Set("Authorization", "Bearer "+alice)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range 8 {
		count[<-statuses]++
	}
	if count[201] != 2 || count[429] != 6 {
		t.Errorf("statuses %v, want 2 × 201 and 6 × 429", count)
	}
	if stored, _ := h.store.StoredBytes(store.OwnerOf("alice")); stored != int64(2*size) {
		t.Errorf("stored %d bytes, want %d", stored, 2*size)
	}
}

package vocafuse_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/internal/demoproc"
	"github.com/vocafuse/recorder/vocafuse"
)

// nodeValidate is VocaFuse's RequestValidator (vocafuse-node, src/webhook/request-validator.ts)
// written again in Go, independently of the package: the string to sign is
// "<timestamp>.<delivery id>.<payload>" when both are given, the signature the hex
// HMAC-SHA256 with an optional "sha256=" prefix, compared in constant time.
func nodeValidate(secret, payload, signature, timestamp, deliveryID string) bool {
	toSign := payload
	if timestamp != "" && deliveryID != "" {
		toSign = timestamp + "." + deliveryID + "." + payload
	} else if timestamp != "" {
		toSign = timestamp + "." + payload
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(toSign))
	expected := m.Sum(nil)
	provided, err := hex.DecodeString(strings.TrimPrefix(signature, "sha256="))
	return err == nil && hmac.Equal(provided, expected)
}

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint on loopback that answers with the statuses it is
// given in turn (then 200), or holds requests while hold is set.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []delivery
	statuses []int
	arrived  chan delivery
	hold     chan struct{} // when not nil, requests wait for it to close
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, arrived: make(chan delivery, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{header: req.Header.Clone(), body: body}
		r.mu.Lock()
		r.got = append(r.got, d)
		hold := r.hold
		status := 200
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		r.arrived <- d
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-r.arrived:
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery within 20 s")
		return delivery{}
	}
}

func TestWebhookManagement(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)

	made, err := c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "https://example.com/hook",
		Events: []string{vocafuse.EventVoiceNoteCreated, vocafuse.EventVoiceNoteDeleted}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(made.ID, "wh_") || !strings.HasPrefix(made.Secret, "whsec_") || !made.Active ||
		made.CreatedAt.IsZero() || len(made.Events) != 2 {
		t.Errorf("%+v", made)
	}
	mine, err := c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "http://127.0.0.1:9/mine",
		Events: []string{vocafuse.EventVoiceNoteCreated}, Secret: "my-secret-0123456789"})
	if err != nil || mine.Secret != "my-secret-0123456789" {
		t.Fatalf("%+v %v", mine, err)
	}
	_, err = c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "https://example.com/hook", Events: []string{"voicenote.created"}})
	checkError(t, err, 5005, 409, map[string]any{"url": "https://example.com/hook"})
	_, err = c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "ftp://example.com/", Events: []string{"voicenote.created"}})
	checkError(t, err, 2003, 0, map[string]any{"field": "url"})
	_, err = c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "https://example.com/x", Events: []string{"voicenote.exploded"}})
	checkError(t, err, 2003, 0, map[string]any{"field": "events", "value": "voicenote.exploded"})
	_, err = c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: "https://example.com/x"})
	checkError(t, err, 2002, 0, map[string]any{"field": "events"})

	got, err := c.Webhooks.Get(ctx, made.ID)
	if err != nil || got.URL != made.URL || got.Secret != "" {
		t.Errorf("get: %+v %v (the secret is shown only once)", got, err)
	}
	list, err := c.Webhooks.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != made.ID || list[0].Secret != "" || list[1].Secret != "" {
		t.Errorf("list: %v %v", list, err)
	}
	updated, err := c.Webhooks.Update(ctx, made.ID, vocafuse.WebhookParams{URL: "https://example.com/new", Events: []string{"voicenote.deleted"}})
	if err != nil || updated.URL != "https://example.com/new" || len(updated.Events) != 1 || updated.Secret != "" {
		t.Errorf("update: %+v %v", updated, err)
	}
	_, err = c.Webhooks.Update(ctx, made.ID, vocafuse.WebhookParams{URL: mine.URL, Events: []string{"voicenote.deleted"}})
	checkError(t, err, 5005, 409, map[string]any{"url": mine.URL})
	_, err = c.Webhooks.Update(ctx, "wh_nope", vocafuse.WebhookParams{URL: "https://example.com/z", Events: []string{"voicenote.deleted"}})
	checkError(t, err, 6003, 0, map[string]any{"webhook_id": "wh_nope"})
	if err := c.Webhooks.Delete(ctx, made.ID); err != nil {
		t.Fatal(err)
	}
	checkError(t, c.Webhooks.Delete(ctx, made.ID), 6003, 0, map[string]any{"webhook_id": made.ID})
	_, err = c.Webhooks.Get(ctx, made.ID)
	checkError(t, err, 6003, 0, map[string]any{"webhook_id": made.ID})

	// As VocaFuse's Node SDK calls it: X-VocaFuse-API-Key and -Secret headers, the
	// resource under "data" as well; a browser token is not the key.
	req, _ := http.NewRequest("GET", s.URL+"/v1/webhooks/"+mine.ID, nil)
	req.Header.Set("X-VocaFuse-API-Key", demoproc.APIKey)
	req.Header.Set("X-VocaFuse-API-Secret", demoproc.APISecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		ID   string `json:"id"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&shape)
	resp.Body.Close()
	if resp.StatusCode != 200 || shape.ID != mine.ID || shape.Data.ID != mine.ID {
		t.Errorf("with the SDK's headers: %d %+v", resp.StatusCode, shape)
	}
	tok, _ := c.Tokens.Create(ctx, vocafuse.TokenParams{Identity: "user_42"})
	req, _ = http.NewRequest("GET", s.URL+"/v1/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"code":1001`) {
		t.Errorf("with a token: %d %s", resp.StatusCode, body)
	}
}

// An upload makes one voicenote.created delivery, signed as VocaFuse's RequestValidator
// checks it; a delete makes a voicenote.deleted one.
func TestWebhookDeliveryIsSigned(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)
	rcv := newReceiver(t)
	hook, err := c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: rcv.URL + "/hook",
		Events: []string{vocafuse.EventVoiceNoteCreated, vocafuse.EventVoiceNoteDeleted}})
	if err != nil {
		t.Fatal(err)
	}
	id := newID()
	upload(t, s, c, "user_hooked", id)
	d := rcv.next(t)
	ts, deliveryID, sig := d.header.Get("X-VocaFuse-Timestamp"), d.header.Get("X-VocaFuse-Delivery-ID"), d.header.Get("X-VocaFuse-Signature")
	if !strings.HasPrefix(sig, "sha256=") || deliveryID == "" || d.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", d.header)
	}
	if !nodeValidate(hook.Secret, string(d.body), sig, ts, deliveryID) {
		t.Error("the delivery does not verify with RequestValidator's scheme")
	}
	event, err := vocafuse.WebhookVerifier{Secret: hook.Secret}.VerifyPayload(d.body, d.header)
	if err != nil {
		t.Fatal(err)
	}
	note, err := event.VoiceNote()
	if err != nil || event.Event != "voicenote.created" || !strings.HasPrefix(event.ID, "evt_") ||
		event.DeliveryID != deliveryID || note.ID != id || note.Identity != "user_hooked" || note.AudioURL == "" {
		t.Errorf("%+v %+v %v", event, note, err)
	}
	// The payload's resource is the API's own: audio_url from the server's public URL,
	// the owner named by its keyed handle (never a plain hash of the identity), and it plays.
	sum := sha256.Sum256([]byte("user_hooked"))
	played, err := url.Parse(note.AudioURL)
	if err != nil || !strings.HasPrefix(note.AudioURL, s.URL+"/v1/voicenotes/"+id+"/audio?") ||
		played.Query().Get("owner") == "" || strings.Contains(hex.EncodeToString(sum[:]), played.Query().Get("owner")) {
		t.Errorf("audio_url %q", note.AudioURL)
	} else if resp, err := http.Get(note.AudioURL); err != nil {
		t.Error(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the delivery's audio_url: %d", resp.StatusCode)
		}
	}

	// A tampered body, another secret or an old timestamp fail.
	tampered := strings.Replace(string(d.body), "user_hooked", "user_hacked", 1)
	if _, err := (vocafuse.WebhookVerifier{Secret: hook.Secret}).VerifyPayload([]byte(tampered), d.header); !errors.Is(err, vocafuse.ErrInvalidSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if nodeValidate(hook.Secret, tampered, sig, ts, deliveryID) {
		t.Error("RequestValidator's scheme takes a tampered body")
	}
	if _, err := (vocafuse.WebhookVerifier{Secret: "other"}).VerifyPayload(d.body, d.header); !errors.Is(err, vocafuse.ErrInvalidSignature) {
		t.Errorf("another secret: %v", err)
	}
	later := func() time.Time { return time.Now().Add(vocafuse.DefaultTolerance + time.Minute) }
	if _, err := (vocafuse.WebhookVerifier{Secret: hook.Secret, Now: later}).VerifyPayload(d.body, d.header); !errors.Is(err, vocafuse.ErrTimestamp) {
		t.Errorf("replayed later: %v", err)
	}

	if err := c.VoiceNotes("user_hooked").Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	deleted := rcv.next(t)
	event, err = vocafuse.WebhookVerifier{Secret: hook.Secret}.VerifyPayload(deleted.body, deleted.header)
	if err != nil || event.Event != "voicenote.deleted" || strings.Contains(string(event.Data), "audio_url") {
		t.Errorf("%+v %v", event, err)
	}
	rcv.mu.Lock()
	n := len(rcv.got)
	rcv.mu.Unlock()
	if n != 2 {
		t.Errorf("%d deliveries, want one created and one deleted", n)
	}
}

// A receiver that fails twice gets the delivery on the third try, with the same
// delivery id each time.
func TestWebhookRetriesWithTheSameDeliveryID(t *testing.T) {
	s := demoproc.Start(t, "", "--webhook-first-retry", "50ms")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)
	rcv := newReceiver(t, 500, 503)
	hook, err := c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: rcv.URL, Events: []string{vocafuse.EventVoiceNoteCreated}})
	if err != nil {
		t.Fatal(err)
	}
	upload(t, s, c, "user_flaky", newID())
	var ids []string
	for range 3 {
		d := rcv.next(t)
		ids = append(ids, d.header.Get("X-VocaFuse-Delivery-ID"))
		if _, err := (vocafuse.WebhookVerifier{Secret: hook.Secret}).VerifyPayload(d.body, d.header); err != nil {
			t.Error(err)
		}
	}
	if ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("delivery ids %v", ids)
	}
	waitFor(t, "the delivery logged as delivered", func() bool {
		return strings.Contains(s.Log(), `"msg":"webhook delivered"`) && strings.Contains(s.Log(), `"attempt":3`)
	})
}

// A delivery under way when the server dies is delivered after the restart, with the
// same delivery id.
func TestWebhookDeliverySurvivesARestart(t *testing.T) {
	s := demoproc.Start(t, "")
	c := newClient(s)
	ctx := ctxFor(t, time.Minute)
	rcv := newReceiver(t)
	hold := make(chan struct{})
	rcv.mu.Lock()
	rcv.hold = hold
	rcv.mu.Unlock()
	hook, err := c.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: rcv.URL, Events: []string{vocafuse.EventVoiceNoteCreated}})
	if err != nil {
		t.Fatal(err)
	}
	upload(t, s, c, "user_restart", newID())
	first := rcv.next(t) // the attempt is under way, unanswered
	s.Kill()
	rcv.mu.Lock()
	rcv.hold = nil
	rcv.mu.Unlock()
	close(hold)

	demoproc.Start(t, s.DataDir)
	again := rcv.next(t)
	if id := again.header.Get("X-VocaFuse-Delivery-ID"); id == "" || id != first.header.Get("X-VocaFuse-Delivery-ID") {
		t.Errorf("after the restart: delivery id %q, before %q", id, first.header.Get("X-VocaFuse-Delivery-ID"))
	}
	if _, err := (vocafuse.WebhookVerifier{Secret: hook.Secret}).VerifyPayload(again.body, again.header); err != nil {
		t.Error(err)
	}
}

package vocafuse_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/vocafuse/recorder/vocafuse"
)

// signedDelivery is a delivery as the server sends it, signed with secret.
func signedDelivery(secret string) (*http.Request, []byte) {
	body := []byte(`{"id":"evt_1","event":"voicenote.created","created_at":"2026-03-01T12:00:00Z","data":{"id":"vn_1"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r := httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
	r.Header.Set(vocafuse.HeaderTimestamp, ts)
	r.Header.Set(vocafuse.HeaderDeliveryID, "del_1")
	r.Header.Set(vocafuse.HeaderSignature, vocafuse.SignWebhook(secret, ts, "del_1", body))
	return r, body
}

// A receiver whose secret is unset ("") believes nothing, not even a delivery signed
// with "" (what anyone can forge).
func TestVerifyWebhookRefusesAnEmptySecret(t *testing.T) {
	forged, body := signedDelivery("")
	if _, err := vocafuse.VerifyWebhook(forged, ""); !errors.Is(err, vocafuse.ErrEmptySecret) {
		t.Errorf("VerifyWebhook: %v", err)
	}
	if _, err := (vocafuse.WebhookVerifier{}).VerifyPayload(body, forged.Header); !errors.Is(err, vocafuse.ErrEmptySecret) {
		t.Errorf("VerifyPayload: %v", err)
	}
	const secret = "whsec_0123456789abcdef"
	genuine, _ := signedDelivery(secret)
	if e, err := vocafuse.VerifyWebhook(genuine, secret); err != nil || e.DeliveryID != "del_1" {
		t.Errorf("a genuine delivery: %+v %v", e, err)
	}
}

package vocafuse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook delivery.
const (
	HeaderSignature  = "X-VocaFuse-Signature"   // "sha256=<hex HMAC-SHA256>"
	HeaderTimestamp  = "X-VocaFuse-Timestamp"   // Unix seconds when the attempt was signed
	HeaderDeliveryID = "X-VocaFuse-Delivery-ID" // the same on every retry of a delivery
)

// DefaultTolerance is how far a delivery's timestamp may be from now for VerifyWebhook
// to take it: older deliveries are refused as possible replays.
const DefaultTolerance = 5 * time.Minute

// maxWebhookBody bounds what VerifyWebhook reads of a request.
const maxWebhookBody = 1 << 20

// Errors of webhook verification; VerifyWebhook's errors match one of them with errors.Is.
var (
	ErrInvalidSignature = errors.New("vocafuse: webhook signature does not match")
	ErrTimestamp        = errors.New("vocafuse: webhook timestamp missing or outside the tolerance")
	// ErrEmptySecret: the receiver has no secret to check with (an unset environment
	// variable, typically); anyone could sign with "" and be believed.
	ErrEmptySecret = errors.New("vocafuse: webhook secret is empty (is its environment variable set?)")
)

// SignWebhook returns the X-VocaFuse-Signature of a delivery: "sha256=" and the hex
// HMAC-SHA256, with the webhook's secret, of "<timestamp>.<delivery id>.<body>" (the
// scheme of VocaFuse's RequestValidator). Receivers use VerifyWebhook; this is for
// tests that send themselves a delivery.
func SignWebhook(secret, timestamp, deliveryID string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "." + deliveryID + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook reads a webhook delivery from r and returns its event once the
// signature matches the secret and the timestamp is within DefaultTolerance of now.
// An empty secret verifies nothing (ErrEmptySecret).
// It is the one call a receiver needs:
//
//	event, err := vocafuse.VerifyWebhook(r, secret)
//	if err != nil {
//		http.Error(w, "invalid signature", http.StatusUnauthorized)
//		return
//	}
//	if seen(event.DeliveryID) { w.WriteHeader(http.StatusOK); return } // at least once: de-duplicate
//
// It reads (and closes) r.Body, at most 1 MB.
func VerifyWebhook(r *http.Request, secret string) (*WebhookEvent, error) {
	return WebhookVerifier{Secret: secret}.Verify(r)
}

// WebhookVerifier is VerifyWebhook with settings.
type WebhookVerifier struct {
	Secret    string
	Tolerance time.Duration    // 0: DefaultTolerance
	Now       func() time.Time // nil: time.Now
}

// Verify reads and checks a delivery, as VerifyWebhook does.
func (v WebhookVerifier) Verify(r *http.Request) (*WebhookEvent, error) {
	defer r.Body.Close()
	if v.Secret == "" {
		return nil, ErrEmptySecret
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil {
		return nil, fmt.Errorf("vocafuse: read webhook body: %w", err)
	}
	if len(body) > maxWebhookBody {
		return nil, fmt.Errorf("vocafuse: webhook body larger than %d bytes", maxWebhookBody)
	}
	return v.VerifyPayload(body, r.Header)
}

// VerifyPayload checks a delivery whose body was already read (it must be the bytes
// as they came: re-encoded JSON does not verify) and decodes its event.
func (v WebhookVerifier) VerifyPayload(body []byte, h http.Header) (*WebhookEvent, error) {
	if v.Secret == "" {
		return nil, ErrEmptySecret
	}
	ts, deliveryID := h.Get(HeaderTimestamp), h.Get(HeaderDeliveryID)
	sig, _ := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	got, err := hex.DecodeString(sig)
	if err != nil || sig == "" {
		return nil, ErrInvalidSignature
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(SignWebhook(v.Secret, ts, deliveryID, body), "sha256="))
	if !hmac.Equal(got, want) {
		return nil, ErrInvalidSignature
	}
	// Checked after the signature, which covers it: a timestamp that verifies is the
	// sender's, and only its age decides.
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrTimestamp, ts)
	}
	now, tolerance := time.Now, v.Tolerance
	if v.Now != nil {
		now = v.Now
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	signed := time.Unix(secs, 0)
	if age := now().Sub(signed); age > tolerance || age < -tolerance {
		return nil, fmt.Errorf("%w: signed %s ago", ErrTimestamp, age.Round(time.Second))
	}
	var e WebhookEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("vocafuse: webhook body is not an event: %w", err)
	}
	e.DeliveryID, e.Timestamp = deliveryID, signed
	return &e, nil
}

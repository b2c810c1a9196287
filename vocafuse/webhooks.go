package vocafuse

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Webhook events.
const (
	EventVoiceNoteCreated     = "voicenote.created"
	EventVoiceNoteDeleted     = "voicenote.deleted"
	EventVoiceNoteTranscribed = "voicenote.transcribed" // the transcription is ready; data has it
	EventVoiceNoteFailed      = "voicenote.failed"      // no transcription; data has the error
)

// Webhook is a URL the API posts events to.
type Webhook struct {
	ID     string   `json:"id"` // "wh_…"
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret signs the deliveries (see VerifyWebhook). The API shows it only in the
	// answer to Create, and to Update when a new one was given.
	Secret    string    `json:"secret,omitempty"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// WebhookParams are what Create and Update send.
type WebhookParams struct {
	URL    string   // http or https; required
	Events []string // EventVoiceNoteCreated and the others; at least one
	// Secret signs the deliveries; "" lets the server make one (on Create) or keeps the
	// current one (on Update).
	Secret string
}

func (p WebhookParams) body() map[string]any {
	b := map[string]any{"url": p.URL, "events": p.Events}
	if p.Events == nil {
		b["events"] = []string{}
	}
	if p.Secret != "" {
		b["secret"] = p.Secret
	}
	return b
}

// Webhooks manages the account's webhooks with the API key and secret. Get it from
// Client.Webhooks.
type Webhooks struct{ c *Client }

// webhookAnswer reads a webhook whether the API sends it bare, as docs/api.md shows,
// or wrapped in "data", as VocaFuse's Node SDK reads it.
type webhookAnswer struct {
	Webhook
	Data *Webhook `json:"data"`
}

func (a *webhookAnswer) webhook() *Webhook {
	if a.ID == "" && a.Data != nil {
		return a.Data
	}
	return &a.Webhook
}

func webhookPath(id string) string { return "/v1/webhooks/" + url.PathEscape(id) }

// Create registers a webhook (POST /v1/webhooks). The answer holds the secret: keep it,
// it is not shown again. The same URL twice is 409 / 5005 WEBHOOK_ALREADY_EXISTS
// (errors.Is(err, ErrConflict)), with the URL in Details["url"]. Create is not retried
// after a failure that may have reached the server, since it is not safe to repeat.
func (w *Webhooks) Create(ctx context.Context, p WebhookParams) (*Webhook, error) {
	var a webhookAnswer
	if _, err := w.c.do(ctx, call{method: http.MethodPost, path: "/v1/webhooks", body: p.body()}, &a); err != nil {
		return nil, err
	}
	return a.webhook(), nil
}

// Get returns a webhook, without its secret. A missing one is 404 / 6003
// WEBHOOK_NOT_FOUND, with the id in Details["webhook_id"].
func (w *Webhooks) Get(ctx context.Context, id string) (*Webhook, error) {
	var a webhookAnswer
	if _, err := w.c.do(ctx, call{method: http.MethodGet, path: webhookPath(id), repeatable: true}, &a); err != nil {
		return nil, err
	}
	return a.webhook(), nil
}

// List returns every webhook of the account, without secrets.
func (w *Webhooks) List(ctx context.Context) ([]*Webhook, error) {
	var page struct {
		Data []*Webhook `json:"data"`
	}
	if _, err := w.c.do(ctx, call{method: http.MethodGet, path: "/v1/webhooks", repeatable: true}, &page); err != nil {
		return nil, err
	}
	return page.Data, nil
}

// Update replaces a webhook's URL and events, and its secret when p.Secret is set
// (PUT /v1/webhooks/{id}).
func (w *Webhooks) Update(ctx context.Context, id string, p WebhookParams) (*Webhook, error) {
	var a webhookAnswer
	if _, err := w.c.do(ctx, call{method: http.MethodPut, path: webhookPath(id), body: p.body(), repeatable: true}, &a); err != nil {
		return nil, err
	}
	return a.webhook(), nil
}

// Delete removes a webhook; deliveries still pending for it are dropped.
func (w *Webhooks) Delete(ctx context.Context, id string) error {
	_, err := w.c.do(ctx, call{method: http.MethodDelete, path: webhookPath(id), repeatable: true}, nil)
	return err
}

// WebhookEvent is a verified delivery: what VerifyWebhook returns.
type WebhookEvent struct {
	ID        string          `json:"id"`    // "evt_…": the event, the same for every webhook it goes to
	Event     string          `json:"event"` // EventVoiceNoteCreated, …
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"` // the voice note, for the voicenote.* events
	// DeliveryID is X-VocaFuse-Delivery-ID: the same on every retry of one delivery, so
	// a receiver that has seen it already can answer 2xx and do nothing.
	DeliveryID string    `json:"-"`
	Timestamp  time.Time `json:"-"` // X-VocaFuse-Timestamp: when this attempt was signed
}

// VoiceNote decodes Data, for the voicenote.* events.
func (e *WebhookEvent) VoiceNote() (*VoiceNote, error) {
	var n VoiceNote
	if err := json.Unmarshal(e.Data, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

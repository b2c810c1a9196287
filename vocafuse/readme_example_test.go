package vocafuse_test

// Runnable examples that mirror the sections of VocaFuse's Node SDK README
// (vocafuse-node: Quick Start, Voicenotes, Automatic Pagination, Webhooks, Webhook
// Signature Verification, JWT Token Generation, API Keys, Account), against a fake of
// the hosted API that answers in the shapes that SDK's tests expect: single resources in
// "data", lists with "pagination", and nothing at the top level besides.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/vocafuse"
)

// hostedAPI is a fake of the hosted API: it checks the key and secret in VocaFuse's
// headers, answers each route in the shapes vocafuse-node reads, and records the
// requests ("METHOD /path?query body").
type hostedAPI struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func (h *hostedAPI) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.seen
	h.seen = nil
	return got
}

const (
	fixtureNote  = `{"id":"vn_123","status":"transcribed","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:01:00Z","duration":30,"file_size":1024}`
	fixtureNote2 = `{"id":"vn_122","status":"failed","created_at":"2023-12-31T00:00:00Z","updated_at":"2023-12-31T00:01:00Z","duration":12,"file_size":512}`
	fixtureHook  = `{"id":"wh_123","url":"https://myapp.com/webhooks","events":["voicenote.transcribed","voicenote.failed"],"secret":"my-webhook-secret","active":true,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}`
	fixtureKey   = `{"id":"ak_123","name":"Production Key","api_key":"sk_live_abc123","created_at":"2024-01-01T00:00:00Z","last_used_at":"2024-01-02T00:00:00Z"}`
	fixtureAcct  = `{"id":"acc_123","tenant_id":"tenant_456","name":"Acme","email":"dev@acme.example","plan":"pro","created_at":"2024-01-01T00:00:00Z","settings":{"default_language":"en-US","notifications_enabled":true},"usage":{"voicenotes_count":100,"total_duration":3600,"api_calls_count":500}}`
)

func newHostedAPI() *hostedAPI {
	h := &hostedAPI{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		line := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			line += "?" + r.URL.RawQuery
		}
		if len(body) > 0 {
			line += " " + string(body)
		}
		h.mu.Lock()
		h.seen = append(h.seen, line)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-VocaFuse-API-Key") != "sk_test_..." || r.Header.Get("X-VocaFuse-API-Secret") != "secret_..." {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":1001,"message":"Invalid API credentials"}}`)
			return
		}
		answer := func(status int, body string) {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/token":
			var req struct {
				UserID    string `json:"user_id"`
				ExpiresIn int    `json:"expires_in"`
			}
			_ = json.Unmarshal(body, &req)
			if req.ExpiresIn == 0 {
				req.ExpiresIn = 3600
			}
			answer(201, fmt.Sprintf(`{"data":{"jwt_token":"eyJ...","token_type":"Bearer","expires_in":%d,"identity":%q}}`,
				req.ExpiresIn, req.UserID))
		case "GET /v1/voicenotes":
			if r.URL.Query().Get("page") == "1" {
				answer(200, `{"data":[`+fixtureNote2+`],"pagination":{"page":1,"limit":1,"total":2,"has_more":false}}`)
				return
			}
			answer(200, `{"data":[`+fixtureNote+`],"pagination":{"page":0,"limit":1,"total":2,"has_more":true}}`)
		case "GET /v1/voicenotes/vn_123":
			answer(200, `{"data":`+fixtureNote+`}`)
		case "GET /v1/voicenotes/vn_invalid":
			answer(404, `{"error":{"code":6001,"message":"Voice note not found","details":{"voicenote_id":"vn_invalid"}}}`)
		case "DELETE /v1/voicenotes/vn_123", "DELETE /v1/webhooks/wh_123", "DELETE /v1/account/api-keys/ak_123":
			w.WriteHeader(204)
		case "GET /v1/voicenotes/vn_123/transcription":
			answer(200, `{"data":{"id":"tr_456","voicenote_id":"vn_123","text":"Hello world","confidence":0.95,"language":"en",`+
				`"words":[{"word":"Hello","start_time":0.1,"end_time":0.5,"confidence":0.97},{"word":"world","start_time":0.6,"end_time":1.0,"confidence":0.93}],`+
				`"created_at":"2024-01-01T00:01:00Z"}}`)
		case "POST /v1/webhooks":
			answer(201, `{"data":`+fixtureHook+`}`)
		case "GET /v1/webhooks":
			answer(200, `{"data":[`+strings.Replace(fixtureHook, `"secret":"my-webhook-secret",`, "", 1)+`]}`)
		case "PUT /v1/webhooks/wh_123":
			answer(200, `{"data":{"id":"wh_123","url":"https://myapp.com/new-endpoint","events":["voicenote.transcribed"],"active":true,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-03T00:00:00Z"}}`)
		case "GET /v1/account/api-keys":
			answer(200, `{"data":[`+fixtureKey+`]}`)
		case "POST /v1/account/api-keys":
			answer(201, `{"data":{"id":"ak_456","name":"Production Key","api_key":"sk_live_newkey","api_secret":"secret_newkey","created_at":"2024-01-01T00:00:00Z","last_used_at":null}}`)
		case "GET /v1/account":
			answer(200, `{"data":`+fixtureAcct+`}`)
		case "PUT /v1/account":
			answer(200, `{"data":`+strings.Replace(fixtureAcct, `"name":"Acme"`, `"name":"My Company"`, 1)+`}`)
		default:
			answer(404, `{"error":{"code":2001,"message":"Invalid request format","details":{"reason":"no such route"}}}`)
		}
	}))
	return h
}

// Quick Start: list, get, transcription, delete, with the API key and secret.
func Example_quickStart() {
	api := newHostedAPI()
	defer api.Close()
	ctx := context.Background()

	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))

	// List voicenotes
	voicenotes, err := client.VoiceNotes().List(ctx, vocafuse.ListParams{Limit: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("Found %d voicenotes\n", len(voicenotes.Data))

	// Get a specific voicenote
	voicenote, err := client.VoiceNotes().Get(ctx, "vn_123")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Status:", voicenote.Status)

	// Get transcription
	transcription, err := client.VoiceNotes().Transcription(ctx, "vn_123")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Text:", transcription.Text)

	// Delete a voicenote
	if err := client.VoiceNotes().Delete(ctx, "vn_123"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(strings.Join(api.requests(), "\n"))
	// Output:
	// Found 1 voicenotes
	// Status: transcribed
	// Text: Hello world
	// GET /v1/voicenotes?limit=10&page=0
	// GET /v1/voicenotes/vn_123
	// GET /v1/voicenotes/vn_123/transcription
	// DELETE /v1/voicenotes/vn_123
}

// Voicenotes: list with filters (status, limit, dateFrom), one page at a time.
func ExampleVoiceNotes_List() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))

	page, err := client.VoiceNotes().List(context.Background(), vocafuse.ListParams{
		Status:   vocafuse.StatusTranscribed,
		Limit:    20,
		DateFrom: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		// Identity: "user_42" would list one user's only.
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, note := range page.Data {
		fmt.Println(note.ID, note.Status, note.Duration, note.FileSize)
	}
	fmt.Printf("page %d, %d in all, more: %v\n", page.Pagination.Page, page.Pagination.Total, page.Pagination.HasMore)
	fmt.Println(api.requests()[0])
	// Output:
	// vn_123 transcribed 30 1024
	// page 0, 2 in all, more: true
	// GET /v1/voicenotes?date_from=2024-01-01T00%3A00%3A00Z&limit=20&page=0&status=transcribed
}

// Automatic pagination: All walks the numbered pages while the API says more follow,
// as iterate() does; leaving the loop fetches no more pages.
func ExampleVoiceNotes_All() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))
	ctx := context.Background()

	// Iterate over ALL voicenotes - pagination handled automatically
	for voicenote, err := range client.VoiceNotes().All(ctx, vocafuse.ListParams{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("Processing:", voicenote.ID)
	}
	fmt.Println(api.requests())

	// Early exit stops fetching more pages
	for voicenote, err := range client.VoiceNotes().All(ctx, vocafuse.ListParams{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if voicenote.Status == vocafuse.StatusTranscribed {
			fmt.Println("Found transcribed voicenote:", voicenote.ID)
			break
		}
	}
	fmt.Println(api.requests())
	// Output:
	// Processing: vn_123
	// Processing: vn_122
	// [GET /v1/voicenotes?page=0 GET /v1/voicenotes?page=1]
	// Found transcribed voicenote: vn_123
	// [GET /v1/voicenotes?page=0]
}

// Get transcription: the text, its language and confidence, and each word's timing.
func ExampleVoiceNotes_Transcription() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))

	transcription, err := client.VoiceNotes().Transcription(context.Background(), "vn_123")
	switch {
	case errors.Is(err, vocafuse.ErrNotFound): // 6002 while the voice note is processing
		fmt.Println("not transcribed yet")
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Printf("%s (%s, %.2f)\n", transcription.Text, transcription.Language, transcription.Confidence)
	for _, w := range transcription.Words {
		fmt.Printf("%.1f-%.1f %s\n", w.StartTime, w.EndTime, w.Word)
	}
	// Output:
	// Hello world (en, 0.95)
	// 0.1-0.5 Hello
	// 0.6-1.0 world
}

// Error handling, as the README's: a voice note that does not exist.
func ExampleVoiceNotes_Get_notFound() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))

	_, err := client.VoiceNotes().Get(context.Background(), "vn_invalid")
	var apiErr *vocafuse.Error
	if errors.Is(err, vocafuse.ErrNotFound) && errors.As(err, &apiErr) {
		fmt.Println("Error:", apiErr.Message)
		fmt.Println("Resource ID:", apiErr.Details["voicenote_id"])
	}
	// Output:
	// Error: Voice note not found
	// Resource ID: vn_invalid
}

// JWT token generation: a token for one user, for the browser SDK; default options,
// then custom ones.
func ExampleTokens_Generate() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))
	ctx := context.Background()

	// Generate token with default options
	token, err := client.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "user_123"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Token:", token.JWTToken, token.TokenType, token.ExpiresIn)

	// Generate with custom options
	custom, err := client.Tokens.Generate(ctx, vocafuse.AccessTokenParams{
		UserID:    "user_123",
		ExpiresIn: 10 * time.Minute,
		Scopes:    []string{vocafuse.ScopeUploadVoiceNote},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Token:", custom.JWTToken, custom.Identity, custom.ExpiresIn)
	fmt.Println(strings.Join(api.requests(), "\n"))
	// Output:
	// Token: eyJ... Bearer 3600
	// Token: eyJ... user_123 600
	// POST /v1/token {"scopes":["voice-api.upload_voicenote"],"user_id":"user_123"}
	// POST /v1/token {"expires_in":600,"scopes":["voice-api.upload_voicenote"],"user_id":"user_123"}
}

// Webhooks: create, list, update, delete.
func ExampleWebhooks() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))
	ctx := context.Background()

	// Create a webhook
	webhook, err := client.Webhooks.Create(ctx, vocafuse.WebhookParams{
		URL:    "https://myapp.com/webhooks",
		Events: []string{vocafuse.EventVoiceNoteTranscribed, vocafuse.EventVoiceNoteFailed},
		Secret: "my-webhook-secret",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Created", webhook.ID, webhook.Events)

	// List webhooks
	webhooks, err := client.Webhooks.List(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(webhooks), "webhook(s)")

	// Update a webhook
	updated, err := client.Webhooks.Update(ctx, "wh_123", vocafuse.WebhookParams{
		URL:    "https://myapp.com/new-endpoint",
		Events: []string{vocafuse.EventVoiceNoteTranscribed},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Updated", updated.URL)

	// Delete a webhook
	if err := client.Webhooks.Delete(ctx, "wh_123"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// Created wh_123 [voicenote.transcribed voicenote.failed]
	// 1 webhook(s)
	// Updated https://myapp.com/new-endpoint
}

// Webhook signature verification: the receiver's handler, as the README's Express
// route. VerifyWebhook also refuses a timestamp older than five minutes (a replay).
func ExampleVerifyWebhook() {
	secret := "my-webhook-secret" // os.Getenv("WEBHOOK_SECRET")

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		event, err := vocafuse.VerifyWebhook(r, secret)
		if err != nil {
			http.Error(w, `{"error":"Invalid signature"}`, http.StatusUnauthorized)
			return
		}
		// Process webhook... (de-duplicate by event.DeliveryID: delivery is at least once)
		fmt.Println("received", event.Event, "for", string(event.Data))
		fmt.Fprint(w, `{"received":true}`)
	})

	// A delivery as the API sends it, then one with a wrong signature.
	body := []byte(`{"id":"evt_1","event":"voicenote.transcribed","created_at":"2024-01-01T00:00:00Z","data":{"id":"vn_123"}}`)
	for _, sig := range []string{"", "sha256=00"} {
		ts := fmt.Sprint(time.Now().Unix())
		r := httptest.NewRequest("POST", "/webhooks/vocafuse", strings.NewReader(string(body)))
		r.Header.Set(vocafuse.HeaderTimestamp, ts)
		r.Header.Set(vocafuse.HeaderDeliveryID, "dlv_1")
		if sig == "" {
			sig = vocafuse.SignWebhook(secret, ts, "dlv_1", body)
		}
		r.Header.Set(vocafuse.HeaderSignature, sig)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// received voicenote.transcribed for {"id":"vn_123"}
	// 200
	// 401
}

// API keys: list, create (the secret is shown once), delete.
func ExampleAPIKeys() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))
	ctx := context.Background()

	// List API keys
	keys, err := client.APIKeys.List(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range keys {
		fmt.Println(k.ID, k.Name, k.Key, k.LastUsedAt.Format(time.DateOnly))
	}

	// Create a new API key
	newKey, err := client.APIKeys.Create(ctx, vocafuse.APIKeyParams{Name: "Production Key"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Save the secret! It's only shown once
	fmt.Printf("Key: %s, Secret: %s\n", newKey.Key, newKey.Secret)

	// Delete an API key
	if err := client.APIKeys.Delete(ctx, "ak_123"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ak_123 Production Key sk_live_abc123 2024-01-02
	// Key: sk_live_newkey, Secret: secret_newkey
}

// Account: its plan and usage, then an update of its name and a setting (what is
// not set is kept).
func ExampleAccountService() {
	api := newHostedAPI()
	defer api.Close()
	client := vocafuse.NewClient("sk_test_...", "secret_...", vocafuse.WithBaseURL(api.URL))
	ctx := context.Background()

	// Get account information
	account, err := client.Account.Get(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Plan:", account.Plan)
	fmt.Println("Voicenotes:", account.Usage.VoiceNotesCount)

	// Update account settings
	account, err = client.Account.Update(ctx, vocafuse.AccountUpdate{
		Name:     "My Company",
		Settings: vocafuse.AccountSettingsUpdate{DefaultLanguage: new("en-US")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Name:", account.Name)
	fmt.Println(api.requests()[1])
	// Output:
	// Plan: pro
	// Voicenotes: 100
	// Name: My Company
	// PUT /v1/account {"name":"My Company","settings":{"default_language":"en-US"}}
}

package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/store"
)

const (
	reasonPrivate = "must not point at a private or loopback address (start the server with --webhook-allow-private to allow it)"
	reasonSecret  = "must be a string of 16 to 256 bytes"
	goodSecret    = "whsec_0123456789abcdef"
)

func allowPrivateWebhooks(c *api.Config) { c.WebhookAllowPrivate = true }

func webhookBody(url, secret string) string {
	b := map[string]any{"url": url, "events": []string{"voicenote.created"}}
	if secret != "" {
		b["secret"] = secret
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// The targets of issue 24, in each spelling: refused at creation and on update unless
// the server allows private targets; a user or password refused always, without echoing it.
func TestWebhookTargets(t *testing.T) {
	private := []string{
		"http://127.0.0.1/hook", "http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://169.254.169.254/latest/meta-data/",
		"http://2130706433/hook", "http://0x7f.1/hook", "http://0177.0.0.1/", "http://127.1/", "http://0x7F000001/",
		"http://127.0.0.1./", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://10.0.0.1/",
		"http://192.168.1.20:3000/", "http://172.16.0.1/", "http://100.64.0.1/", "http://[fd00::1]/",
		"http://[fe80::1%25lo]/", "http://0.0.0.0:9/", "http://0/", "http://localhost:3000/hook",
		"http://api.LOCALHOST/",
	}
	userinfo := []string{"http://user:password@example.com/hook", "https://user@example.com/", "https://:pw@example.com/",
		"http://@example.com/", "http://user:password@127.0.0.1/"}

	h := newHarness(t, manyRequests)
	for _, u := range private {
		expectError(t, h.callWithEnvKey("POST", "/v1/webhooks", webhookBody(u, "")), 400, 2003,
			map[string]any{"field": "url", "value": u, "reason": reasonPrivate})
	}
	for _, u := range userinfo {
		expectError(t, h.callWithEnvKey("POST", "/v1/webhooks", webhookBody(u, "")), 400, 2003,
			map[string]any{"field": "url", "reason": "must not carry a user or password"})
	}
	// Public addresses and names are taken; a name is judged when it is dialled.
	for _, u := range []string{"https://example.com/hook", "http://8.8.8.8/x", "http://[2606:4700::1111]/x",
		"http://127.0.0.1.example.com/", "http://0x7f.example/", "http://1.2.3.4.5/"} {
		decode[map[string]any](t, h.callWithEnvKey("POST", "/v1/webhooks", webhookBody(u, "")), 201)
	}
	// Nor can an existing webhook be moved onto one.
	made := decode[struct{ Data struct{ ID string } }](t, h.callWithEnvKey("POST", "/v1/webhooks",
		webhookBody("https://hooks.example/in", "")), 201).Data
	expectError(t, h.callWithEnvKey("PUT", "/v1/webhooks/"+made.ID, webhookBody("http://2130706433/", "")), 400, 2003,
		map[string]any{"field": "url", "value": "http://2130706433/", "reason": reasonPrivate})

	allowing := newHarness(t, manyRequests, allowPrivateWebhooks)
	for _, u := range private {
		decode[map[string]any](t, allowing.callWithEnvKey("POST", "/v1/webhooks", webhookBody(u, "")), 201)
	}
	for _, u := range userinfo {
		expectError(t, allowing.callWithEnvKey("POST", "/v1/webhooks", webhookBody(u, "")), 400, 2003,
			map[string]any{"field": "url", "reason": "must not carry a user or password"})
	}
}

// A secret is 16 to 256 bytes, never echoed in a refusal; none lets the server make one.
func TestWebhookSecrets(t *testing.T) {
	h := newHarness(t, manyRequests)
	for i, raw := range []string{`"x"`, `"123456789012345"`, `""`, `"` + strings.Repeat("s", 257) + `"`, `12345678901234567`} {
		body := `{"url":"https://example.com/` + string(rune('a'+i)) + `","events":["voicenote.created"],"secret":` + raw + `}`
		expectError(t, h.callWithEnvKey("POST", "/v1/webhooks", body), 400, 2003,
			map[string]any{"field": "secret", "reason": reasonSecret})
	}
	type hook struct{ ID, Secret string }
	for _, secret := range []string{"1234567890123456", strings.Repeat("s", 256)} {
		got := decode[struct{ Data hook }](t, h.callWithEnvKey("POST", "/v1/webhooks",
			webhookBody("https://example.com/"+secret[:3]+strings.Repeat("x", len(secret)%7), secret)), 201).Data
		if got.Secret != secret {
			t.Errorf("secret %q, want %q", got.Secret, secret)
		}
	}
	made := decode[struct{ Data hook }](t, h.callWithEnvKey("POST", "/v1/webhooks", `{"url":"https://example.com/n","events":["voicenote.created"],"secret":null}`), 201).Data
	if len(made.Secret) < 16 {
		t.Errorf("a made secret: %q", made.Secret)
	}
	expectError(t, h.callWithEnvKey("PUT", "/v1/webhooks/"+made.ID, webhookBody("https://example.com/n", "short")), 400, 2003,
		map[string]any{"field": "secret", "reason": reasonSecret})
}

// A URL stored with a password (before userinfo was refused) is listed and shown with
// the password masked.
func TestWebhookURLShownWithoutPassword(t *testing.T) {
	h := newHarness(t, manyRequests)
	now := h.clock.Now()
	legacy := store.Webhook{ID: store.NewWebhookID(), URL: "https://alice:hunter2-secret@hooks.example/in?x=1",
		Events: []string{"voicenote.created"}, Secret: goodSecret, Active: true, CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreateWebhook(legacy); err != nil {
		t.Fatal(err)
	}
	list := h.callWithEnvKey("GET", "/v1/webhooks", "")
	one := h.callWithEnvKey("GET", "/v1/webhooks/"+legacy.ID, "")
	for _, resp := range []*json.RawMessage{ptr(decode[json.RawMessage](t, list, 200)), ptr(decode[json.RawMessage](t, one, 200))} {
		body := string(*resp)
		if strings.Contains(body, "hunter2") || !strings.Contains(body, "alice:xxxxx@hooks.example/in?x=1") {
			t.Errorf("%s", body)
		}
	}
}

func ptr[T any](v T) *T { return &v }

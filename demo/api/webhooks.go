package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vocafuse/recorder/demo/internal/random"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/webhooks"
	"github.com/vocafuse/recorder/internal/catalog"
)

// Webhooks (docs/api.md, "Webhooks"): managed with the API key and secret, in the shapes
// of VocaFuse's Node SDK (its webhooks resource); the events are recorded with the voice
// note's own transaction and sent by the dispatcher (demo/webhooks).

// Waker is told when deliveries were recorded (the dispatcher); nil in tests without one.
type Waker interface{ Wake() }

// webhookEvents are the events a webhook may subscribe to: a voice note created and
// deleted (with its transaction), transcribed or failed (when its transcription ends).
var webhookEvents = []string{"voicenote.created", "voicenote.deleted", "voicenote.transcribed", "voicenote.failed"}

const (
	maxWebhookRequest = 16 << 10
	maxWebhookURL     = 2048
	minWebhookSecret  = 16
	maxWebhookSecret  = 256
)

// The reasons of a 2003 on a webhook's url or secret.
const (
	reasonWebhookURL      = "must be an http or https URL"
	reasonWebhookUserinfo = "must not carry a user or password"
	reasonWebhookPrivate  = "must not point at a private or loopback address " +
		"(start the server with --webhook-allow-private to allow it)"
	reasonWebhookSecret = "must be a string of 16 to 256 bytes"
)

// webhookResource is a webhook as the API shows it. The secret is shown only in the
// answer that set it.
type webhookResource struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret,omitempty"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

func webhookOf(w store.Webhook, withSecret bool) webhookResource {
	res := webhookResource{ID: w.ID, URL: withoutPassword(w.URL), Events: w.Events, Active: w.Active,
		CreatedAt: w.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: w.UpdatedAt.UTC().Format(time.RFC3339)}
	if withSecret {
		res.Secret = w.Secret
	}
	return res
}

// writeWebhook answers one webhook as every single resource is answered (writeSingle).
func writeWebhook(w http.ResponseWriter, status int, res webhookResource) {
	writeSingle(w, status, res)
}

// keyed guards a route of the API key and secret: the client address's rate limit
// (as for /v1/tokens), then the credentials, as HTTP Basic or as the
// X-VocaFuse-API-Key and X-VocaFuse-API-Secret headers VocaFuse's SDKs send. A bearer
// token is not the key and secret: 1001.
func (s *Server) keyed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.allow(w, clientKey(r)) {
			return
		}
		key, secret, ok := apiCredentials(r)
		if !ok || !s.keyAccepted(key, secret) {
			writeError(w, catalog.InvalidToken, nil)
			return
		}
		next(w, r)
	}
}

// apiCredentials reads the API key and secret from HTTP Basic or the SDK headers.
func apiCredentials(r *http.Request) (key, secret string, ok bool) {
	if key, secret, ok = r.BasicAuth(); ok {
		return key, secret, true
	}
	key, secret = r.Header.Get("X-VocaFuse-API-Key"), r.Header.Get("X-VocaFuse-API-Secret")
	return key, secret, key != "" && secret != ""
}

// withoutPassword is a stored URL as answers show it: a password (kept from before
// userinfo was refused) masked.
func withoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// webhookRequest is the body of POST and PUT.
type webhookRequest struct {
	url    string
	events []string
	secret string // "": none given
}

// readWebhookRequest reads { url, events, secret } in the reference's terms: not JSON
// → 2001; no url or no events → 2002; a url that webhookTargetReason refuses, an unknown
// event → 2003 with the value as sent; a secret that is not a string of 16 to 256 bytes
// → 2003 without it (a secret is never echoed).
func readWebhookRequest(w http.ResponseWriter, r *http.Request, allowPrivate bool) (req webhookRequest, apiErr *apiError) {
	fields, apiErr := readFields(w, r, maxWebhookRequest)
	if apiErr != nil {
		return req, apiErr
	}
	raw, ok := present(fields, "url")
	if !ok || string(raw) == `""` {
		return req, missingField("url")
	}
	if json.Unmarshal(raw, &req.url) != nil {
		return req, invalidField("url", raw, reasonWebhookURL)
	}
	switch reason := webhookTargetReason(req.url, allowPrivate); reason {
	case "":
	case reasonWebhookUserinfo: // not echoed: it holds a password
		return req, &apiError{code: catalog.InvalidFieldValue, details: map[string]any{"field": "url", "reason": reason}}
	default:
		return req, invalidField("url", raw, reason)
	}
	raw, ok = present(fields, "events")
	if !ok || string(bytes.Join(bytes.Fields(raw), nil)) == "[]" {
		return req, missingField("events")
	}
	var events []json.RawMessage
	if json.Unmarshal(raw, &events) != nil {
		return req, invalidField("events", raw, "must be an array of event names")
	}
	for _, e := range events {
		var name string
		if json.Unmarshal(e, &name) != nil || !slices.Contains(webhookEvents, name) {
			return req, invalidField("events", e, "must be one of "+strings.Join(webhookEvents, ", "))
		}
		if !slices.Contains(req.events, name) {
			req.events = append(req.events, name)
		}
	}
	if raw, ok = present(fields, "secret"); ok {
		if json.Unmarshal(raw, &req.secret) != nil || len(req.secret) < minWebhookSecret || len(req.secret) > maxWebhookSecret {
			return req, &apiError{code: catalog.InvalidFieldValue, details: map[string]any{"field": "secret", "reason": reasonWebhookSecret}}
		}
	}
	return req, nil
}

// webhookTargetReason is why s may not be a webhook's URL, "" when it may: not an http(s)
// URL; a user or password in it (it would be sent, and shown, with every delivery); a
// host that is a private or loopback address, unless allowPrivate. Names other than
// localhost are judged when a delivery dials them (webhooks.NewDialer), by the
// address they resolve to then.
func webhookTargetReason(s string, allowPrivate bool) string {
	if !validWebhookURL(s) {
		return reasonWebhookURL
	}
	u, _ := url.Parse(s)
	if u.User != nil {
		return reasonWebhookUserinfo
	}
	if !allowPrivate && privateHost(u.Hostname()) {
		return reasonWebhookPrivate
	}
	return ""
}

// privateHost tells whether a URL's host is, in any spelling, an address
// webhooks.PrivateAddr refuses, or the name localhost (RFC 6761: always loopback).
func privateHost(host string) bool {
	if addr, ok := hostAddr(host); ok {
		return webhooks.PrivateAddr(addr)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}

// hostAddr reads a URL's host (without brackets) that is an IP address: IPv6, or IPv4
// in every form a URL's host may take (the URL standard's IPv4 parser, as inet_aton):
// one to four dot-separated numbers, each decimal, hex (0x) or octal (a leading 0),
// the last filling the bytes left, and one trailing dot. 127.0.0.1, 2130706433,
// 0x7f.1, 0177.0.0.1 and 127.1 are all 127.0.0.1.
func hostAddr(host string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr, true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		last := i == len(parts)-1
		if !ok || (!last && n > 255) || (last && n >= 1<<(8*(4-i))) {
			return netip.Addr{}, false
		}
		if last {
			v |= n
		} else {
			v |= n << (8 * (3 - i))
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// ipv4Number reads one part of an IPv4 host: decimal, 0x hex ("0x" alone is 0) or
// octal with a leading 0.
func ipv4Number(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		if p = p[2:]; p == "" {
			return 0, true
		}
		base = 16
	case len(p) >= 2 && p[0] == '0':
		p, base = p[1:], 8
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

func validWebhookURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && len(s) <= maxWebhookURL && (u.Scheme == "http" || u.Scheme == "https") &&
		u.Host != "" && u.Hostname() != ""
}

func newWebhookSecret() string { return "whsec_" + random.Hex(32) }

func webhookNotFound(w http.ResponseWriter, id string) {
	writeError(w, catalog.WebhookNotFound, map[string]any{"webhook_id": id})
}

func webhookExists(w http.ResponseWriter, url string) {
	writeError(w, catalog.WebhookAlreadyExists, map[string]any{"url": url})
}

// tooManyWebhooks is the answer to a webhook past store.MaxWebhooks. The catalogue has
// no quota code: 4003 would make clients wait and retry in vain, 5005 speaks of the
// URL. It is the request that cannot be taken as it stands: 400 / 2003 on url, whose
// reason says what to do.
func tooManyWebhooks(url string) *apiError {
	return invalidValue("url", url,
		"the account has "+strconv.Itoa(store.MaxWebhooks)+" webhooks, the most it may have: delete one first")
}

// createWebhook is POST /v1/webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	req, apiErr := readWebhookRequest(w, r, s.webhookAllowPrivate)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	now := s.now().UTC()
	hook := store.Webhook{ID: store.NewWebhookID(), URL: req.url, Events: req.events, Secret: req.secret,
		Active: true, CreatedAt: now, UpdatedAt: now}
	if hook.Secret == "" {
		hook.Secret = newWebhookSecret()
	}
	switch err := s.store.CreateWebhook(hook); {
	case errors.Is(err, store.ErrWebhookURLTaken):
		webhookExists(w, req.url)
	case errors.Is(err, store.ErrTooManyWebhooks):
		tooManyWebhooks(req.url).write(w)
	case err != nil:
		s.internal(w, r, "create webhook", err)
	default:
		w.Header().Set("Location", "/v1/webhooks/"+hook.ID)
		writeWebhook(w, http.StatusCreated, webhookOf(hook, true))
	}
}

// listWebhooks is GET /v1/webhooks: every webhook, oldest first, without secrets.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.store.Webhooks()
	if err != nil {
		s.internal(w, r, "list webhooks", err)
		return
	}
	data := make([]webhookResource, len(hooks))
	for i, h := range hooks {
		data[i] = webhookOf(h, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// getWebhook is GET /v1/webhooks/{id}.
func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	hook, found, err := s.store.Webhook(id)
	switch {
	case err != nil:
		s.internal(w, r, "get webhook", err)
	case !found:
		webhookNotFound(w, id)
	default:
		writeWebhook(w, http.StatusOK, webhookOf(hook, false))
	}
}

// updateWebhook is PUT /v1/webhooks/{id}: the body of POST; a secret given replaces the
// webhook's (and is shown in the answer), none keeps it.
func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req, apiErr := readWebhookRequest(w, r, s.webhookAllowPrivate)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	hook, found, err := s.store.UpdateWebhook(id, func(h *store.Webhook) {
		h.URL, h.Events, h.UpdatedAt = req.url, req.events, s.now().UTC()
		if req.secret != "" {
			h.Secret = req.secret
		}
	})
	switch {
	case errors.Is(err, store.ErrWebhookURLTaken):
		webhookExists(w, req.url)
	case err != nil:
		s.internal(w, r, "update webhook", err)
	case !found:
		webhookNotFound(w, id)
	default:
		writeWebhook(w, http.StatusOK, webhookOf(hook, req.secret != ""))
	}
}

// deleteWebhook is DELETE /v1/webhooks/{id}; its pending deliveries go with it.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	found, err := s.store.DeleteWebhook(id)
	switch {
	case err != nil:
		s.internal(w, r, "delete webhook", err)
	case !found:
		webhookNotFound(w, id)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// voiceNoteEvent renders a voice-note event for the store to record with its
// transaction: { id, event, created_at, data: the resource }. A deleted voice note's
// resource has no audio_url: there is nothing left to play.
func (s *Server) voiceNoteEvent(r *http.Request, event string) store.EventFunc {
	return func(n store.VoiceNote) (string, []byte, error) {
		res := s.resourceOf(r, n)
		if event == "voicenote.deleted" {
			res.AudioURL = "" // nothing left to play
		}
		body, err := s.eventBody(event, res)
		return event, body, err
	}
}

// eventBody is an event as every delivery of it is sent and signed.
func (s *Server) eventBody(event string, data any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]any{
		"id":         "evt_" + random.Hex(12),
		"event":      event,
		"created_at": s.now().UTC().Format(time.RFC3339),
		"data":       data,
	})
	return bytes.TrimSpace(b.Bytes()), err
}

// commitVoiceNote commits an upload with its voicenote.created event.
func (s *Server) commitVoiceNote(r *http.Request, u *store.Upload, n store.VoiceNote) (store.VoiceNote, bool, error) {
	stored, created, err := s.store.Commit(u, n, s.voiceNoteEvent(r, "voicenote.created"))
	if created && s.deliveries != nil {
		s.deliveries.Wake()
	}
	if created && s.transcripts != nil {
		s.transcripts.Wake()
	}
	return stored, created, err
}

// removeVoiceNote deletes a voice note with its voicenote.deleted event.
func (s *Server) removeVoiceNote(r *http.Request, owner store.Owner, id string) (bool, error) {
	found, err := s.store.Delete(owner, id, s.voiceNoteEvent(r, "voicenote.deleted"))
	if found && s.deliveries != nil {
		s.deliveries.Wake()
	}
	if found && s.transcripts != nil {
		s.transcripts.Drop(id)
	}
	return found, err
}

package vocafuse_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/vocafuse"
)

// Client initialization with custom options, as the README's: a longer timeout and
// more retries with a longer first backoff.
func Example_clientInitialization() {
	client := vocafuse.NewClient("sk_test_...", "secret_...",
		vocafuse.WithBaseURL("http://127.0.0.1:8080"), // the local API; the hosted one by default
		vocafuse.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}),
		vocafuse.WithRetries(5),
		vocafuse.WithBackoff(2*time.Second, 30*time.Second))
	_ = client
}

// answering is a server that answers each "METHOD /path?query" with a body and records
// what it got, headers included.
func answering(t *testing.T, answers map[string]string) (*httptest.Server, func() []*http.Request) {
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		key := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			key += "?" + r.URL.RawQuery
		}
		body, ok := answers[key]
		if !ok {
			body, ok = answers[r.Method+" "+r.URL.Path]
		}
		if !ok {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":2001,"message":"no such route"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		status, rest, _ := strings.Cut(body, " ")
		var code int
		fmt.Sscan(status, &code)
		w.WriteHeader(code)
		fmt.Fprint(w, rest)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]*http.Request(nil), got...)
	}
}

// The key and secret go in VocaFuse's headers, never as a token; a token for an
// identity goes as a bearer token, never with the secret.
func TestCredentialsAsVocaFuseSends(t *testing.T) {
	srv, got := answering(t, map[string]string{
		"GET /v1/voicenotes/n1": `200 {"data":{"id":"n1"}}`,
		"POST /v1/tokens":       `201 {"token":"tok","identity":"u","expires_in":3600,"expires_at":"2099-01-01T00:00:00Z"}`,
	})
	c := vocafuse.NewClient("sk_test_k", "s3cret", vocafuse.WithBaseURL(srv.URL))
	if _, err := c.VoiceNotes().Get(t.Context(), "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VoiceNotes("u").Get(t.Context(), "n1"); err != nil {
		t.Fatal(err)
	}
	reqs := got()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	key, mint, asUser := reqs[0], reqs[1], reqs[2]
	for _, r := range []*http.Request{key, mint} {
		if r.Header.Get("X-VocaFuse-API-Key") != "sk_test_k" || r.Header.Get("X-VocaFuse-API-Secret") != "s3cret" ||
			r.Header.Get("Authorization") != "" {
			t.Errorf("%s %s: %v", r.Method, r.URL.Path, r.Header)
		}
	}
	if asUser.Header.Get("Authorization") != "Bearer tok" || asUser.Header.Get("X-VocaFuse-API-Secret") != "" {
		t.Errorf("as the user: %v", asUser.Header)
	}
}

// A redirect to another host (a storage host for audio, say) does not carry the
// secret; one on the same host does.
func TestRedirectKeepsTheSecretHome(t *testing.T) {
	storage, stored := answering(t, map[string]string{"GET /object": `200 {}`})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/voicenotes/n1/audio":
			http.Redirect(w, r, storage.URL+"/object", http.StatusFound)
		case "/v1/voicenotes/n2":
			http.Redirect(w, r, "/v1/voicenotes/n3", http.StatusFound)
		case "/v1/voicenotes/n3":
			if r.Header.Get("X-VocaFuse-API-Secret") != "s3cret" {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":{"code":1001,"message":"Invalid or malformed token"}}`)
				return
			}
			fmt.Fprint(w, `{"data":{"id":"n3"}}`)
		}
	}))
	t.Cleanup(api.Close)
	c := vocafuse.NewClient("sk_test_k", "s3cret", vocafuse.WithBaseURL(api.URL))
	audio, err := c.VoiceNotes().Audio(t.Context(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	audio.Close()
	if r := stored(); len(r) != 1 || r[0].Header.Get("X-VocaFuse-API-Secret") != "" || r[0].Header.Get("X-VocaFuse-API-Key") != "" {
		t.Errorf("the storage host got %v", r[0].Header)
	}
	if n, err := c.VoiceNotes().Get(t.Context(), "n2"); err != nil || n.ID != "n3" {
		t.Errorf("same-host redirect: %+v %v", n, err)
	}
	// The caller's own CheckRedirect still decides.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c = vocafuse.NewClient("sk_test_k", "s3cret", vocafuse.WithBaseURL(api.URL), vocafuse.WithHTTPClient(hc))
	var e *vocafuse.Error
	if _, err := c.VoiceNotes().Get(t.Context(), "n2"); !errors.As(err, &e) || e.StatusCode != http.StatusFound {
		t.Errorf("not following: %v", err)
	}
}

// Single resources come in "data"; an answer without it (this API's first shape) is
// read from the top level.
func TestSingleResourcesInDataOrAtTheTop(t *testing.T) {
	srv, _ := answering(t, map[string]string{
		"GET /v1/voicenotes/wrapped":         `200 {"data":{"id":"wrapped","status":"processing","file_size":7}}`,
		"GET /v1/voicenotes/both":            `200 {"id":"both","size":9,"data":{"id":"both","file_size":9,"size":9}}`,
		"GET /v1/voicenotes/bare":            `200 {"id":"bare","size":5,"status":"uploaded"}`,
		"GET /v1/account":                    `200 {"id":"acc_1","plan":"free","settings":{"default_language":"en"}}`,
		"POST /v1/token":                     `201 {"jwt_token":"j","token_type":"Bearer","expires_in":60}`,
		"GET /v1/account/api-keys/a":         `200 {"data":{"id":"a","api_key":"sk","last_used_at":null}}`,
		"GET /v1/voicenotes/t/transcription": `200 {"voicenote_id":"t","text":"hi","words":[{"word":"hi","start_time":0,"end_time":0.4,"confidence":1}]}`,
	})
	c := vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL))
	ctx := t.Context()
	for id, size := range map[string]int64{"wrapped": 7, "both": 9, "bare": 5} {
		n, err := c.VoiceNotes().Get(ctx, id)
		if err != nil || n.ID != id || n.Size != size || n.FileSize != size {
			t.Errorf("%s: %+v %v", id, n, err)
		}
	}
	if acc, err := c.Account.Get(ctx); err != nil || acc.ID != "acc_1" || acc.Settings.DefaultLanguage != "en" {
		t.Errorf("%+v %v", acc, err)
	}
	if tok, err := c.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "u"}); err != nil || tok.JWTToken != "j" {
		t.Errorf("%+v %v", tok, err)
	}
	if k, err := c.APIKeys.Get(ctx, "a"); err != nil || k.Key != "sk" || k.LastUsedAt != nil {
		t.Errorf("%+v %v", k, err)
	}
	tr, err := c.VoiceNotes().Transcription(ctx, "t")
	if err != nil || tr.Text != "hi" || len(tr.Words) != 1 || tr.Words[0].EndTime != 0.4 || !strings.Contains(string(tr.Raw), `"text":"hi"`) {
		t.Errorf("%+v %v", tr, err)
	}
}

// The iterator walks numbered pages where the API numbers them, follows next_cursor
// where it does not (an older server), and stops on an empty page.
func TestPagingSchemes(t *testing.T) {
	collect := func(t *testing.T, c *vocafuse.Client, p vocafuse.ListParams) ([]string, error) {
		var ids []string
		for n, err := range c.VoiceNotes().All(context.Background(), p) {
			if err != nil {
				return ids, err
			}
			ids = append(ids, n.ID)
		}
		return ids, nil
	}
	t.Run("numbered", func(t *testing.T) {
		srv, got := answering(t, map[string]string{
			"GET /v1/voicenotes?page=0": `200 {"data":[{"id":"a"}],"pagination":{"page":0,"limit":1,"total":2,"has_more":true},"has_more":true,"next_cursor":"c1"}`,
			"GET /v1/voicenotes?page=1": `200 {"data":[{"id":"b"}],"pagination":{"page":1,"limit":1,"total":2,"has_more":false},"has_more":false,"next_cursor":null}`,
		})
		ids, err := collect(t, vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL)), vocafuse.ListParams{})
		if err != nil || fmt.Sprint(ids) != "[a b]" || len(got()) != 2 {
			t.Errorf("%v %v, %d requests", ids, err, len(got()))
		}
	})
	t.Run("cursor from an older server", func(t *testing.T) {
		srv, got := answering(t, map[string]string{
			"GET /v1/voicenotes?page=0":    `200 {"data":[{"id":"a"}],"has_more":true,"next_cursor":"c1"}`,
			"GET /v1/voicenotes?cursor=c1": `200 {"data":[{"id":"b"}],"has_more":false,"next_cursor":""}`,
		})
		ids, err := collect(t, vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL)), vocafuse.ListParams{})
		if err != nil || fmt.Sprint(ids) != "[a b]" || len(got()) != 2 {
			t.Errorf("%v %v, %d requests", ids, err, len(got()))
		}
	})
	t.Run("cursor given by the caller", func(t *testing.T) {
		srv, got := answering(t, map[string]string{
			"GET /v1/voicenotes?cursor=c1&limit=1": `200 {"data":[{"id":"b"}],"pagination":{"page":0,"limit":1,"total":3,"has_more":true},"has_more":true,"next_cursor":"c2"}`,
			"GET /v1/voicenotes?cursor=c2&limit=1": `200 {"data":[{"id":"c"}],"pagination":{"page":0,"limit":1,"total":3,"has_more":false},"has_more":false,"next_cursor":null}`,
		})
		ids, err := collect(t, vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL)), vocafuse.ListParams{Cursor: "c1", Limit: 1})
		if err != nil || fmt.Sprint(ids) != "[b c]" || len(got()) != 2 {
			t.Errorf("%v %v, %d requests", ids, err, len(got()))
		}
	})
	t.Run("empty page that claims more", func(t *testing.T) {
		srv, got := answering(t, map[string]string{
			"GET /v1/voicenotes": `200 {"data":[],"pagination":{"page":0,"limit":50,"total":3,"has_more":true}}`,
		})
		ids, err := collect(t, vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL)), vocafuse.ListParams{})
		if err != nil || len(ids) != 0 || len(got()) != 1 {
			t.Errorf("%v %v, %d requests", ids, err, len(got()))
		}
	})
	t.Run("no pagination and no cursor", func(t *testing.T) {
		srv, got := answering(t, map[string]string{"GET /v1/voicenotes": `200 {"data":[{"id":"a"}]}`})
		ids, err := collect(t, vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL)), vocafuse.ListParams{})
		if err != nil || fmt.Sprint(ids) != "[a]" || len(got()) != 1 {
			t.Errorf("%v %v, %d requests", ids, err, len(got()))
		}
	})
	t.Run("an error ends it", func(t *testing.T) {
		srv, _ := answering(t, map[string]string{
			"GET /v1/voicenotes?page=0": `200 {"data":[{"id":"a"}],"pagination":{"page":0,"limit":1,"total":2,"has_more":true}}`,
			"GET /v1/voicenotes?page=1": `400 {"error":{"code":2003,"message":"Invalid field value","details":{"field":"page"}}}`,
		})
		ids, err := collect(t, vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL)), vocafuse.ListParams{})
		if fmt.Sprint(ids) != "[a]" || !errors.Is(err, vocafuse.ErrValidation) {
			t.Errorf("%v %v", ids, err)
		}
	})
}

// Every filter goes into the query as VocaFuse's SDK sends it.
func TestListQuery(t *testing.T) {
	srv, got := answering(t, map[string]string{"GET /v1/voicenotes": `200 {"data":[]}`})
	c := vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL))
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2024, 12, 31, 23, 59, 59, 500_000_000, time.FixedZone("CET", 3600))
	_, err := c.VoiceNotes().List(t.Context(), vocafuse.ListParams{Page: 1, Limit: 20, Status: vocafuse.StatusTranscribed,
		DateFrom: from, DateTo: to, Identity: "user 42"})
	if err != nil {
		t.Fatal(err)
	}
	want := "date_from=2024-01-01T00%3A00%3A00Z&date_to=2024-12-31T22%3A59%3A59.5Z&identity=user+42&limit=20&page=1&status=transcribed"
	if q := got()[0].URL.RawQuery; q != want {
		t.Errorf("query\n%s, want\n%s", q, want)
	}
}

// An API key that is not there is 404 with 2003 (the reference has no code for it):
// ErrNotFound by its status, ErrValidation by its code.
func TestNotFoundByStatus(t *testing.T) {
	srv, _ := answering(t, map[string]string{
		"GET /v1/account/api-keys/ak_x": `404 {"error":{"code":2003,"message":"Invalid field value","details":{"field":"api_key_id","value":"ak_x"}}}`,
	})
	c := vocafuse.NewClient("k", "s", vocafuse.WithBaseURL(srv.URL))
	_, err := c.APIKeys.Get(t.Context(), "ak_x")
	if !errors.Is(err, vocafuse.ErrNotFound) || !errors.Is(err, vocafuse.ErrValidation) || errors.Is(err, vocafuse.ErrServer) {
		t.Errorf("%v", err)
	}
}

func TestVoiceNotesTakesOneIdentity(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("two identities did not panic")
		}
	}()
	vocafuse.NewClient("k", "s").VoiceNotes("a", "b")
}

// The voicenote.transcribed and voicenote.failed events carry the note's transcription,
// or why there is none.
func TestWebhookEventsOfTranscription(t *testing.T) {
	transcribed := &vocafuse.WebhookEvent{Event: "voicenote.transcribed", Data: []byte(`{"id":"n1","status":"transcribed",
		"transcription":{"id":"tr_n1","voicenote_id":"n1","text":"hello there","confidence":0.8,"language":"en-US",
		"words":[{"word":"hello","start_time":0.1,"end_time":0.4,"confidence":0.9}],"created_at":"2026-03-01T12:00:00Z"}}`)}
	n, err := transcribed.VoiceNote()
	if err != nil || n.Transcription == nil || n.Transcription.Text != "hello there" || len(n.Transcription.Words) != 1 || n.Failure != nil {
		t.Errorf("transcribed: %+v %v", n, err)
	}
	failed := &vocafuse.WebhookEvent{Event: "voicenote.failed", Data: []byte(`{"id":"n2","status":"failed",
		"error":{"code":3003,"message":"Failed to transcribe audio","details":{"voicenote_id":"n2","reason":"no speech was recognised"}}}`)}
	n, err = failed.VoiceNote()
	if err != nil || n.Failure == nil || n.Failure.Code != 3003 || n.Failure.Details["reason"] != "no speech was recognised" || n.Transcription != nil {
		t.Errorf("failed: %+v %v", n, err)
	}
}

package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The backend's view (docs/api.md, "VocaFuse's own clients"): the API key and secret,
// sent as vocafuse-node sends them, read every identity's voice notes.

// keyed is a request with the test's API key in VocaFuse's headers (and, as
// vocafuse-node sends on every call, a JSON Content-Type even without a body).
func (h *harness) keyed(method, path, body string) *http.Response {
	h.t.Helper()
	return h.do(request{method: method, path: path, body: strings.NewReader(body), header: http.Header{
		"X-Vocafuse-Api-Key": {h.creds.APIKey}, "X-Vocafuse-Api-Secret": {h.creds.APISecret},
		"Content-Type": {"application/json"}, "User-Agent": {"VocaFuse-Node-SDK/0.1.0"}}})
}

type pagination struct {
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	Total   int  `json:"total"`
	HasMore bool `json:"has_more"`
}

type numberedPage struct {
	Data       []voiceNote `json:"data"`
	Pagination pagination  `json:"pagination"`
}

// uploadNotes stores count voice notes for identity, one a minute on the harness's
// clock, and answers their ids in upload order.
func (h *harness) uploadNotes(identity string, count int, first int) []string {
	h.t.Helper()
	token := h.token(identity)
	var ids []string
	for i := range count {
		id := fmt.Sprintf("0190a0c0-5555-7000-8000-%012d", first+i)
		decode[voiceNote](h.t, h.put(id, token, makeWAV(8000, 1, float64(200+first+i)), "audio/wav"), 201)
		ids = append(ids, id)
		h.clock.Advance(time.Minute)
	}
	return ids
}

func TestBackendListsEveryIdentityInNumberedPages(t *testing.T) {
	h := newHarness(t)
	alice := h.uploadNotes("alice", 3, 0)
	bob := h.uploadNotes("bob", 2, 10)
	newestFirst := []string{bob[1], bob[0], alice[2], alice[1], alice[0]}

	// iterate() as vocafuse-node walks it: page 0, 1, … while has_more.
	var seen []string
	for page := 0; ; page++ {
		p := decode[numberedPage](t, h.keyed("GET", fmt.Sprintf("/v1/voicenotes?page=%d&limit=2", page), ""), 200)
		if p.Pagination.Page != page || p.Pagination.Limit != 2 || p.Pagination.Total != 5 {
			t.Fatalf("page %d: pagination %+v", page, p.Pagination)
		}
		for _, n := range p.Data {
			seen = append(seen, n.ID)
		}
		if !p.Pagination.HasMore {
			break
		}
		if page > 5 {
			t.Fatal("has_more never false")
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(newestFirst) {
		t.Errorf("walked %v, want %v", seen, newestFirst)
	}

	// A browser's token still sees its own identity's only, in the same pages.
	p := decode[numberedPage](t, h.get("/v1/voicenotes?page=0", h.token("alice")), 200)
	if len(p.Data) != 3 || p.Pagination.Total != 3 || p.Pagination.Limit != 50 || p.Pagination.HasMore {
		t.Errorf("alice's page: %d notes, %+v", len(p.Data), p.Pagination)
	}
	// The backend may narrow to one identity; a browser may not look at another's.
	p = decode[numberedPage](t, h.keyed("GET", "/v1/voicenotes?identity=bob", ""), 200)
	if len(p.Data) != 2 || p.Data[0].ID != bob[1] || p.Pagination.Total != 2 {
		t.Errorf("identity=bob: %+v", p)
	}
	expectError(t, h.get("/v1/voicenotes?identity=bob", h.token("alice")), 400, 2003, map[string]any{
		"field": "identity", "value": "bob", "reason": "a browser's token lists its own identity's voice notes only"})
}

func TestBackendListFiltersAreAppliedOrRefused(t *testing.T) {
	h := newHarness(t) // the clock starts at 2026-03-01T12:00:00Z, one note a minute
	ids := h.uploadNotes("alice", 3, 20)
	h.clock.Advance(48 * time.Hour)
	later := h.uploadNotes("alice", 1, 30)

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"status=processing", []string{later[0], ids[2], ids[1], ids[0]}},
		{"status=transcribed", nil},
		{"status=failed", nil},
		{"date_from=2026-03-02", later},
		{"date_to=2026-03-01", []string{ids[2], ids[1], ids[0]}},
		{"date_from=2026-03-01T12:01:00Z&date_to=2026-03-01T12:01:00Z", []string{ids[1]}},
		{"date_from=2026-03-01T13:01:00%2B01:00&date_to=2026-03-03", []string{later[0], ids[2], ids[1]}},
	} {
		p := decode[numberedPage](t, h.keyed("GET", "/v1/voicenotes?"+c.query, ""), 200)
		var got []string
		for _, n := range p.Data {
			got = append(got, n.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || p.Pagination.Total != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v", c.query, got, p.Pagination.Total, c.want)
		}
	}

	for _, c := range []struct{ query, field, value, reason string }{
		{"status=done", "status", "done", "must be one of processing, transcribed, failed"},
		{"status=", "", "", ""},
		{"date_from=yesterday", "date_from", "yesterday", "must be an RFC 3339 date (2024-01-31) or date-time (2024-01-31T12:00:00Z)"},
		{"date_to=2026-13-01", "date_to", "2026-13-01", "must be an RFC 3339 date (2024-01-31) or date-time (2024-01-31T12:00:00Z)"},
		{"date_from=2026-03-02&date_to=2026-03-01", "date_to", "2026-03-01", "must not be before date_from"},
		{"page=-1", "page", "-1", "must be an integer from 0 (the first page)"},
		{"page=one", "page", "one", "must be an integer from 0 (the first page)"},
		{"limit=101", "limit", "101", "must be an integer between 1 and 100"},
		{"page=0&cursor=abc", "cursor", "abc", "cannot be combined with page"},
	} {
		resp := h.keyed("GET", "/v1/voicenotes?"+c.query, "")
		if c.field == "" {
			decode[numberedPage](t, resp, 200) // an empty filter is no filter
			continue
		}
		expectError(t, resp, 400, 2003, map[string]any{"field": c.field, "value": c.value, "reason": c.reason})
	}
}

func TestBackendGetsAndDeletesAnyIdentitysNote(t *testing.T) {
	h := newHarness(t)
	id := h.uploadNotes("carol", 1, 40)[0]

	resp := h.keyed("GET", "/v1/voicenotes/"+id, "")
	body := decode[struct {
		Data struct {
			voiceNote
			FileSize  int64  `json:"file_size"`
			UpdatedAt string `json:"updated_at"`
		} `json:"data"`
	}](t, resp, 200)
	n := body.Data
	if n.ID != id || n.Identity != "carol" || n.Status != "processing" || n.FileSize != n.Size || n.FileSize == 0 ||
		n.UpdatedAt != n.CreatedAt || !strings.Contains(n.AudioURL, "/v1/voicenotes/"+id+"/audio?") {
		t.Errorf("GET with the key: %+v", n)
	}
	// The audio reads with the key too.
	if resp := h.keyed("GET", "/v1/voicenotes/"+id+"/audio", ""); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("audio with the key: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	expectError(t, h.keyed("GET", "/v1/voicenotes/"+id+"/transcription", ""), 404, 6002, map[string]any{"voicenote_id": id})

	// A wrong secret is 1001 on the voice-note routes, as on the key's own.
	resp = h.do(request{method: "GET", path: "/v1/voicenotes/" + id, header: http.Header{
		"X-Vocafuse-Api-Key": {h.creds.APIKey}, "X-Vocafuse-Api-Secret": {"wrong"}}})
	expectError(t, resp, 401, 1001, nil)

	if resp := h.keyed("DELETE", "/v1/voicenotes/"+id, ""); resp.StatusCode != 204 {
		t.Fatalf("DELETE with the key: %d", resp.StatusCode)
	}
	expectError(t, h.keyed("GET", "/v1/voicenotes/"+id, ""), 404, 6001, map[string]any{"voicenote_id": id})
	expectError(t, h.get("/v1/voicenotes/"+id, h.token("carol")), 404, 6001, map[string]any{"voicenote_id": id})
	expectError(t, h.keyed("DELETE", "/v1/voicenotes/"+id, ""), 404, 6001, map[string]any{"voicenote_id": id})
}

func TestAccessTokenAsVocaFuseNodeGeneratesIt(t *testing.T) {
	h := newHarness(t)
	resp := h.keyed("POST", "/v1/token", `{"user_id":"user_42","expires_in":900,"scopes":["voice-api.upload_voicenote"]}`)
	body := decode[struct {
		Data struct {
			JWT       string `json:"jwt_token"`
			IDToken   string `json:"id_token"`
			Type      string `json:"token_type"`
			ExpiresIn int    `json:"expires_in"`
			Identity  string `json:"identity"`
			ExpiresAt string `json:"expires_at"`
		} `json:"data"`
	}](t, resp, 201)
	d := body.Data
	if d.Type != "Bearer" || d.IDToken != d.JWT || d.ExpiresIn != 900 || d.Identity != "user_42" || d.ExpiresAt != "2026-03-01T12:15:00Z" {
		t.Errorf("token answer %+v", d)
	}
	claims, err := h.issuer.Verify(d.JWT)
	if err != nil || claims.Identity != "user_42" {
		t.Fatalf("jwt_token: %v %+v", err, claims)
	}
	// An upload scope uploads; it does not read.
	decode[voiceNote](t, h.put("0190a0c0-6666-7000-8000-000000000001", d.JWT, makeWAV(8000, 1, 300), "audio/wav"), 201)
	expectError(t, h.get("/v1/voicenotes", d.JWT), 403, 1003, nil)

	for _, c := range []struct {
		body    string
		code    int
		details map[string]any
	}{
		{`{"user_id":`, 2001, nil},
		{`{}`, 2002, map[string]any{"field": "user_id"}},
		{`{"identity":"user_42"}`, 2002, map[string]any{"field": "user_id"}},
		{`{"user_id":42}`, 2003, map[string]any{"field": "user_id", "value": json.Number("42"),
			"reason": "must be a string of 1 to 128 characters, not only spaces"}},
		{`{"user_id":"u","expires_in":30}`, 2003, map[string]any{"field": "expires_in", "value": json.Number("30"),
			"reason": "must be an integer between 60 and 86400"}},
		{`{"user_id":"u","scopes":["voice-api.admin"]}`, 2003, map[string]any{"field": "scopes", "value": []any{"voice-api.admin"},
			"reason": "must name scopes among voicenotes:read, voicenotes:write, voice-api.upload_voicenote, voice-api.upload, voice-api.read_voicenote"}},
		{`{"user_id":"u","scopes":[]}`, 2003, map[string]any{"field": "scopes", "value": []any{},
			"reason": "must name scopes among voicenotes:read, voicenotes:write, voice-api.upload_voicenote, voice-api.upload, voice-api.read_voicenote"}},
	} {
		resp := h.keyed("POST", "/v1/token", c.body)
		status := 400
		expectError(t, resp, status, c.code, c.details)
	}
	// A browser's token is not the key.
	resp = h.do(request{method: "POST", path: "/v1/token", token: h.token("user_42"), body: strings.NewReader(`{"user_id":"x"}`)})
	expectError(t, resp, 401, 1001, nil)
}

package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// writeSingle answers the resource's members at the top level and the whole resource under
// "data", byte for byte the same, the & of a signed URL unescaped.
func TestWriteSingle(t *testing.T) {
	type res struct {
		ID       string          `json:"id"`
		URL      string          `json:"audio_url,omitempty"`
		Metadata json.RawMessage `json:"metadata"`
	}
	cases := []struct {
		res  any
		want string
	}{
		{res{ID: "a", URL: "https://h/x?a=1&b=<2>", Metadata: json.RawMessage(`{"n":12345678901234567890}`)},
			`{"id":"a","audio_url":"https://h/x?a=1&b=<2>","metadata":{"n":12345678901234567890},"data":{"id":"a","audio_url":"https://h/x?a=1&b=<2>","metadata":{"n":12345678901234567890}}}`},
		{struct{}{}, `{"data":{}}`},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		writeSingle(w, 201, c.res)
		if got := w.Body.String(); w.Code != 201 || got != c.want+"\n" || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%d %q, want %q", w.Code, got, c.want)
		}
	}
}

package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestAudioRangeRequests(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	wavBytes := makeWAV(8000, 2, 440)
	v := decode[voiceNote](t, h.put(noteID, token, wavBytes, "audio/wav"), 201)

	whole := h.get("/v1/voicenotes/"+noteID+"/audio", token)
	body, _ := io.ReadAll(whole.Body)
	if whole.StatusCode != 200 || !bytes.Equal(body, wavBytes) || whole.Header.Get("Content-Type") != "audio/wav" ||
		whole.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("whole: %d %v, %d bytes", whole.StatusCode, whole.Header, len(body))
	}
	for _, tc := range []struct {
		rangeHeader string
		from, to    int
	}{
		{"bytes=100-199", 100, 200},
		{"bytes=-50", len(wavBytes) - 50, len(wavBytes)},
		{"bytes=30000-", 30000, len(wavBytes)},
	} {
		// Through the signed URL, as an <audio> element seeks.
		resp := h.do(request{method: "GET", path: pathOf(t, v.AudioURL), header: http.Header{"Range": {tc.rangeHeader}}})
		part, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 206 || !bytes.Equal(part, wavBytes[tc.from:tc.to]) {
			t.Errorf("%s: %d, %d bytes", tc.rangeHeader, resp.StatusCode, len(part))
		}
	}
	resp := h.do(request{method: "GET", path: "/v1/voicenotes/" + noteID + "/audio", token: token,
		header: http.Header{"Range": {"bytes=999999-"}}})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %d", resp.StatusCode)
	}
	head := h.do(request{method: "HEAD", path: pathOf(t, v.AudioURL)})
	if head.StatusCode != 200 || head.ContentLength != int64(len(wavBytes)) {
		t.Errorf("HEAD: %d, length %d", head.StatusCode, head.ContentLength)
	}
}

// pathOf is a URL's path and query, for the harness.
func pathOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func TestAudioURLExpiresAndCannotBeAltered(t *testing.T) {
	h := newHarness(t)
	token := h.token("user_42")
	decode[voiceNote](t, h.put(noteID, token, makeWAV(8000, 1, 440), "audio/wav"), 201)
	other := "0190a0c0-1111-7000-8000-000000000002"
	decode[voiceNote](t, h.put(other, token, makeWAV(8000, 1, 660), "audio/wav"), 201)
	v := decode[voiceNote](t, h.get("/v1/voicenotes/"+noteID, token), 200)
	signed, _ := url.Parse(v.AudioURL)
	q := signed.Query()

	resp := h.do(request{method: "GET", path: signed.RequestURI()})
	if resp.StatusCode != 200 {
		t.Fatalf("the signed URL: %d", resp.StatusCode)
	}
	altered := func(change func(q url.Values) (path string)) string {
		c := url.Values{}
		for k, vs := range q {
			c[k] = append([]string(nil), vs...)
		}
		path := change(c)
		return path + "?" + c.Encode()
	}
	notFound := map[string]any{"voicenote_id": noteID}
	cases := map[string]struct {
		path    string
		details map[string]any
	}{
		"signature changed": {altered(func(c url.Values) string {
			s := []byte(c.Get("signature"))
			s[0] ^= 1
			c.Set("signature", string(s))
			return signed.Path
		}), notFound},
		"expiry pushed back": {altered(func(c url.Values) string { c.Set("expires", "99999999999"); return signed.Path }), notFound},
		"owner changed": {altered(func(c url.Values) string {
			c.Set("owner", "00000000000000000000000000000000")
			return signed.Path
		}), notFound},
		"another voice note's id": {altered(func(url.Values) string { return "/v1/voicenotes/" + other + "/audio" }),
			map[string]any{"voicenote_id": other}},
		"no signature at all, no token": {signed.Path, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp := h.do(request{method: "GET", path: tc.path})
			if tc.details == nil {
				expectError(t, resp, 401, 1001, nil)
				return
			}
			expectError(t, resp, 404, 6001, tc.details)
		})
	}
	t.Run("expired", func(t *testing.T) {
		h.clock.Advance(15*time.Minute + time.Second)
		expectError(t, h.do(request{method: "GET", path: signed.RequestURI()}), 404, 6001, notFound)
	})
}

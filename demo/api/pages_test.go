package api

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vocafuse/recorder/demo/web"
)

// Issue 24, 10: a directory of the SDK is an unknown route in the envelope, never a listing.
func TestSDKDirectoryIsAnUnknownRoute(t *testing.T) {
	sdk := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sdk, "worklets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sdk, "vocafuse.mjs"), []byte("export {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewHandler(Config{Pages: web.Pages(sdk, "")})
	const want = `{"code":2001,"details":{"reason":"no such route"},"message":"Request body is malformed"}`
	for _, path := range []string{"/sdk/", "/sdk/worklets/", "/sdk/worklets"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var got struct{ Error json.RawMessage }
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != 404 || string(got.Error) != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s %q, want 404 and the error %s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), want)
		}
	}
}

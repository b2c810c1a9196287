package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSDKCachesByContent(t *testing.T) {
	dir := t.TempDir()
	wasm := []byte("\x00asm\x01\x00\x00\x00 the recorder")
	if err := os.WriteFile(filepath.Join(dir, "vocafuse.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocafuse.wasm.br"), []byte("brotli bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])[:16]
	h := SDK(dir)
	get := func(url string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", url, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	versioned := get("/vocafuse.wasm?v="+hash, map[string]string{"Accept-Encoding": "br"})
	if got := versioned.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("the URL naming the content: Cache-Control %q", got)
	}
	if got := versioned.Header().Get("Content-Encoding"); got != "br" || versioned.Body.String() != "brotli bytes" {
		t.Errorf("the brotli twin not sent: encoding %q, body %q", got, versioned.Body.String())
	}
	if got := versioned.Header().Get("ETag"); got != `"`+hash+`-br"` {
		t.Errorf("ETag %q", got)
	}
	if got := versioned.Header().Get("Content-Type"); got != "application/wasm" {
		t.Errorf("Content-Type %q: no streaming compilation", got)
	}

	for _, url := range []string{"/vocafuse.wasm", "/vocafuse.wasm?v=0123456789abcdef"} {
		plain := get(url, nil)
		if got := plain.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache (a stale or missing version is revalidated)", url, got)
		}
		if plain.Body.String() != string(wasm) || plain.Header().Get("ETag") != `"`+hash+`"` {
			t.Errorf("%s: identity body %q, ETag %q", url, plain.Body.String(), plain.Header().Get("ETag"))
		}
	}

	again := get("/vocafuse.wasm", map[string]string{"If-None-Match": `"` + hash + `"`})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("revalidation with the ETag: %d and %d bytes, want 304 and none", again.Code, again.Body.Len())
	}

	// A rebuilt file (its size and time change) is a new hash at once.
	if err := os.WriteFile(filepath.Join(dir, "vocafuse.wasm"), append(wasm, '!'), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := get("/vocafuse.wasm?v="+hash, nil).Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("the old version's URL after a rebuild: Cache-Control %q, want no-cache", got)
	}
}

// Issue 24, 10: no directory is listed, under /sdk/, /test/ or /: one without an
// index.html is not found; one with it (the demo page, a test app) serves that.
func TestNoDirectoryListings(t *testing.T) {
	sdk, test := t.TempDir(), t.TempDir()
	for file, content := range map[string]string{
		sdk + "/vocafuse.mjs":            "export {}",
		sdk + "/worklets/capture.js":     "// worklet",
		test + "/index.html":             "<title>test app</title>",
		test + "/pages/recorder.html":    "<title>recorder</title>",
		test + "/pages/generated/a.wasm": "\x00asm",
	} {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pages := Pages(sdk, test)
	for path, want := range map[string]int{
		"/sdk/":                     404,
		"/sdk/worklets/":            404,
		"/sdk/worklets":             404, // not a redirect to the listing
		"/test/pages/":              404,
		"/test/pages/generated/":    404,
		"/test/pages":               404,
		"/sdk/vocafuse.mjs":         200,
		"/sdk/worklets/capture.js":  200,
		"/test/":                    200, // its index.html
		"/test/pages/recorder.html": 200,
		"/":                         200, // the demo page
	} {
		rec := httptest.NewRecorder()
		pages.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
		if body := rec.Body.String(); strings.Contains(body, "<pre>\n<a href=") {
			t.Errorf("GET %s lists a directory: %s", path, body)
		}
	}
}

// The SDK's types are sent as TypeScript, whatever the system's MIME table says of .ts.
func TestSDKSendsTypesAsTypeScript(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vocafuse.d.ts"), []byte("export declare class VocaFuse {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	SDK(dir).ServeHTTP(rec, httptest.NewRequest("GET", "/vocafuse.d.ts", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/typescript; charset=utf-8" {
		t.Errorf("Content-Type %q, want application/typescript; charset=utf-8", got)
	}
}

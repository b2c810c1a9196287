package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

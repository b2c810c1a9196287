// Package web serves the demo page (embedded in the binary) and the built SDK's files.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// Pages serves the demo at /, the SDK from sdkDir under /sdk/, and, for the browser
// tests only, testDir under /test/ when it is set.
func Pages(sdkDir, testDir string) http.Handler {
	mux := http.NewServeMux()
	page, _ := fs.Sub(static, "static")
	mux.Handle("GET /", http.FileServerFS(page))
	mux.Handle("GET /sdk/", http.StripPrefix("/sdk/", SDK(sdkDir)))
	if testDir != "" {
		mux.Handle("GET /test/", http.StripPrefix("/test/", noCache(http.FileServer(http.Dir(testDir)))))
	}
	return mux
}

func init() {
	// Browsers only stream-compile a module sent as application/wasm.
	_ = mime.AddExtensionType(".wasm", "application/wasm")
	_ = mime.AddExtensionType(".mjs", "text/javascript")
}

// SDK serves the built SDK. Where the build left a precompressed twin (.br, .gz) and the
// browser accepts it, the twin is sent: the wasm is most of what a visitor downloads.
func SDK(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return noCache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean("/" + r.URL.Path)
		w.Header().Add("Vary", "Accept-Encoding")
		accepts := r.Header.Get("Accept-Encoding")
		for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
			if !acceptsEncoding(accepts, enc.token) {
				continue
			}
			compressed := filepath.Join(dir, filepath.FromSlash(name)+enc.ext)
			if _, err := os.Stat(compressed); err != nil {
				continue
			}
			if ctype := mime.TypeByExtension(path.Ext(name)); ctype != "" {
				w.Header().Set("Content-Type", ctype)
			}
			w.Header().Set("Content-Encoding", enc.token)
			http.ServeFile(w, r, compressed)
			return
		}
		files.ServeHTTP(w, r)
	}))
}

func acceptsEncoding(header, token string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		q, found := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !found {
			return true
		}
		weight, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		return err == nil && weight > 0
	}
	return false
}

// noCache makes the browser revalidate, so a rebuilt SDK is picked up at once.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

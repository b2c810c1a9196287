// Package web serves the demo page (embedded in the binary) and the built SDK's files.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// Pages serves the demo at /, the SDK from sdkDir under /sdk/, and, for the browser
// tests only, testDir under /test/ when it is set.
func Pages(sdkDir, testDir string) http.Handler {
	mux := http.NewServeMux()
	page, _ := fs.Sub(static, "static")
	mux.Handle("GET /", http.FileServer(noListings{http.FS(page)}))
	mux.Handle("GET /sdk/", http.StripPrefix("/sdk/", SDK(sdkDir)))
	if testDir != "" {
		mux.Handle("GET /test/", http.StripPrefix("/test/", noCache(http.FileServer(noListings{http.Dir(testDir)}))))
	}
	return mux
}

func init() {
	// Browsers only stream-compile a module sent as application/wasm.
	_ = mime.AddExtensionType(".wasm", "application/wasm")
	_ = mime.AddExtensionType(".mjs", "text/javascript")
	// The SDK's types (.d.ts): TypeScript, not the type Debian's table gives .ts
	// (text/vnd.trolltech.linguist, Qt's translation files).
	_ = mime.AddExtensionType(".ts", "application/typescript; charset=utf-8")
}

// SDK serves the built SDK. Where the build left a precompressed twin (.br, .gz) and the
// browser accepts it, the twin is sent: the wasm is most of what a visitor downloads.
// Each file has a strong ETag from its content. A URL that names the file's content hash
// (?v=, as the shim's own URLs do) may be kept by browsers for a year without asking
// again; any other is revalidated, so a rebuilt SDK is picked up at once.
func SDK(dir string) http.Handler {
	files := http.FileServer(noListings{http.Dir(dir)})
	hashes := &contentHashes{seen: map[string]hashed{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean("/" + r.URL.Path)
		full := filepath.Join(dir, filepath.FromSlash(name))
		h := w.Header()
		h.Add("Vary", "Accept-Encoding")
		h.Set("Cache-Control", "no-cache")
		hash := hashes.of(full)
		if hash != "" && r.URL.Query().Get("v") == hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		accepts := r.Header.Get("Accept-Encoding")
		for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
			if !acceptsEncoding(accepts, enc.token) {
				continue
			}
			compressed := full + enc.ext
			if _, err := os.Stat(compressed); err != nil {
				continue
			}
			if ctype := mime.TypeByExtension(path.Ext(name)); ctype != "" {
				h.Set("Content-Type", ctype)
			}
			h.Set("Content-Encoding", enc.token)
			if hash != "" {
				h.Set("ETag", `"`+hash+"-"+enc.token+`"`) // one per representation
			}
			http.ServeFile(w, r, compressed)
			return
		}
		if hash != "" {
			h.Set("ETag", `"`+hash+`"`)
		}
		files.ServeHTTP(w, r)
	})
}

// contentHashes remembers each file's hash for as long as its size and time stay the same.
type contentHashes struct {
	mu   sync.Mutex
	seen map[string]hashed
}

type hashed struct {
	size int64
	mod  time.Time
	hash string
}

// of answers the first 16 hex digits of the file's SHA-256 (what js/build.mjs writes into
// the shim's URLs), or "" for what is not a regular file.
func (c *contentHashes) of(file string) string {
	info, err := os.Stat(file)
	if err != nil || !info.Mode().IsRegular() {
		return ""
	}
	c.mu.Lock()
	known, ok := c.seen[file]
	c.mu.Unlock()
	if ok && known.size == info.Size() && known.mod.Equal(info.ModTime()) {
		return known.hash
	}
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return ""
	}
	hash := hex.EncodeToString(sum.Sum(nil))[:16]
	c.mu.Lock()
	c.seen[file] = hashed{size: info.Size(), mod: info.ModTime(), hash: hash}
	c.mu.Unlock()
	return hash
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

// noListings serves a directory only through its index.html (the demo page, a test
// app): a directory without one is not found, as an unknown route, never listed.
type noListings struct{ http.FileSystem }

func (fsys noListings) Open(name string) (http.File, error) {
	f, err := fsys.FileSystem.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && info.IsDir() && !hasIndex(fsys.FileSystem, name) {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func hasIndex(fsys http.FileSystem, dir string) bool {
	index, err := fsys.Open(path.Join(dir, "index.html"))
	if err != nil {
		return false
	}
	defer index.Close()
	info, err := index.Stat()
	return err == nil && info.Mode().IsRegular()
}

// noCache makes the browser revalidate, so a rebuilt SDK is picked up at once.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

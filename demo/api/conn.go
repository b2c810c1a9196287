package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// The timeouts of every phase of a connection. A request's body has its own bounds
// (uploads: UploadGrace, UploadMinRate, UploadTimeout) and an answer may take longer
// where the route says so (the audio); these are for everything else.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 64 << 10
)

// HTTPServer returns the http.Server to serve s with: every phase bounded in time, its
// own error log going through the structured log, and no built-in answers that would
// bypass the handler (OPTIONS *).
func (s *Server) HTTPServer() *http.Server {
	hs := &http.Server{Handler: s}
	s.ConfigureHTTPServer(hs)
	return hs
}

// ConfigureHTTPServer sets hs's timeouts and error log (for a server made elsewhere,
// such as httptest's).
func (s *Server) ConfigureHTTPServer(hs *http.Server) {
	hs.ReadHeaderTimeout = readHeaderTimeout
	hs.ReadTimeout = readTimeout
	hs.WriteTimeout = writeTimeout
	hs.IdleTimeout = idleTimeout
	hs.MaxHeaderBytes = maxHeaderBytes
	hs.DisableGeneralOptionsHandler = true
	hs.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
}

// Listener wraps l for serving s. At most MaxConns connections are open at once: one
// past it gets 503 / 5002 and is closed at once, so the server's file descriptors stay
// bounded whatever the clients do. And net/http's own answers to requests it cannot
// parse (400, 431, 501: plain text, written before any handler runs) are replaced by the
// API's envelope and logged like every other request.
func (s *Server) Listener(l net.Listener) net.Listener {
	return &boundedListener{Listener: l, s: s, max: int64(s.maxConns)}
}

type boundedListener struct {
	net.Listener
	s    *Server
	max  int64
	open atomic.Int64
}

// Open is the number of connections open now.
func (l *boundedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.refuse(c)
			continue
		}
		return &trackedConn{Conn: c, l: l}, nil
	}
}

// refuse answers a connection past the cap without reading it, and closes it.
func (l *boundedListener) refuse(c net.Conn) {
	start := time.Now()
	id := newRequestID()
	body := envelope(catalog.ServiceUnavailable, nil)
	_ = c.SetWriteDeadline(start.Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Retry-After: 1\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n%s",
		len(body), id, body)
	_ = c.Close()
	l.s.log.Warn("request", "status", 503, "refused", "too many connections", "max_conns", l.max,
		"remote", c.RemoteAddr().String(), "duration_ms", time.Since(start).Milliseconds(), "request_id", id)
}

type trackedConn struct {
	net.Conn
	l     *boundedListener
	close sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.close.Do(func() { c.l.open.Add(-1) })
	return err
}

// cannedErrorHeaders is how net/http writes its own error answers (net/http/server.go):
// "HTTP/1.1 <status>" + these headers + a plain-text body, in one write to the
// connection. An answer of a handler always has a Date header, so it never matches.
const cannedErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *trackedConn) Write(b []byte) (int, error) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) {
		return c.Conn.Write(b)
	}
	statusLine, rest, ok := bytes.Cut(b, []byte(cannedErrorHeaders))
	if !ok || bytes.Contains(statusLine, []byte("\r\n")) || len(statusLine) < 12 {
		return c.Conn.Write(b)
	}
	status, err := strconv.Atoi(string(statusLine[9:12]))
	if err != nil {
		return c.Conn.Write(b)
	}
	id := newRequestID()
	reason := string(rest)
	if _, after, found := bytes.Cut(rest, []byte(": ")); found {
		reason = string(after)
	}
	body := envelope(catalog.InvalidRequestFormat, map[string]any{"reason": reason})
	// Logged before the answer goes out, so that whoever has read the answer finds its line.
	c.l.s.log.Info("request", "status", status, "malformed", reason, "remote", c.RemoteAddr().String(), "request_id", id)
	_, err = fmt.Fprintf(c.Conn, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"X-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), id, body)
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// envelope is the error envelope's bytes, for answers written outside a handler.
func envelope(code catalog.Code, details map[string]any) []byte {
	entry, _ := catalog.Lookup(code)
	e := map[string]any{"code": entry.APICode, "message": entry.Message}
	if details != nil {
		e["details"] = details
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{"error": e})
	return buf.Bytes()
}

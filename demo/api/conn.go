package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
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

// ConfigureHTTPServer sets hs's timeouts, error log and the hook that tells Listener
// which connections are idle (for a server made elsewhere, such as httptest's, which
// keeps the hook).
func (s *Server) ConfigureHTTPServer(hs *http.Server) {
	hs.ReadHeaderTimeout = readHeaderTimeout
	hs.ReadTimeout = readTimeout
	hs.WriteTimeout = writeTimeout
	hs.IdleTimeout = idleTimeout
	hs.MaxHeaderBytes = maxHeaderBytes
	hs.DisableGeneralOptionsHandler = true
	hs.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	hs.ConnState = trackConnState
}

// Listener wraps l for serving s. At most MaxConns connections are open at once, and at
// most MaxConnsPerClient from one client address (connTable), so the server's file
// descriptors stay bounded whatever the clients do and one client cannot take them all.
// At either cap an idle keep-alive connection is closed to make room before a new one is
// refused; a refused one gets 503 / 5002 and is closed at once. And net/http's own answers
// to requests it cannot parse (400, 431, 501: plain text, written before any handler runs)
// are replaced by the API's envelope and logged like every other request.
func (s *Server) Listener(l net.Listener) net.Listener {
	perClient := s.maxConnsPerClient
	if perClient <= 0 {
		perClient = DefaultMaxConnsPerClient(s.maxConns)
	}
	return &boundedListener{Listener: l, s: s, conns: newConnTable(s.maxConns, perClient)}
}

// DefaultMaxConnsPerClient is a quarter of maxConns: a client address may hold many (a
// browser's, a load test's, an office behind one NAT), never all; at least 1.
func DefaultMaxConnsPerClient(maxConns int) int { return max(1, maxConns/4) }

type boundedListener struct {
	net.Listener
	s     *Server
	conns *connTable
}

func (l *boundedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, l: l, client: clientOf(c.RemoteAddr())}
		victim, refusal := l.conns.admit(tc)
		if refusal != "" {
			l.refuse(c, refusal)
			continue
		}
		if victim != nil {
			// Closing an idle connection ends its server goroutine's wait for a request;
			// a client that was about to reuse it retries on a new one, as after IdleTimeout.
			_ = victim.Close()
			l.s.log.Info("closed an idle connection to make room", "remote", victim.RemoteAddr().String(),
				"for", c.RemoteAddr().String())
		}
		return tc, nil
	}
}

// refuse answers a connection past a cap without reading it, and closes it.
func (l *boundedListener) refuse(c net.Conn, why string) {
	start := time.Now()
	id := newRequestID()
	body := envelope(catalog.ServiceUnavailable, nil)
	_ = c.SetWriteDeadline(start.Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Retry-After: 1\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n%s",
		len(body), id, body)
	_ = c.Close()
	l.s.log.Warn("request", "status", 503, "refused", why, "max_conns", l.conns.max,
		"max_conns_per_client", l.conns.perClient, "remote", c.RemoteAddr().String(),
		"duration_ms", time.Since(start).Milliseconds(), "request_id", id)
}

type trackedConn struct {
	net.Conn
	l      *boundedListener
	client netip.Addr

	// Guarded by the table's mutex.
	counted   bool      // still counted in the table (false once closed or evicted)
	idleSince time.Time // zero unless between requests
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.l.conns.release(c)
	return err
}

// trackConnState is the http.Server's ConnState hook: it tells the table which
// connections wait between requests, the ones it may close to make room.
func trackConnState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*trackedConn); ok {
		tc.l.conns.setIdle(tc, state == http.StateIdle, time.Now())
	}
}

// clientOf is the address a connection is counted against: an IPv4 address, or an IPv6
// address's /64 (one host's usual share; its interface bits cost nothing to vary). Every
// address of 127.0.0.0/8 is its own client.
func clientOf(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.Addr()
	}
	return ip
}

// connTable counts open connections, in total and per client, and decides which new one
// is let in, which idle one is closed to make room, and which is refused.
type connTable struct {
	max, perClient int

	mu      sync.Mutex
	total   int
	clients map[netip.Addr]*clientConns
}

type clientConns struct {
	open int
	idle map[*trackedConn]struct{}
}

func newConnTable(max, perClient int) *connTable {
	if perClient <= 0 || perClient > max {
		perClient = max
	}
	return &connTable{max: max, perClient: perClient, clients: map[netip.Addr]*clientConns{}}
}

// admit counts c in, or answers why it is refused. To stay within a cap it may take an
// idle connection out (victim, for the caller to close): at the client's own cap, that
// client's longest idle; at the total cap, the longest idle of the client holding the most
// connections among those with one idle. Connections in a request are never taken.
func (t *connTable) admit(c *trackedConn) (victim *trackedConn, refusal string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	mine := t.clients[c.client]
	switch {
	case mine != nil && mine.open >= t.perClient:
		if victim = longestIdle(mine); victim == nil {
			return nil, "too many connections from this client"
		}
	case t.total >= t.max:
		var most *clientConns
		for _, cl := range t.clients {
			if len(cl.idle) > 0 && (most == nil || cl.open > most.open) {
				most = cl
			}
		}
		if most == nil {
			return nil, "too many connections"
		}
		victim = longestIdle(most)
	}
	if victim != nil {
		t.forget(victim)
	}
	if mine = t.clients[c.client]; mine == nil { // forget may have dropped it
		mine = &clientConns{idle: map[*trackedConn]struct{}{}}
		t.clients[c.client] = mine
	}
	mine.open++
	t.total++
	c.counted = true
	return victim, ""
}

func longestIdle(cl *clientConns) *trackedConn {
	var oldest *trackedConn
	for c := range cl.idle {
		if oldest == nil || c.idleSince.Before(oldest.idleSince) {
			oldest = c
		}
	}
	return oldest
}

// release takes a closed connection out (again: a no-op).
func (t *connTable) release(c *trackedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(c)
}

func (t *connTable) forget(c *trackedConn) {
	if !c.counted {
		return
	}
	c.counted = false
	cl := t.clients[c.client]
	delete(cl.idle, c)
	cl.open--
	t.total--
	if cl.open == 0 {
		delete(t.clients, c.client)
	}
}

func (t *connTable) setIdle(c *trackedConn, idle bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !c.counted {
		return
	}
	cl := t.clients[c.client]
	if idle {
		c.idleSince = now
		cl.idle[c] = struct{}{}
	} else {
		c.idleSince = time.Time{}
		delete(cl.idle, c)
	}
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

package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// connServer serves NewHandler(c) through Listener, as main does, and answers its address
// and the listener's table of connections (which the tests wait on).
func connServer(t *testing.T, c Config) (string, *connTable) {
	t.Helper()
	s := NewHandler(c)
	ts := httptest.NewUnstartedServer(s)
	s.ConfigureHTTPServer(ts.Config)
	bounded := s.Listener(ts.Listener).(*boundedListener)
	ts.Listener = bounded
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String(), bounded.conns
}

// dialFrom opens a connection from ip, one of loopback's many addresses.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// health sends GET /v1/health on c, keeping it alive, and answers the status and body.
func health(c net.Conn, r *bufio.Reader) (int, string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitFor polls the table (bounded) until cond holds of it.
func waitFor(t *testing.T, table *connTable, what string, cond func(total int, clients map[netip.Addr]*clientConns) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		table.mu.Lock()
		ok := cond(table.total, table.clients)
		total := table.total
		table.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s, still not %s (%d open)", what, total)
		}
		time.Sleep(time.Millisecond)
	}
}

func idleOf(clients map[netip.Addr]*clientConns, ip string) (open, idle int) {
	if cl := clients[netip.MustParseAddr(ip)]; cl != nil {
		return cl.open, len(cl.idle)
	}
	return 0, 0
}

const serviceUnavailable = `{"error":{"code":5002,"message":"Service temporarily unavailable"}}`

// Issue 24, 1: one address holding every keep-alive connection it may, another is answered.
func TestOneClientCannotTakeEveryConnection(t *testing.T) {
	const maxConns = 64
	addr, table := connServer(t, Config{MaxConns: maxConns}) // a quarter, 16, per client
	for i := range maxConns {
		c := dialFrom(t, "127.0.0.1", addr)
		if status, body, err := health(c, bufio.NewReader(c)); err != nil || status != 200 {
			t.Fatalf("127.0.0.1's connection %d: %d %s %v", i, status, body, err)
		}
	}
	waitFor(t, table, "127.0.0.1's connections all idle", func(_ int, clients map[netip.Addr]*clientConns) bool {
		open, idle := idleOf(clients, "127.0.0.1")
		return open == idle
	})
	other := dialFrom(t, "127.0.0.2", addr)
	if status, body, err := health(other, bufio.NewReader(other)); err != nil || status != 200 {
		t.Fatalf("127.0.0.2 beside 127.0.0.1's connections: %d %s %v", status, body, err)
	}
	// Each of its connections past 16 took the place of its own longest idle one.
	table.mu.Lock()
	open, _ := idleOf(table.clients, "127.0.0.1")
	total := table.total
	table.mu.Unlock()
	if open != 16 || total != 17 {
		t.Errorf("127.0.0.1 holds %d connections of %d, want 16 of 17", open, total)
	}
}

// At the total cap, the idle connection closed is the longest idle of the client holding
// the most.
func TestIdleConnectionClosedAtTheCap(t *testing.T) {
	const maxConns = 64
	addr, table := connServer(t, Config{MaxConns: maxConns, MaxConnsPerClient: maxConns})
	var first net.Conn
	for i := range maxConns - 4 {
		c := dialFrom(t, "127.0.0.1", addr)
		if status, body, err := health(c, bufio.NewReader(c)); err != nil || status != 200 {
			t.Fatalf("127.0.0.1's connection %d: %d %s %v", i, status, body, err)
		}
		if i == 0 {
			first = c
		}
	}
	for i := range 4 {
		c := dialFrom(t, "127.0.0.3", addr)
		if status, body, err := health(c, bufio.NewReader(c)); err != nil || status != 200 {
			t.Fatalf("127.0.0.3's connection %d: %d %s %v", i, status, body, err)
		}
	}
	waitFor(t, table, "every connection idle", func(total int, clients map[netip.Addr]*clientConns) bool {
		_, idle1 := idleOf(clients, "127.0.0.1")
		_, idle3 := idleOf(clients, "127.0.0.3")
		return total == maxConns && idle1 == maxConns-4 && idle3 == 4
	})
	other := dialFrom(t, "127.0.0.2", addr)
	if status, body, err := health(other, bufio.NewReader(other)); err != nil || status != 200 {
		t.Fatalf("127.0.0.2 at the cap: %d %s %v", status, body, err)
	}
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := first.Read(make([]byte, 1)); err == nil {
		t.Errorf("127.0.0.1's longest idle connection still open (read %d bytes)", n)
	}
	waitFor(t, table, "one of 127.0.0.1's connections closed", func(total int, clients map[netip.Addr]*clientConns) bool {
		open1, _ := idleOf(clients, "127.0.0.1")
		open3, _ := idleOf(clients, "127.0.0.3")
		return total == maxConns && open1 == maxConns-5 && open3 == 4
	})
}

// A connection in a request is never closed to make room: past the caps, with none idle,
// a new connection is answered 503 / 5002 and closed.
func TestBusyConnectionsKeepTheirPlace(t *testing.T) {
	addr, table := connServer(t, Config{MaxConns: 8, MaxConnsPerClient: 4})
	busy := func(ip string) {
		c := dialFrom(t, ip, addr)
		if _, err := io.WriteString(c, "GET /v1/health HTTP/1.1\r\n"); err != nil { // headers under way
			t.Fatal(err)
		}
	}
	refused := func(ip string) {
		t.Helper()
		c := dialFrom(t, ip, addr)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s past the cap: %v", ip, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || strings.TrimSpace(string(body)) != serviceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s past the cap: %d %s %v", ip, resp.StatusCode, body, resp.Header)
		}
	}
	for range 4 {
		busy("127.0.0.1")
	}
	waitFor(t, table, "4 connections from 127.0.0.1", func(total int, _ map[netip.Addr]*clientConns) bool { return total == 4 })
	refused("127.0.0.1") // its own cap
	for i := range 4 {
		busy(fmt.Sprintf("127.0.0.%d", 2+i))
	}
	waitFor(t, table, "8 connections", func(total int, _ map[netip.Addr]*clientConns) bool { return total == 8 })
	refused("127.0.0.9") // the total cap
}

func TestClientOf(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:80":               "127.0.0.1",
		"127.0.0.2:80":               "127.0.0.2",
		"[::ffff:10.0.0.1]:80":       "10.0.0.1",
		"[::1]:80":                   "::",
		"[2001:db8:1:2:aaaa::1]:443": "2001:db8:1:2::",
		"[2001:db8:1:2:bbbb::9]:443": "2001:db8:1:2::",
		"[2001:db8:1:3::1]:443":      "2001:db8:1:3::",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientOf(tcp); got != netip.MustParseAddr(want) {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

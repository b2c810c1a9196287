package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestPrivateAddr(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1",
		"169.254.169.254", "fe80::1", "fe80::1%eth0", "::ffff:169.254.169.254",
		"0.0.0.0", "::", "0.1.2.3", "224.0.0.1", "239.255.255.250", "ff02::1", "255.255.255.255",
		"100.64.0.1", "100.127.255.255", "::ffff:100.64.0.1", "::ffff:0.1.2.3", "fec0::1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1",
	}
	for _, s := range refused {
		if !PrivateAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed", s)
		}
	}
	allowed := []string{
		"8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.32.0.1", "172.15.255.255",
		"11.0.0.1", "192.169.0.1", "169.255.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
	}
	for _, s := range allowed {
		if PrivateAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused", s)
		}
	}
	if !PrivateAddr(netip.Addr{}) {
		t.Error("the zero address is allowed")
	}
}

// The check runs on what is dialled, after resolution: every spelling of a refused
// address ends as one of these.
func TestCheckDialled(t *testing.T) {
	for _, address := range []string{"127.0.0.1:80", "[::1]:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:80",
		"[fe80::1%lo]:80", "0.0.0.0:80", "not an address"} {
		if err := checkDialled("tcp", address, nil); !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("%s: %v", address, err)
		}
	}
	for _, address := range []string{"8.8.8.8:443", "[2606:4700::1111]:443"} {
		if err := checkDialled("tcp", address, nil); err != nil {
			t.Errorf("%s: %v", address, err)
		}
	}
}

// loopbackListener accepts connections on 127.0.0.1 and counts them.
func loopbackListener(t *testing.T) (port string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan struct{}, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
			ch <- struct{}{}
		}
	}()
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return port, ch
}

// A name that resolves to loopback ("localhost"), and loopback in IPv6's spelling of an
// IPv4 address, are refused before a connection is made; allowed, they are dialled.
func TestDialerRefusesLoopbackUnlessAllowed(t *testing.T) {
	port, accepted := loopbackListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, host := range []string{"localhost", "127.0.0.1", "::ffff:127.0.0.1"} {
		address := net.JoinHostPort(host, port)
		c, err := NewDialer(false).DialContext(ctx, "tcp", address)
		if !errors.Is(err, ErrPrivateAddress) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: dialled (%v)", address, err)
		}
		c, err = DialContext(true)(ctx, "tcp", address)
		if err != nil {
			t.Fatalf("%s allowed: %v", address, err)
		}
		c.Close()
		select {
		case <-accepted:
		case <-ctx.Done():
			t.Fatalf("%s allowed: the listener saw no connection", address)
		}
	}
	// Every connection the listener saw was an allowed one.
	select {
	case <-accepted:
		t.Error("a refused dial reached the listener")
	default:
	}
}

// Over HTTP, as deliveries go: a receiver at http://localhost:<port> is refused with
// ErrPrivateAddress and gets nothing; allowed, it gets the POST.
func TestTransportRefusesLoopbackUnlessAllowed(t *testing.T) {
	posts := make(chan struct{}, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts <- struct{}{}
	}))
	defer receiver.Close()
	_, port, _ := net.SplitHostPort(receiver.Listener.Addr().String())
	url := "http://localhost:" + port + "/hook"

	refusing := &http.Client{Transport: NewTransport(false), Timeout: 10 * time.Second}
	if resp, err := refusing.Post(url, "application/json", nil); !errors.Is(err, ErrPrivateAddress) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("not refused: %v", err)
	}
	allowing := &http.Client{Transport: NewTransport(true), Timeout: 10 * time.Second}
	resp, err := allowing.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(posts) != 1 {
		t.Errorf("the receiver got %d POSTs, want the allowed one only", len(posts))
	}
}

// A proxy from the environment would be what the check sees: the transport uses none.
func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	if NewTransport(false).Proxy != nil {
		t.Error("the transport takes a proxy")
	}
}

package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is why a delivery was not even attempted: its URL's host is, or
// resolves to, an address on the server's own machine or network.
var ErrPrivateAddress = errors.New("webhook target is a private, loopback or link-local address " +
	"(start the server with --webhook-allow-private to deliver to it)")

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")      // 0.x.x.x: Linux connects 0.0.0.0 to itself
	sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")  // carrier-grade NAT, RFC 6598: the provider's side
	siteLocal   = netip.MustParsePrefix("fec0::/10")      // deprecated, still routed inside some sites
	nat64       = netip.MustParsePrefix("64:ff9b::/96")   // an IPv4 address behind a NAT64 gateway
	nat64Local  = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215, local-use NAT64
	broadcast   = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// PrivateAddr tells whether a webhook may not be sent to addr unless private targets
// are allowed: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, where
// cloud metadata services answer, and fe80::/10), unspecified, multicast, 0/8,
// 100.64/10, fec0::/10, and those same IPv4 addresses written as IPv6 (::ffff:a.b.c.d,
// NAT64).
func PrivateAddr(addr netip.Addr) bool {
	addr = addr.WithZone("").Unmap()
	if addr.Is6() && (nat64.Contains(addr) || nat64Local.Contains(addr)) {
		b := addr.As16()
		embedded := netip.AddrFrom4([4]byte(b[12:]))
		if PrivateAddr(embedded) {
			return true
		}
	}
	return !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsUnspecified() || addr.IsMulticast() || thisNetwork.Contains(addr) ||
		sharedCGNAT.Contains(addr) || siteLocal.Contains(addr) || addr == broadcast
}

// checkDialled refuses, at connect time, an address PrivateAddr refuses. It is a
// net.Dialer's Control: it sees each address the dialler is about to connect to, after
// name resolution, so a name that resolves (or re-resolves) to loopback, and any
// spelling of an address, is judged by what is actually dialled.
func checkDialled(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot tell what %q is (%s)", ErrPrivateAddress, address, network)
	}
	if PrivateAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr().Unmap())
	}
	return nil
}

// NewDialer is the dialler of webhook deliveries: with allowPrivate false, it refuses
// to connect to an address PrivateAddr refuses (the error matches ErrPrivateAddress).
func NewDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: attemptTimeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = checkDialled
	}
	return d
}

// NewTransport is an HTTP transport for webhook deliveries over NewDialer. It uses no
// proxy from the environment: the dialler's check must see the receiver's address,
// not a proxy's.
func NewTransport(allowPrivate bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = NewDialer(allowPrivate).DialContext
	return t
}

// DialContext is NewDialer(allowPrivate).DialContext, for a Config that takes a func.
func DialContext(allowPrivate bool) func(ctx context.Context, network, address string) (net.Conn, error) {
	return NewDialer(allowPrivate).DialContext
}

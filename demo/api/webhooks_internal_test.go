package api

import (
	"net/netip"
	"testing"
)

// Each spelling of an IPv4 address a URL's host may take, as the URL standard reads it.
func TestHostAddr(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f.1": "127.0.0.1", "0X7F.0.0.1": "127.0.0.1",
		"0177.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "127.0.1": "127.0.0.1", "0x7f000001": "127.0.0.1",
		"127.0.0.1.": "127.0.0.1", "0": "0.0.0.0", "0x": "0.0.0.0", "169.254.43518": "169.254.169.254",
		"4294967295": "255.255.255.255", "::1": "::1", "::ffff:127.0.0.1": "::ffff:127.0.0.1", "fe80::1%lo": "fe80::1%lo",
		"010.0.0.1": "8.0.0.1", "1.2.3.4": "1.2.3.4",
	} {
		got, ok := hostAddr(host)
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("hostAddr(%q) = %v %v, want %s", host, got, ok, want)
		}
	}
	for _, host := range []string{"", "example.com", "4294967296", "256.0.0.1", "1.2.3.4.5", "1..2", "08.0.0.1",
		"0x7g.1", "1.2.65536", "127.0.0.1..", ".127.0.0.1", "-1", "+1", "1_0"} {
		if got, ok := hostAddr(host); ok {
			t.Errorf("hostAddr(%q) = %v, want no address", host, got)
		}
	}
}

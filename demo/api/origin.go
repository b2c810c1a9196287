package api

import (
	"net"
	"net/http"
	"strings"

	"github.com/vocafuse/recorder/internal/catalog"
)

// sameOriginOnly guards the routes a page on another site must never reach: the demo's
// token route (it hands out the visitor cookie's identity) and /_faults. A browser says
// where a request comes from (Origin on every POST, Sec-Fetch-Site on every request of
// a recent browser); a request without either is not from a page (curl, Node) and
// passes. The Host must be the server's own too, so that a page whose name was rebound
// to 127.0.0.1 (DNS rebinding) is not "same-origin" with the server. Refused: 403 / 1003.
func (s *Server) sameOriginOnly(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	site := r.Header.Get("Sec-Fetch-Site")
	ok := s.ownHost(r.Host) &&
		(origin == "" || s.ownOrigin(origin, r)) &&
		(site == "" || site == "same-origin" || site == "none")
	if !ok {
		writeError(w, catalog.InsufficientPermissions, map[string]any{
			"reason": "this route only answers the server's own pages"})
	}
	return ok
}

// ownOrigin: the public URL's origin, or the Host's when it is a loopback name (the
// same server reached as localhost or 127.0.0.1).
func (s *Server) ownOrigin(origin string, r *http.Request) bool {
	if origin == s.publicOrigin {
		return true
	}
	return isLoopbackHost(r.Host) && (origin == "http://"+r.Host || origin == "https://"+r.Host)
}

func (s *Server) ownHost(host string) bool {
	return strings.EqualFold(host, s.publicHost) || isLoopbackHost(host)
}

// isLoopbackHost: localhost, 127.0.0.0/8 or ::1, with or without a port.
func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

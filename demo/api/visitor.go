package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/internal/random"
)

// The demo's visitor cookie: the server's only proof of who a browser is. Its value is
// "<id>.<mac>": 16 random bytes in hex and an HMAC-SHA256 of the id (base64url) under
// a key derived from the token secret with its own label. A value the server did not
// make is no identity at all: a page on another port of the same host (cookies ignore
// ports) can put a cookie of the name in the browser, but it cannot make one that opens.
//
// Over HTTPS the cookie is __Host-vocafuse_visitor (Secure, Path=/, no Domain): the
// browser takes it only from a secure page and only for the whole host, so no page can
// shadow it under a longer path. Plain HTTP has no such name; the signature and the
// choice among several values (chooseVisitor) are what hold there.
const (
	visitorCookie       = "vocafuse_visitor"
	hostVisitorCookie   = "__Host-" + visitorCookie
	visitorCookieMaxAge = 365 * 24 * 3600
	visitorIDBytes      = 16
)

// strayVisitorPaths are the paths besides "/" under which a cookie reaches
// POST /api/token, so where another page may have put one: the server expires a
// cookie of the name under each of them when one arrived that it did not choose.
var strayVisitorPaths = []string{"/api", "/api/", "/api/token"}

// visitorSigner makes and opens visitor cookie values.
type visitorSigner struct{ key []byte }

// newVisitorSigner signs with a key of its own, derived from the token key.
func newVisitorSigner(tokenKey []byte) visitorSigner {
	return visitorSigner{key: auth.DeriveKey(tokenKey, "vocafuse visitor cookie v1")}
}

func (v visitorSigner) mac(id string) string {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue makes a new visitor: its id and the cookie value that carries it.
func (v visitorSigner) issue() (id, value string) {
	id = random.Hex(visitorIDBytes)
	return id, id + "." + v.mac(id)
}

// open returns the id a cookie value carries when the server made the value.
func (v visitorSigner) open(value string) (string, bool) {
	id, sig, ok := strings.Cut(value, ".")
	if !ok || !isHexID(id) {
		return "", false
	}
	return id, hmac.Equal([]byte(sig), []byte(v.mac(id)))
}

// chooseVisitor decides among every value of the cookie's name a request carried (a
// browser sends all it holds, a shadow under a longer path first). The visitor is the
// one id the server made; values it did not make are ignored. Two different ids that
// the server made mean that one was put there by another page (replaying a value it
// holds), and nothing tells which: neither is taken, and the visitor starts afresh
// rather than risk the tossed one. strays reports that a value arrived besides the one
// chosen, so that the caller expires the other cookies it can.
func (v visitorSigner) chooseVisitor(values []string) (id string, strays bool) {
	for _, value := range values {
		opened, ok := v.open(value)
		switch {
		case !ok:
			strays = true
		case id == "":
			id = opened
		case opened != id:
			return "", true
		default:
			strays = true // the same id twice: one of them under another path
		}
	}
	return id, strays
}

// visitorIdentity is the visitor's identity from its cookie, or a new one (and its
// cookie) when the client address has not used up its new identities. The identity is
// "demo_visitor_" and a hash of the id, so the cookie's value never shows in a token,
// a resource or a log line.
func (s *Server) visitorIdentity(w http.ResponseWriter, r *http.Request) (string, bool) {
	secure := s.secureRequest(r)
	name := visitorCookie
	if secure {
		name = hostVisitorCookie
	}
	var values []string
	for _, c := range r.Cookies() {
		if c.Name == name {
			values = append(values, c.Value)
		}
	}
	id, strays := s.visitorKeys.chooseVisitor(values)
	if id == "" {
		if !s.allowOn(w, s.visitors, "visitor:"+clientKey(r)) {
			return "", false
		}
		var value string
		id, value = s.visitorKeys.issue()
		http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: visitorCookieMaxAge,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
	}
	if strays && !secure {
		expireStrayVisitorCookies(w)
	}
	sum := sha256.Sum256([]byte(id))
	return "demo_visitor_" + hex.EncodeToString(sum[:8]), true
}

// expireStrayVisitorCookies asks the browser to drop the cookies of the name that a
// page on another port may have set under each path besides "/" that reaches
// /api/token ("/" itself holds the server's own, set again when a visitor starts). One
// set with a Domain attribute cannot be named without also naming the server's own
// host-only cookie in some browsers, so it is left: it is never taken, and while one
// the server made arrives beside it, each call starts a new visitor.
func expireStrayVisitorCookies(w http.ResponseWriter) {
	for _, p := range strayVisitorPaths {
		http.SetCookie(w, &http.Cookie{Name: visitorCookie, Value: "", Path: p, MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// secureRequest tells whether the browser reached the server over HTTPS: TLS here, a
// public URL that is https (a TLS-terminating proxy in front), --secure-cookie, or a
// trusted proxy's X-Forwarded-Proto.
func (s *Server) secureRequest(r *http.Request) bool {
	return r.TLS != nil || s.secureCookie ||
		(s.trustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"))
}

func isHexID(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 2*visitorIDBytes
}

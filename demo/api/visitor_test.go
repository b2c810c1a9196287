package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vocafuse/recorder/demo/api"
)

// visitorAnswer is one POST /api/token as the visitor tests read it.
type visitorAnswer struct {
	status   int
	identity string
	set      []*http.Cookie // what the answer set (a fresh cookie first), expiries included
}

// fresh is the visitor cookie the answer issued, if any.
func (a visitorAnswer) fresh() *http.Cookie {
	for _, c := range a.set {
		if c.MaxAge > 0 {
			return c
		}
	}
	return nil
}

// visitorCall is POST /api/token with client and these raw Cookie header values.
func (h *harness) visitorCall(client *http.Client, cookies ...string) visitorAnswer {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/api/token", nil)
	if len(cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	return h.visitorDo(client, req)
}

func (h *harness) visitorDo(client *http.Client, req *http.Request) visitorAnswer {
	h.t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := visitorAnswer{status: resp.StatusCode, set: resp.Cookies()}
	if resp.StatusCode == 201 {
		a.identity = decode[map[string]any](h.t, resp, 201)["identity"].(string)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return a
}

// identityOf is the identity the server used to derive from a visitor id taken as is.
func identityOf(visitorID string) string {
	sum := sha256.Sum256([]byte(visitorID))
	return "demo_visitor_" + hex.EncodeToString(sum[:8])
}

// Issue 24, finding 2: a cookie value the server did not make never becomes an
// identity. The old format (any 32 hex digits), a tampered signature, a value signed
// under another token secret: each is a new visitor, counted as one, with a new
// cookie; the identity is never the one the value would name.
func TestVisitorCookieTheServerDidNotMakeIsNoIdentity(t *testing.T) {
	h := newHarness(t)
	first := h.visitorCall(http.DefaultClient)
	own := first.fresh()
	if first.status != 201 || own == nil || own.Name != "vocafuse_visitor" || !own.HttpOnly || own.Path != "/" {
		t.Fatalf("first visit: %+v", first)
	}
	if again := h.visitorCall(http.DefaultClient, own.String()); again.identity != first.identity || len(again.set) != 0 {
		t.Fatalf("the same cookie: %+v, want %s and no cookie", again, first.identity)
	}
	id, sig, _ := strings.Cut(own.Value, ".")
	other := newHarness(t, func(c *api.Config) { c.Credentials.TokenSecret = "another-signing-key" })
	foreign := other.visitorCall(http.DefaultClient).fresh()
	for name, value := range map[string]string{
		"old unsigned format":      "0123456789abcdef0123456789abcdef",
		"the id without its mac":   id,
		"another id, the same mac": "fedcba9876543210fedcba9876543210." + sig,
		"a changed mac":            id + "." + strings.Repeat("A", len(sig)),
		"another server's value":   foreign.Value,
	} {
		t.Run(name, func(t *testing.T) {
			a := h.visitorCall(http.DefaultClient, "vocafuse_visitor="+value)
			forgedID, _, _ := strings.Cut(value, ".")
			if a.status != 201 || a.identity == first.identity || a.identity == identityOf(forgedID) ||
				a.fresh() == nil || a.fresh().Value == value {
				t.Fatalf("%q: %+v (own identity %s)", value, a, first.identity)
			}
		})
	}
}

// Issue 24, finding 2: 40 fresh values the server did not make, from one address, get
// no more identities than the per-address limit on new visitors (20 a minute), and
// none of them is an identity its value names.
func TestFortyForgedVisitorValuesGetNoMoreThanTheNewVisitorLimit(t *testing.T) {
	h := newHarness(t)
	identities := map[string]bool{}
	refused := 0
	for i := range 40 {
		value := fmt.Sprintf("%032x", 0xc0ffee00+i)
		a := h.visitorCall(http.DefaultClient, "vocafuse_visitor="+value)
		switch a.status {
		case 201:
			if a.identity == identityOf(value) || identities[a.identity] {
				t.Fatalf("value %d: identity %s", i, a.identity)
			}
			identities[a.identity] = true
		case 429:
			refused++
		default:
			t.Fatalf("value %d: %d", i, a.status)
		}
	}
	if len(identities) != 20 || refused != 20 {
		t.Errorf("%d identities, %d refused; want 20 and 20", len(identities), refused)
	}
}

// Issue 24, finding 2, as the attack ran: a page on another port of the same host sets
// vocafuse_visitor under path=/api (cookies ignore ports), and the browser sends that
// one first. Its value is one the server made (the attacker's own visitor): the victim
// gets neither that identity nor, since the server cannot tell which of the two was
// tossed, its old one, but a fresh identity, and the shadow is expired.
func TestTwoVisitorCookiesNeverGiveTheTossedOne(t *testing.T) {
	h := newHarness(t)
	attacker := h.visitorCall(http.DefaultClient)

	jar, _ := cookiejar.New(nil)
	victim := &http.Client{Jar: jar}
	own := h.visitorCall(victim)
	sibling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "vocafuse_visitor", Value: r.URL.Query().Get("v"), Path: "/api"})
	}))
	defer sibling.Close()
	toss := func(value string) {
		resp, err := victim.Get(sibling.URL + "/?v=" + url.QueryEscape(value))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	toss(attacker.fresh().Value)
	server, _ := url.Parse(h.url + "/api/token")
	if got := jar.Cookies(server); len(got) != 2 || got[0].Value != attacker.fresh().Value {
		t.Fatalf("the browser's jar sends %v", got)
	}

	a := h.visitorCall(victim)
	if a.status != 201 || a.identity == attacker.identity || a.identity == own.identity || a.fresh() == nil {
		t.Fatalf("with the attacker's cookie shadowing: %+v (attacker %s, own %s)", a, attacker.identity, own.identity)
	}
	expired := map[string]bool{}
	for _, c := range a.set {
		if c.MaxAge < 0 {
			expired[c.Path] = true
		}
	}
	if !expired["/api"] || !expired["/api/"] || !expired["/api/token"] {
		t.Errorf("expired %v", expired)
	}
	// The shadow is gone from the jar; the fresh cookie is the visitor from now on.
	if got := jar.Cookies(server); len(got) != 1 || got[0].Value != a.fresh().Value {
		t.Fatalf("the jar after: %v", got)
	}
	if b := h.visitorCall(victim); b.identity != a.identity {
		t.Errorf("next call: %s, want %s", b.identity, a.identity)
	}

	// A shadow the server did not make beside the visitor's own: the own one is taken.
	toss("0123456789abcdef0123456789abcdef")
	if b := h.visitorCall(victim); b.identity != a.identity || b.fresh() != nil {
		t.Errorf("a forged shadow: %+v, want %s kept", b, a.identity)
	}
}

// Over HTTPS the cookie is __Host-vocafuse_visitor (Secure, Path=/, no Domain), which no
// plain-HTTP page can set; a plain-named cookie (which one could) is not read there.
func TestVisitorCookieIsHostPrefixedWhenSecure(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.TrustProxy = true })
	secure := func(cookies ...string) visitorAnswer {
		req, _ := http.NewRequest("POST", h.url+"/api/token", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		if len(cookies) > 0 {
			req.Header.Set("Cookie", strings.Join(cookies, "; "))
		}
		return h.visitorDo(http.DefaultClient, req)
	}
	a := secure()
	c := a.fresh()
	if c == nil || c.Name != "__Host-vocafuse_visitor" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Fatalf("secure cookie %+v", c)
	}
	if b := secure("__Host-vocafuse_visitor=" + c.Value); b.identity != a.identity {
		t.Errorf("the same cookie: %s, want %s", b.identity, a.identity)
	}
	plainVisit := h.visitorCall(http.DefaultClient)
	plain := plainVisit.fresh()
	if b := secure("vocafuse_visitor=" + plain.Value); b.identity == "" || b.identity == plainVisit.identity ||
		b.fresh() == nil || b.fresh().Name != "__Host-vocafuse_visitor" {
		t.Errorf("a plain-named cookie over HTTPS: %+v", b)
	}
}

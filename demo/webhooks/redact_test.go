package webhooks

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://example.com/hook":                      "https://example.com/hook",
		"https://example.com/hook?token=s3cr3t":         "https://example.com/hook?token=REDACTED",
		"https://example.com/hook?a=1&b=2&a=3":          "https://example.com/hook?a=REDACTED&b=REDACTED&a=REDACTED",
		"https://example.com/hook?sk_live_abc":          "https://example.com/hook?REDACTED",
		"https://example.com/hook?token=":               "https://example.com/hook?token=REDACTED",
		"https://example.com/hook?a=1&&b=2":             "https://example.com/hook?a=REDACTED&&b=REDACTED",
		"https://example.com/hook#frag-secret":          "https://example.com/hook#REDACTED",
		"https://user:pass@example.com:8443/hook?k=v#f": "https://example.com:8443/hook?k=REDACTED#REDACTED",
		"http://user@127.0.0.1/hook":                    "http://127.0.0.1/hook",
		"http://[::1]:9/h?x=y;z=w":                      "http://[::1]:9/h?x=REDACTED",
		"https://example.com/hook?":                     "https://example.com/hook?",
		"https://example.com/p%20q?tok%65n=%41":         "https://example.com/p%20q?tok%65n=REDACTED",
		"http://exa mple.com/?token=s3cr3t":             "REDACTED",
		"mailto:someone@example.com":                    "mailto:REDACTED",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// net/http's client error quotes the URL with its query: once its URL is redacted, the
// message keeps no secret.
func TestRedactClientError(t *testing.T) {
	client := &http.Client{Transport: NewTransport(false), Timeout: 5 * time.Second}
	_, err := client.Post("http://user:pw@127.0.0.1:9/hook?token=s3cr3t#frag", "application/json", nil)
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		t.Fatalf("%T %v", err, err)
	}
	uerr.URL = RedactURL(uerr.URL)
	msg := err.Error()
	for _, secret := range []string{"s3cr3t", "pw", "user", "frag"} {
		if strings.Contains(msg, secret) {
			t.Errorf("%q in %q", secret, msg)
		}
	}
	if !strings.Contains(msg, "token=REDACTED") {
		t.Errorf("the key is gone: %q", msg)
	}
}

package webhooks

import (
	"net/url"
	"strings"
)

// redacted stands for what RedactURL hides.
const redacted = "REDACTED"

// RedactURL is a webhook URL as it may be logged or kept beside a delivery: without its
// user and password, each query value and the fragment replaced by REDACTED (the keys
// stay: "?token=REDACTED"), since receivers often authenticate with a token there. A
// query part with no "=" may itself be a token: it is replaced whole. What does not
// parse as a URL is replaced whole.
//
// An error of net/http's client quotes the URL (a *url.Error, its password already
// masked but not its query): set its URL field to RedactURL of it before keeping it.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	u.User = nil
	if u.Opaque != "" {
		u.Opaque = redacted
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			if key, _, found := strings.Cut(p, "="); found {
				parts[i] = key + "=" + redacted
			} else if p != "" {
				parts[i] = redacted
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = redacted, ""
	}
	return u.String()
}

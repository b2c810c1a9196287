package delivery

import (
	"encoding/base64"
	"strings"
)

// Subject is the "sub" claim of a JWT, read without verifying anything: it only tells
// whose recording is whose on a shared browser, never grants anything. "" when the token
// is not a JWT or has no string sub.
func Subject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	return topLevelString(payload, "sub")
}

// Mine: a recording of owner may be sent with token. Where either identity cannot be
// told (no owner recorded, a token that is not a JWT), it may: the SDK cannot know better.
func Mine(owner, token string) bool {
	if owner == "" {
		return true
	}
	sub := Subject(token)
	return sub == "" || sub == owner
}

// topLevelString answers the string value of key in the JSON object b, "" when b is not
// an object or its key is not a string.
func topLevelString(b []byte, key string) string {
	root, _ := ParseJSON(string(b))
	obj, _ := root.(map[string]any)
	s, _ := obj[key].(string)
	return s
}

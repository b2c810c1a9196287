package catalog

import (
	"encoding/json"
	"strings"
	"time"
)

// parseEnvelope is what the SDK does with an error answer: the shim parses the body
// with JSON.parse (here encoding/json, which gives the same plain values) and hands
// the value, or the text where it is not JSON, to FromAPI.
func parseEnvelope(status int, body []byte, now time.Time) *Error {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		doc = nil
	}
	// responseText has replaced what is not UTF-8, as a JavaScript string cannot hold it.
	return FromAPI(status, doc, strings.ToValidUTF8(string(body), "\uFFFD"), now)
}

package delivery

import (
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"
)

// StorageError, the stand-in for encoding/xml, reads what encoding/xml reads of an
// S3 error whose Code and Message are text (entities included, no child elements): the
// same values, trimmed and cut to maxStorageField on a character.
func FuzzStorageErrorMatchesXML(f *testing.F) {
	f.Add("AccessDenied", "Request has expired")
	f.Add("SlowDown", "a &amp;&lt; b &quot;c&quot; &apos;d&apos; &gt;")
	f.Add("  x  ", "&amp;lt; stays &lt;")
	f.Add("", "no code")
	f.Add("c", strings.Repeat("é", 150))
	f.Fuzz(func(t *testing.T, codeText, messageText string) {
		for _, s := range []string{codeText, messageText} {
			// Child elements, CDATA and comments (<), character references (&#) and the
			// line ends XML normalizes (\r) are past what the stand-in reads.
			if strings.ContainsAny(s, "<\r") || strings.Contains(s, "&#") {
				return
			}
		}
		body := "<Error><Code>" + codeText + "</Code><Message>" + messageText + "</Message><RequestId>r</RequestId></Error>"
		var doc struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		if xml.Unmarshal([]byte(body), &doc) != nil {
			return // not XML: nothing to compare with
		}
		cut := func(s string) string {
			s = strings.TrimSpace(s)
			if len(s) <= maxStorageField {
				return s
			}
			n := maxStorageField
			for n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
			return s[:n]
		}
		code, message, ok := StorageError(body)
		wantCode, wantMessage := cut(doc.Code), cut(doc.Message)
		if wantCode == "" {
			wantMessage = "" // no code: not a storage error
		}
		if ok != (wantCode != "") || code != wantCode || message != wantMessage {
			t.Fatalf("StorageError(%q) = %q, %q, %v; encoding/xml reads %q, %q", body, code, message, ok, wantCode, wantMessage)
		}
	})
}

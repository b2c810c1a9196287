// Package space trims white space as strings.TrimSpace does, without what that costs the
// wasm: strings.TrimSpace brings Unicode's tables in for its non-ASCII path.
package space

import "unicode/utf8"

// Trim answers s without leading and trailing white space, as strings.TrimSpace does
// (FuzzTrim holds the two together).
func Trim(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if !isSpace(r) {
			break
		}
		s = s[n:]
	}
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !isSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// isSpace is unicode.IsSpace: Unicode's White_Space property.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return 0x2000 <= r && r <= 0x200A
}

package delivery

import "strings"

// Subject is the "sub" claim of a JWT, read without verifying anything: it only tells
// whose recording is whose on a shared browser, never grants anything. "" when the token
// is not a JWT or has no string sub.
func Subject(token string) string {
	// header.payload.signature: exactly two dots (Cut rather than strings.Split, which
	// costs the wasm 3 KB).
	_, rest, ok1 := strings.Cut(token, ".")
	middle, signature, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(signature, '.') >= 0 {
		return ""
	}
	payload, ok := decodeBase64URL(middle)
	if !ok {
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

// MineNow: a recording of owner may be sent with the courier's token in hand (Mine),
// without asking for a token.
func (c *Courier) MineNow(owner string) bool { return Mine(owner, c.tokens.Peek()) }

// topLevelString answers the string value of key in the JSON object b, "" when b is not
// an object or its key is not a string.
func topLevelString(b []byte, key string) string {
	root, _ := ParseJSON(string(b))
	obj, _ := root.(map[string]any)
	s, _ := obj[key].(string)
	return s
}

// decodeBase64URL decodes unpadded base64url as base64.RawURLEncoding does, after
// trailing '=' are cut; newlines are skipped and the last character's spare bits are
// not checked, as there. By hand: encoding/base64 costs the wasm about 7 KB
// (FuzzDecodeBase64URL holds the two together).
func decodeBase64URL(s string) ([]byte, bool) {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	out := make([]byte, 0, len(s)*3/4)
	var acc uint32
	n := 0 // characters of the alphabet read
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '-':
			v = 62
		case c == '_':
			v = 63
		case c == '\r' || c == '\n':
			continue
		default:
			return nil, false
		}
		acc = acc<<6 | uint32(v)
		n++
		if n%4 == 0 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc = 0
		}
	}
	switch n % 4 {
	case 1: // six bits make no byte
		return nil, false
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out, true
}

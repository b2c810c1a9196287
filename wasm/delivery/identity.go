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

// topLevelString finds key among the members of the JSON object b (nested objects are
// skipped, so a "sub" inside another claim is not it) and answers its string value.
// It is a scanner, not a parser: the wasm carries no encoding/json. Malformed JSON
// answers "".
func topLevelString(b []byte, key string) string {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ""
	}
	i++
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return ""
		}
		name, next, ok := jsonString(b, i)
		if !ok {
			return ""
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return ""
		}
		i = skipSpace(b, i+1)
		if name == key {
			value, _, ok := jsonString(b, i)
			if !ok {
				return ""
			}
			return value
		}
		if i = skipValue(b, i); i < 0 {
			return ""
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return ""
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonString reads the string at b[i], unescaping the common escapes (a \u escape is
// kept as written: subs are ASCII identifiers in practice, and an odd one only fails
// to match).
func jsonString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	var out []byte
	for i++; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			return string(out), i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return "", i, false
			}
			i++
			switch e := b[i]; e {
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case 'r':
				out = append(out, '\r')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'u':
				out = append(out, '\\', 'u')
			default:
				out = append(out, e)
			}
		default:
			out = append(out, c)
		}
	}
	return "", i, false
}

// skipValue answers the index just past the JSON value at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		_, next, ok := jsonString(b, i)
		if !ok {
			return -1
		}
		return next
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				_, next, ok := jsonString(b, i)
				if !ok {
					return -1
				}
				i = next - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // a number, true, false, null
		for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
			i++
		}
		return i
	}
}

package delivery

import (
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// bodyEcho is how much of an error answer's body Response.Body keeps: enough for object
// storage's XML error, and for the catalogue's echo of a body that is no envelope.
const bodyEcho = 200

// Echo is the start of an answer's body kept in Response.Body, cut on a character.
func Echo(body string) string {
	if len(body) <= bodyEcho {
		return body
	}
	cut := bodyEcho
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return body[:cut]
}

// maxDepth is how deep ParseJSON builds values; deeper ones are nil, as no answer of the
// API nests that far.
const maxDepth = 32

// ParseJSON decodes text into the plain values JSON.parse gives (map[string]any, []any,
// float64, string, bool, nil); ok false when text is not one JSON value. A stand-in for
// encoding/json, whose reflection the wasm must not carry (FuzzParseJSON checks it
// against encoding/json).
func ParseJSON(text string) (v any, ok bool) {
	p := jsonParser{s: text}
	v = p.value(0)
	p.space()
	if p.bad || p.i != len(p.s) {
		return nil, false
	}
	return v, true
}

type jsonParser struct {
	s   string
	i   int
	bad bool
}

func (p *jsonParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// eat consumes c after any space, answering whether it was there.
func (p *jsonParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) fail() any {
	p.bad = true
	p.i = len(p.s)
	return nil
}

func (p *jsonParser) value(depth int) any {
	p.space()
	if p.i >= len(p.s) {
		return p.fail()
	}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		p.i++
		var obj map[string]any
		arr := []any{}
		end := byte(']')
		if c == '{' {
			obj, end = map[string]any{}, '}'
		}
		for first := true; !p.eat(end); first = false {
			if !first && !p.eat(',') {
				return p.fail()
			}
			if obj == nil {
				arr = append(arr, p.value(depth+1))
				continue
			}
			p.space()
			key, ok := p.str()
			if !ok || !p.eat(':') {
				return p.fail()
			}
			obj[key] = p.value(depth + 1)
		}
		if depth >= maxDepth {
			return nil
		}
		if obj != nil {
			return obj
		}
		return arr
	case c == '"':
		s, ok := p.str()
		if !ok {
			return p.fail()
		}
		return s
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "true"):
		p.i += 4
		return true
	case strings.HasPrefix(rest, "false"):
		p.i += 5
		return false
	case strings.HasPrefix(rest, "null"):
		p.i += 4
		return nil
	}
	return p.fail()
}

// str reads the string at p.i. A lone surrogate escape becomes U+FFFD, as in
// encoding/json; the text is UTF-8 already (it comes from a JavaScript string).
func (p *jsonParser) str() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	var out []byte
	for p.i++; p.i < len(p.s); {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
		case p.i >= len(p.s):
			return "", false
		default:
			e := p.s[p.i]
			p.i++
			if i := strings.IndexByte(`"\/bfnrt`, e); i >= 0 {
				out = append(out, "\"\\/\b\f\n\r\t"[i])
				continue
			}
			r := p.hex4(e)
			if utf16.IsSurrogate(r) && strings.HasPrefix(p.s[p.i:], `\u`) {
				save := p.i
				p.i += 2
				if r = utf16.DecodeRune(r, p.hex4('u')); r == utf8.RuneError {
					p.i = save // not a pair: the next escape stands alone
				}
			}
			if r < 0 {
				return "", false
			}
			out = utf8.AppendRune(out, r) // a lone surrogate is U+FFFD
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape (e is the escape's letter), -1 when
// they are not.
func (p *jsonParser) hex4(e byte) rune {
	if e != 'u' || len(p.s)-p.i < 4 {
		return -1
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number reads a JSON number. A stand-in for strconv.ParseFloat, whose tables cost the
// wasm more than all of this file: exact for up to 15 significant digits with an
// exponent within ±22 (every number the API sends), within a few units in the last
// place beyond.
func (p *jsonParser) number() any {
	s, i := p.s, p.i
	neg := s[i] == '-'
	if neg {
		i++
	}
	var mant uint64
	digits, exp, part := 0, 0, 0 // part: 0 the whole, 1 the fraction, 2 the exponent
	e, eneg, from := 0, false, i
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' && part < 2:
			if digits < 19 {
				mant = mant*10 + uint64(c-'0')
				if mant != 0 {
					digits++
				}
				exp -= part // a digit of the fraction scales the value down
			} else {
				exp += 1 - part // digits past what a uint64 holds only scale it
			}
		case c >= '0' && c <= '9':
			e = min(e*10+int(c-'0'), 10000)
		case c == '.' && part == 0 && i > from:
			part, from = 1, i+1
			continue
		case (c == 'e' || c == 'E') && part < 2 && i > from:
			part, from = 2, i+1
			if i+1 < len(s) && (s[i+1] == '+' || s[i+1] == '-') {
				eneg = s[i+1] == '-'
				i++
				from++
			}
			continue
		default:
			goto end
		}
		if part == 0 && i > from && s[from] == '0' {
			return p.fail() // a leading zero
		}
	}
end:
	if i == from {
		return p.fail() // no digits where some must be
	}
	p.i = i
	if eneg {
		e = -e
	}
	exp += e
	f := float64(mant)
	switch {
	case mant == 0:
	case mant < 1<<53 && exp >= 0 && exp < len(pow10):
		f *= pow10[exp]
	case mant < 1<<53 && exp < 0 && -exp < len(pow10):
		f /= pow10[-exp]
	default:
		f *= math.Pow10(exp)
	}
	if neg {
		f = -f
	}
	return f
}

package catalog

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON decoder for error envelopes. encoding/json would do, but in the
// browser's wasm it costs about a hundred kilobytes after brotli, a seventh of the
// whole SDK, for reading one small object per failed request.

// jsonNumber keeps a number's literal, so the envelope's code can be told from 2005.5
// or "2005"; values handed out are converted to float64 by plainJSON.
type jsonNumber string

const maxJSONDepth = 64

var errJSON = errors.New("malformed JSON")

type jsonDecoder struct {
	data  []byte
	pos   int
	depth int
}

// decodeJSON parses one JSON value and nothing after it (but white space).
func decodeJSON(data []byte) (any, error) {
	d := &jsonDecoder{data: data}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.pos != len(d.data) {
		return nil, errJSON
	}
	return v, nil
}

func (d *jsonDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) literal(word string, v any) (any, error) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return nil, errJSON
	}
	d.pos += len(word)
	return v, nil
}

func (d *jsonDecoder) value() (any, error) {
	d.space()
	if d.pos >= len(d.data) {
		return nil, errJSON
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return nil, errJSON
}

func (d *jsonDecoder) nest() error {
	if d.depth++; d.depth > maxJSONDepth {
		return errJSON
	}
	d.pos++ // the opening bracket
	return nil
}

func (d *jsonDecoder) object() (any, error) {
	if err := d.nest(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	obj := map[string]any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return obj, nil
	}
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, errJSON
		}
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, errJSON
		}
		d.pos++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		obj[key] = v
		d.space()
		if d.pos >= len(d.data) {
			return nil, errJSON
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return obj, nil
		default:
			return nil, errJSON
		}
	}
}

func (d *jsonDecoder) array() (any, error) {
	if err := d.nest(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	arr := []any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return arr, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.space()
		if d.pos >= len(d.data) {
			return nil, errJSON
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return arr, nil
		default:
			return nil, errJSON
		}
	}
}

func (d *jsonDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	intStart := d.pos
	if n := digits(); n == 0 || n > 1 && d.data[intStart] == '0' {
		return nil, errJSON // no digits, or a leading zero
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, errJSON
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, errJSON
		}
	}
	literal := jsonNumber(d.data[start:d.pos])
	if _, err := strconv.ParseFloat(string(literal), 64); err != nil {
		return nil, errJSON // out of float64's range, which encoding/json refuses too
	}
	return literal, nil
}

func (d *jsonDecoder) str() (string, error) {
	d.pos++ // the opening quote
	var out []byte
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(out), nil
		case c < 0x20:
			return "", errJSON
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", errJSON
			}
			esc := d.data[d.pos+1]
			d.pos += 2
			switch esc {
			case '"', '\\', '/':
				out = append(out, esc)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", errJSON
				}
				if utf16.IsSurrogate(r) {
					// A pair is two escapes; a lone half is U+FFFD and what follows is read on its own.
					pair := rune(utf8.RuneError)
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						back := d.pos
						d.pos += 2
						r2, ok := d.hex4()
						if pair = utf16.DecodeRune(r, r2); !ok || pair == utf8.RuneError {
							d.pos = back
							pair = utf8.RuneError
						}
					}
					r = pair
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", errJSON
			}
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			out = utf8.AppendRune(out, r) // invalid UTF-8 becomes U+FFFD, as in encoding/json
			d.pos += size
		}
	}
	return "", errJSON
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.pos += 4
	return rune(n), true
}

// plainJSON turns jsonNumbers into float64 all the way down, as encoding/json's any does.
func plainJSON(v any) any {
	switch v := v.(type) {
	case jsonNumber:
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = plainJSON(x)
		}
	case []any:
		for i, x := range v {
			v[i] = plainJSON(x)
		}
	}
	return v
}

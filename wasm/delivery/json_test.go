package delivery

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseJSON(t *testing.T) {
	for _, tc := range []struct {
		text string
		want any
		ok   bool
	}{
		{`{"error":{"code":2005,"message":"too long","details":{"max":60}}}`,
			map[string]any{"error": map[string]any{"code": 2005.0, "message": "too long", "details": map[string]any{"max": 60.0}}}, true},
		{` [1, -2.5, 3e2, 0.001, true, false, null, "a\"b\\\u00e9\ud83d\ude00"] `,
			[]any{1.0, -2.5, 300.0, 0.001, true, false, nil, "a\"b\\é😀"}, true},
		{`"\ud800x"`, "\uFFFDx", true},
		{`{"a":1,"a":2}`, map[string]any{"a": 2.0}, true},
		{`{}`, map[string]any{}, true},
		{`<html>502</html>`, nil, false},
		{``, nil, false},
		{`{"a":1,}`, nil, false},
		{`[1 2]`, nil, false},
		{`01`, nil, false},
		{`1.`, nil, false},
		{`"tab	in"`, nil, false},
		{`{"a":1} x`, nil, false},
		{"\"a\x01true", nil, false},
		{`nul`, nil, false},
	} {
		got, ok := ParseJSON(tc.text)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseJSON(%q) = %#v, %v; want %#v, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseJSONDepth(t *testing.T) {
	v, ok := ParseJSON(strings.Repeat("[", 40) + strings.Repeat("]", 40))
	depth := 0
	for ; ok; depth++ {
		a, isArray := v.([]any)
		if !isArray || len(a) != 1 {
			break
		}
		v = a[0]
	}
	if !ok || depth != maxDepth || v != nil {
		t.Errorf("40 nested arrays: %d levels kept, then %#v (ok %v); want %d, then nil", depth, v, ok, maxDepth)
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"error":{"code":1001,"message":"m","details":{"a":[1,{"b":null}]}}}`, `[1.5e-3,-0,"\u00e9\ud83d\ude00"]`,
		`{"data":{"id":"x","part_urls":[{"part_number":1,"url":"u"}]}}`, `12345678901234567890123`, `"\/\b\f\n\r\t"`, `{"a":}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := ParseJSON(text)
		if strings.Count(text, "[")+strings.Count(text, "{") >= maxDepth {
			return // nil past maxDepth, where encoding/json goes on
		}
		var want any
		err := json.Unmarshal([]byte(text), &want)
		if err != nil {
			if ok && !strings.Contains(err.Error(), "number") { // a number out of float64's range
				t.Fatalf("ParseJSON(%q) = %#v, encoding/json refuses it: %v", text, got, err)
			}
			return
		}
		if !ok {
			t.Fatalf("ParseJSON(%q) refused what encoding/json reads as %#v", text, want)
		}
		if !utf8.ValidString(text) {
			return // both replace what is not UTF-8, not always alike
		}
		if !near(got, want) {
			t.Fatalf("ParseJSON(%q) = %#v, encoding/json says %#v", text, got, want)
		}
	})
}

// near is reflect.DeepEqual but for numbers beyond ParseJSON's exact range, which
// need only be near.
func near(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && (a == b || math.Abs(a-b) <= 1e-12*math.Abs(b) || math.Abs(a) < 1e-300 && math.Abs(b) < 1e-300)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !near(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, found := b[k]; !found || !near(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestEcho(t *testing.T) {
	long := strings.Repeat("a", 199) + "é" + strings.Repeat("b", 300)
	for _, tc := range []struct{ body, want string }{
		{"", ""},
		{"<Error><Code>NoSuchUpload</Code></Error>", "<Error><Code>NoSuchUpload</Code></Error>"},
		{strings.Repeat("x", 500), strings.Repeat("x", bodyEcho)},
		{long, strings.Repeat("a", 199)}, // never half a character
	} {
		if got := Echo(tc.body); got != tc.want {
			t.Errorf("Echo(%.20q…) = %q (%d bytes), want %d bytes", tc.body, got, len(got), len(tc.want))
		}
	}
}

package catalog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The small decoder must agree with encoding/json on every input: same acceptance, same values.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"error":{"code":2005,"message":"Audio format not supported","details":{"format":"mp3","supported_formats":["webm","wav","ogg"]}}}`,
		`[1, -2.5e3, 0, true, false, null, "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]`,
		`{"a":{"b":[{}]}}`, `01`, `1.`, `-`, `"\ud800"`, "\"\xff\"", `{"a":1,"a":2}`, ` 7 `, `{"a" 1}`, `[1,]`,
		strings.Repeat("[", 70) + strings.Repeat("]", 70),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJSON(data)
		var want any
		wantErr := json.Unmarshal(data, &want)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("accepted what encoding/json refuses (%v): %q", wantErr, data)
			}
			return
		}
		if err != nil {
			if strings.Count(string(data), "[")+strings.Count(string(data), "{") > maxJSONDepth {
				return // refused for depth, on purpose
			}
			t.Fatalf("refused valid JSON %q: %v", data, err)
		}
		if got = plainJSON(got); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, encoding/json %#v", data, got, want)
		}
	})
}

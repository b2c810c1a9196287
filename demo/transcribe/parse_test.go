package transcribe

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// Real output of Debian 12's pocketsphinx_continuous -time yes on two LibriVox
// recordings of pocketsphinx-testdata joined by 2 s of silence: two utterances, times
// from the start of the input, posteriors a little over 1 by rounding.
const realOutput = `he was not an illness closed young man
<s> 0.140 0.220 0.999700
he 0.230 0.330 0.993322
was(2) 0.340 0.560 0.993024
not 0.570 0.980 0.998501
[SPEECH] 0.990 1.120 0.527464
an(2) 1.130 1.300 0.547020
illness 1.310 1.670 0.897706
closed 1.680 2.120 0.020874
young 2.130 2.340 0.160155
man 2.350 2.800 0.753797
</s> 2.810 3.100 1.000000
he might even have been made the amiable himself
<s> 4.880 4.970 1.000300
<sil> 4.980 5.200 0.932853
he 5.210 5.370 0.999400
might 5.380 5.620 0.999300
even 5.630 5.910 1.000300
have 5.920 6.060 0.382238
been 6.070 6.320 0.982159
made 6.330 6.640 0.980392
the 6.650 6.720 0.253280
amiable 6.730 7.260 0.264754
himself 7.270 8.000 0.899054
</s> 8.010 8.270 1.000000
`

func TestParseWordTimesReal(t *testing.T) {
	words := ParseWordTimes(realOutput)
	var got []string
	for _, w := range words {
		got = append(got, w.Word)
	}
	want := "he was not an illness closed young man he might even have been made the amiable himself"
	if strings.Join(got, " ") != want {
		t.Fatalf("words %q, want %q", strings.Join(got, " "), want)
	}
	if w := words[1]; w != (Word{Word: "was", Start: 0.34, End: 0.56, Confidence: 0.993024}) {
		t.Errorf("was(2): %+v", w)
	}
	if w := words[10]; w.Word != "even" || w.Confidence != 1 {
		t.Errorf("a posterior over 1 is clamped: %+v", w)
	}
	checkWords(t, words)
	r := NewResult(words)
	if r.Text != want || r.Language != "en-US" || r.Confidence <= 0 || r.Confidence >= 1 {
		t.Errorf("result %+v", r)
	}
}

func TestParseWordTimesTable(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Word
	}{
		{"empty", "", nil},
		{"blank hypothesis and only silences", "\n<s> 0.000 0.100 1.000000\n<sil> 0.11 3.9 0.9\n</s> 3.91 4.0 1\n", nil},
		{"fillers", "[NOISE] 0 1 0.5\n++BREATH++ 1 2 0.5\n[SPEECH] 2 3 0.5\n<sil> 3 4 1\nyes 4 4.5 0.75\n",
			[]Word{{"yes", 4, 4.5, 0.75}}},
		{"alternate pronunciations", "the(2) 0 0.1 0.5\nread(12) 0.2 0.5 0.25\n",
			[]Word{{"the", 0, 0.1, 0.5}, {"read", 0.2, 0.5, 0.25}}},
		{"a word with parentheses that is no pronunciation", "a(b) 0 1 1\n", []Word{{"a(b)", 0, 1, 1}}},
		{"hypothesis lines are not words", "go forward ten meters\none two three four\ngo 0 0.2 0.9\n",
			[]Word{{"go", 0, 0.2, 0.9}}},
		{"four fields but not numbers", "a b c d\nx 1 nan 0.5\ny inf 2 0.5\nz 1 2 NaN\nw 0x1p1 3 0.5\n", nil},
		{"CRLF and extra spaces", "  hello   0.5  0.9  0.8 \r\n", []Word{{"hello", 0.5, 0.9, 0.8}}},
		{"log lines are ignored", "INFO: ngram_search.c(1248): lattice start node <s>.0 end node </s>.280\nok 1 2 0.5\n",
			[]Word{{"ok", 1, 2, 0.5}}},
		{"confidences clamped", "a 0 1 1.0003\nb 1 2 -0.2\nc 2 3 7e3\n",
			[]Word{{"a", 0, 1, 1}, {"b", 1, 2, 0}, {"c", 2, 3, 1}}},
		{"times repaired and ordered", "late 5 6 0.5\nneg -1 0.5 0.5\nback 3 2 0.5\n",
			[]Word{{"neg", 0, 0.5, 0.5}, {"back", 3, 3, 0.5}, {"late", 5, 6, 0.5}}},
		{"no newline at the end", "end 1 2 0.5", []Word{{"end", 1, 2, 0.5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseWordTimes(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseWordTimes(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

// checkWords asserts the invariants every parse keeps.
func checkWords(t testing.TB, words []Word) {
	t.Helper()
	for i, w := range words {
		if w.Word == "" || isFiller(w.Word) || strings.ContainsAny(w.Word, " \t\n\r") {
			t.Fatalf("word %d: %q", i, w.Word)
		}
		if !(w.Start >= 0 && w.End >= w.Start) || math.IsInf(w.End, 0) {
			t.Fatalf("word %d times: %+v", i, w)
		}
		if !(w.Confidence >= 0 && w.Confidence <= 1) {
			t.Fatalf("word %d confidence: %+v", i, w)
		}
		if i > 0 && w.Start < words[i-1].Start {
			t.Fatalf("word %d starts before word %d: %+v, %+v", i, i-1, words[i-1], w)
		}
	}
}

func FuzzParseWordTimes(f *testing.F) {
	f.Add(realOutput)
	f.Add("")
	f.Add("\n\n")
	f.Add("a 0 1 1.0003\nb 1 2 -0.2\nc 2 3 7e3\n")
	f.Add("late 5 6 0.5\nneg -1 0.5 0.5\nback 3 2 0.5\n")
	f.Add("x 1 nan 0.5\ny inf 2 0.5\nw(2) 1e308 1e309 0.5\n(2) 0 1 1\n()(3) 0 0 0\n")
	f.Add("[NOISE] 0 1 0.5\n++BREATH++ 1 2 0.5\n<sil> 3 4 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		words := ParseWordTimes(s)
		checkWords(t, words)
		r := NewResult(words)
		if !(r.Confidence >= 0 && r.Confidence <= 1) {
			t.Fatalf("overall confidence %v", r.Confidence)
		}
		if len(words) > 0 && len(strings.Fields(r.Text)) != len(words) {
			t.Fatalf("text %q for %d words", r.Text, len(words))
		}
	})
}

func TestConfidence(t *testing.T) {
	for _, tc := range []struct {
		words []Word
		want  float64
	}{
		{nil, 0},
		{[]Word{{"a", 0, 1, 1}, {"b", 1, 4, 0.5}}, (1*1 + 3*0.5) / 4},
		{[]Word{{"a", 1, 1, 0.2}}, 0.2},                        // zero length counts
		{[]Word{{"a", 0, 1, math.NaN()}, {"b", 1, 2, 1}}, 0.5}, // NaN is 0
	} {
		if got := Confidence(tc.words); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Confidence(%v) = %v, want %v", tc.words, got, tc.want)
		}
	}
}

func TestMissingErrorMessage(t *testing.T) {
	e := &MissingError{What: "pocketsphinx_continuous", Install: installPS}
	want := "pocketsphinx_continuous not found: install the Debian packages pocketsphinx and pocketsphinx-en-us"
	if e.Error() != want {
		t.Errorf("%q, want %q", e.Error(), want)
	}
}

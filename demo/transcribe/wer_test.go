package transcribe

import (
	"reflect"
	"strings"
	"testing"
)

func TestWER(t *testing.T) {
	for _, tc := range []struct {
		ref, hyp      string
		errors, words int
	}{
		{"", "", 0, 0},
		{"", "a b", 2, 0},
		{"a b c", "", 3, 3},
		{"a b c", "a b c", 0, 3},
		{"the cat sat", "the bat sat", 1, 3},               // substitution
		{"the cat sat", "the sat", 1, 3},                   // deletion
		{"the cat sat", "the cat sat down", 1, 3},          // insertion
		{"a b c d", "b c d e", 2, 4},                       // a deleted, e inserted
		{"Hello, World!", "hello world", 0, 2},             // case and punctuation
		{"don't stop", "dont stop", 1, 2},                  // an apostrophe is part of a word
		{"ill-disposed", "ill disposed", 0, 2},             // a hyphen separates
		{"<s> five five </s> (004)", "five(2) five", 0, 2}, // sphinx markup
		{"he was not an ill disposed young man", "he was not an illness those young man", 2, 8},
	} {
		e, w := WER(tc.ref, tc.hyp)
		if e != tc.errors || w != tc.words {
			t.Errorf("WER(%q, %q) = %d/%d, want %d/%d", tc.ref, tc.hyp, e, w, tc.errors, tc.words)
		}
	}
}

func TestWERSymmetricDistance(t *testing.T) {
	// The edit distance is symmetric even though the word count is the reference's.
	a, b := "one two three four five", "two three six five seven"
	e1, _ := WER(a, b)
	e2, _ := WER(b, a)
	if e1 != e2 || e1 != 3 {
		t.Errorf("%d, %d, want 3", e1, e2)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize("<s> And MISTER John's  [NOISE] ill-disposed, \"quoted\" 'tis (sense_and_sensibility_01-0870)")
	want := []string{"and", "mister", "john's", "ill", "disposed", "quoted", "tis"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseTranscription(t *testing.T) {
	in := "<s> ten of clubs  </s> (001)\n\ngarbage\n<s> he was not </s> (sense-0880)\n(../etc)\n"
	got := parseTranscription(strings.NewReader(in), "/d")
	want := []transcript{{"/d/001.wav", "<s> ten of clubs  </s>"}, {"/d/sense-0880.wav", "<s> he was not </s>"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

package transcribe

import (
	"strings"
	"unicode"
)

// WER counts the word errors of hypothesis against reference: the fewest substitutions,
// deletions and insertions (Levenshtein distance over words) that turn one into the
// other, and the number of words of the reference; the word error rate is errors/words.
// Both are normalised first (Normalize).
func WER(reference, hypothesis string) (errors, words int) {
	ref, hyp := Normalize(reference), Normalize(hypothesis)
	if len(ref) == 0 {
		return len(hyp), 0
	}
	// One row of the edit-distance table at a time.
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)], len(ref)
}

// Normalize splits text into comparable words: lower case; fillers and markers dropped
// (<s>, </s>, <sil>, [NOISE], ++NOISE++, an utterance id in parentheses at the end);
// an alternate pronunciation's "(2)" removed; punctuation is a separator, except an
// apostrophe inside a word ("don't") and a hyphen, which joins nothing ("ill-disposed"
// is "ill disposed", as transcripts write it either way).
func Normalize(text string) []string {
	var out []string
	for _, tok := range strings.Fields(strings.ToLower(text)) {
		if isFiller(tok) || isUttID(tok) {
			continue
		}
		tok = wordOf(tok)
		if tok == "" {
			continue
		}
		for _, w := range strings.FieldsFunc(tok, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
		}) {
			if w = strings.Trim(w, "'"); w != "" {
				out = append(out, w)
			}
		}
	}
	return out
}

// isUttID: "(sense_and_sensibility_01_austen_64kb-0870)" or "(001)", the utterance id a
// CMU Sphinx transcription file ends a line with.
func isUttID(tok string) bool {
	return len(tok) > 2 && tok[0] == '(' && tok[len(tok)-1] == ')' &&
		strings.ContainsAny(tok[1:len(tok)-1], "_-0123456789")
}

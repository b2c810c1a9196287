package transcribe

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// ParseWordTimes reads the standard output of pocketsphinx_continuous -time yes
// (pocketsphinx 0.8+5prealpha, Debian 12). For each utterance its voice-activity detector
// finds, the tool prints the hypothesis on a line of its own and then one line per
// segment of the best path:
//
//	he was not an illness those young man
//	<s> 0.000 0.060 0.999500
//	<sil> 0.070 0.200 0.694306
//	was(2) 0.330 0.540 0.999800
//	[SPEECH] 0.980 1.100 0.535598
//
// that is the word, its first and last frame in seconds from the start of the input
// (frame / -frate, which is 100 by default), and its posterior probability, which
// continuous.c prints already converted from the log domain (logmath_exp of
// ps_seg_prob), so it is 0–1 but for rounding (1.000300 happens): it is clamped.
//
// A line is a word only when it has exactly four fields and the last three are finite
// numbers: hypothesis lines never are (dictionary words are not numbers), and anything
// else (a log line on the same stream, a blank hypothesis) is skipped. Fillers and
// silences (<s>, </s>, <sil>, [NOISE], [SPEECH], ++NOISE++, anything in angle or square
// brackets) are dropped and an alternate pronunciation's suffix "(2)" is removed.
// The words come back ordered by start time (stable), each with End ≥ Start ≥ 0 and a
// confidence in 0–1, whatever the input: it never panics.
func ParseWordTimes(output string) []Word {
	var words []Word
	for len(output) > 0 {
		line := output
		if i := strings.IndexByte(output, '\n'); i >= 0 {
			line, output = output[:i], output[i+1:]
		} else {
			output = ""
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		start, ok1 := number(f[1])
		end, ok2 := number(f[2])
		conf, ok3 := number(f[3])
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		w := wordOf(f[0])
		if w == "" {
			continue
		}
		start = math.Max(start, 0)
		end = math.Max(end, start)
		words = append(words, Word{Word: w, Start: start, End: end, Confidence: clamp01(conf)})
	}
	sort.SliceStable(words, func(i, j int) bool { return words[i].Start < words[j].Start })
	return words
}

// number parses a finite decimal number (not "NaN", "Inf", hex floats or underscores).
func number(s string) (float64, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// wordOf is the word a segment names, "" for a filler or silence.
func wordOf(s string) string {
	// An alternate pronunciation: "was(2)".
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndexByte(s, '('); i > 0 {
			if _, err := strconv.Atoi(s[i+1 : len(s)-1]); err == nil {
				s = s[:i]
			}
		}
	}
	if s == "" || isFiller(s) {
		return ""
	}
	return s
}

func isFiller(s string) bool {
	n := len(s)
	switch {
	case n >= 2 && s[0] == '<' && s[n-1] == '>': // <s> </s> <sil>
		return true
	case n >= 2 && s[0] == '[' && s[n-1] == ']': // [NOISE] [SPEECH] [BREATH] …
		return true
	case n >= 4 && strings.HasPrefix(s, "++") && strings.HasSuffix(s, "++"): // older models' ++NOISE++
		return true
	}
	return false
}

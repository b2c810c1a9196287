package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/vocafuse/recorder/internal/catalog"
)

// Bounds on a Range header: how many parts an answer may have (an <audio> element asks
// for one; a multipart answer of thousands of one-byte parts is many times the file),
// and how many elements are even looked at.
const (
	maxRangeParts    = 8
	maxRangeElements = 64
)

// byteRange is one satisfiable range, both ends included.
type byteRange struct{ first, last int64 }

// normaliseRange rewrites r's Range header for http.ServeContent, per RFC 9110 14.2:
// a header that is not a valid "bytes" range set is ignored (the whole audio, 200);
// one with no satisfiable range (bytes=-0 among them, which ServeContent got wrong) is
// made one ServeContent answers 416 with "Content-Range: bytes */<size>"; more than
// maxRangeParts ranges, or ranges adding up to more than the audio, are ignored. A
// satisfiable set is written out with absolute offsets.
func normaliseRange(r *http.Request, size int64) {
	raw := r.Header.Get("Range")
	if raw == "" {
		return
	}
	ranges, valid := parseRanges(raw, size)
	var total int64
	for _, br := range ranges {
		total += br.last - br.first + 1
	}
	switch {
	case !valid || len(ranges) > maxRangeParts || total > size:
		r.Header.Del("Range")
	case len(ranges) == 0:
		r.Header.Set("Range", "bytes="+strconv.FormatInt(size, 10)+"-")
	default:
		parts := make([]string, len(ranges))
		for i, br := range ranges {
			parts[i] = strconv.FormatInt(br.first, 10) + "-" + strconv.FormatInt(br.last, 10)
		}
		r.Header.Set("Range", "bytes="+strings.Join(parts, ","))
	}
}

// parseRanges reads a "bytes=" range set and returns its satisfiable ranges; valid is
// false when the header is not a well-formed range set.
func parseRanges(raw string, size int64) (ranges []byteRange, valid bool) {
	unit, set, ok := strings.Cut(raw, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, false
	}
	elements := strings.Split(set, ",")
	if len(elements) > maxRangeElements {
		return nil, false
	}
	seen := 0
	for _, el := range elements {
		el = strings.TrimSpace(el)
		if el == "" {
			continue
		}
		seen++
		first, last, ok := strings.Cut(el, "-")
		if !ok {
			return nil, false
		}
		switch {
		case first == "": // a suffix: the last N bytes
			n, ok := digits(last)
			if !ok {
				return nil, false
			}
			if n > 0 && size > 0 {
				ranges = append(ranges, byteRange{max(0, size-n), size - 1})
			}
		default:
			f, ok := digits(first)
			if !ok {
				return nil, false
			}
			l := size - 1
			if last != "" {
				if l, ok = digits(last); !ok || l < f {
					return nil, false
				}
			}
			if f < size {
				ranges = append(ranges, byteRange{f, min(l, size-1)})
			}
		}
	}
	return ranges, seen > 0
}

func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// audioErrors makes http.ServeContent's own error answers envelopes: 416 (no range
// satisfiable; its Content-Range: bytes */<size> stays) and 412 (a failed If-Match or
// If-Unmodified-Since) are 2003 for the header at fault.
func audioErrors(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	return &errorRewriter{ResponseWriter: w, answer: func(w http.ResponseWriter, status int) bool {
		switch status {
		case http.StatusRequestedRangeNotSatisfiable:
			writeErrorStatus(w, status, catalog.InvalidFieldValue, map[string]any{
				"field": "range", "reason": "no range is satisfiable for the audio's length"})
		case http.StatusPreconditionFailed:
			writeErrorStatus(w, status, catalog.InvalidFieldValue, map[string]any{
				"field": "precondition", "reason": "the audio does not match If-Match or If-Unmodified-Since"})
		default:
			return false
		}
		return true
	}}
}

package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
)

// fault is one entry of the plan that POST /_faults sets up (tests only, docs/api.md): the
// next Times requests whose path starts with PathPrefix (and ends with PathSuffix, and
// whose method is Method, when given: one part of any upload session, say) are answered with Code (at Status, default the catalogue's), cut off
// (Drop), or held for DelayMS first. A delay alone lets the request through afterwards.
// DropAfter lets the route run and then cuts the connection before a byte of its answer
// goes out: the server has acted, the client never hears (an answer lost on the way).
// URLTTLMS serves the request with presigned URLs that expire after that many
// milliseconds (rounded down to whole seconds), for an upload whose URL expires before
// its PUT.
type fault struct {
	PathPrefix string `json:"path_prefix"`
	PathSuffix string `json:"path_suffix,omitempty"`
	Method     string `json:"method,omitempty"`
	Status     int    `json:"status,omitempty"`
	Code       int    `json:"code,omitempty"`
	RetryAfter *int   `json:"retry_after,omitempty"`
	Times      int    `json:"times"`
	Drop       bool   `json:"drop,omitempty"`
	DelayMS    int    `json:"delay_ms,omitempty"`
	DropAfter  bool   `json:"drop_after,omitempty"`
	URLTTLMS   int    `json:"url_ttl_ms,omitempty"`
}

// faultPlan is the plan, in the order the faults were added: the first that matches a
// request applies to it.
type faultPlan struct {
	rateDetails func(retryAfter int) map[string]any // 4003's details, as the limiter writes them

	mu     sync.Mutex
	faults []*fault
}

// dropAfter is how much of a body is read before a dropped request's connection is
// cut, so that the client has really begun sending (its progress events have fired).
const dropAfter = 64 << 10

// middleware applies the plan to every request but /_faults itself.
func (p *faultPlan) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := p.take(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		notesOf(r).fault = f.describe()
		if f.DelayMS > 0 {
			select {
			case <-time.After(time.Duration(f.DelayMS) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		if f.URLTTLMS > 0 {
			r = r.WithContext(context.WithValue(r.Context(), urlTTLKey{}, time.Duration(f.URLTTLMS)*time.Millisecond))
		}
		switch {
		case f.Drop:
			_, _ = io.CopyN(io.Discard, r.Body, dropAfter)
			panic(http.ErrAbortHandler) // net/http closes the connection without an answer
		case f.DropAfter:
			held := &recorder{header: w.Header().Clone()} // the request id, for the route's own log lines
			next.ServeHTTP(held, r)
			notesOf(r).fault = "drop_after:" + strconv.Itoa(held.status) // what the client never heard
			panic(http.ErrAbortHandler)
		case f.Code != 0:
			p.answer(w, f)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

type urlTTLKey struct{}

// plannedURLTTL is the lifetime a url_ttl_ms fault gave the presigned URLs of r's answer.
func plannedURLTTL(r *http.Request) (time.Duration, bool) {
	d, ok := r.Context().Value(urlTTLKey{}).(time.Duration)
	return d, ok
}

// take finds the first fault matching r and uses up one of its times.
func (p *faultPlan) take(r *http.Request) (fault, bool) {
	if r.URL.Path == "/_faults" {
		return fault{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if !strings.HasPrefix(r.URL.Path, f.PathPrefix) || !strings.HasSuffix(r.URL.Path, f.PathSuffix) ||
			(f.Method != "" && !strings.EqualFold(f.Method, r.Method)) {
			continue
		}
		f.Times--
		if f.Times == 0 {
			p.faults = append(p.faults[:i], p.faults[i+1:]...)
		}
		return *f, true
	}
	return fault{}, false
}

// answer writes the fault's error: the catalogue's message for its code, with
// details.retry_after and Retry-After when a retry_after was planned (and, for 4003,
// the rest of the reference's details).
func (p *faultPlan) answer(w http.ResponseWriter, f fault) {
	entry, _ := catalog.ByAPICode(f.Code)
	var details map[string]any
	if f.RetryAfter != nil {
		w.Header().Set("Retry-After", strconv.Itoa(*f.RetryAfter))
		details = map[string]any{"retry_after": *f.RetryAfter}
		if entry.Code == catalog.RateLimitExceeded {
			details = p.rateDetails(*f.RetryAfter)
		}
	}
	writeErrorStatus(w, f.Status, entry.Code, details)
}

func (f fault) describe() string {
	switch {
	case f.Drop:
		return "drop"
	case f.DropAfter:
		return "drop_after"
	case f.Code != 0:
		return strconv.Itoa(f.Code)
	}
	if f.URLTTLMS > 0 && f.DelayMS == 0 {
		return "url_ttl"
	}
	return "delay"
}

// add is POST /_faults. Only from the server's own origin or from no page at all
// (the tests' Node process): a page on any other site open on the developer's machine
// must not plan faults (Server.sameOriginOnly, in routes).
func (p *faultPlan) add(w http.ResponseWriter, r *http.Request) {
	var f fault
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	d.DisallowUnknownFields() // a misspelt field would silently plan another fault
	if err := d.Decode(&f); err != nil {
		writeError(w, catalog.InvalidRequestFormat, nil)
		return
	}
	if apiErr := f.check(); apiErr != nil {
		apiErr.write(w)
		return
	}
	p.mu.Lock()
	p.faults = append(p.faults, &f)
	p.mu.Unlock()
	writeJSON(w, http.StatusCreated, f)
}

// check validates a planned fault and fills in its defaults.
func (f *fault) check() *apiError {
	if f.PathPrefix == "" {
		return missingField("path_prefix")
	}
	acts := f.Drop || f.DropAfter || f.DelayMS != 0 || f.URLTTLMS != 0
	if (f.Code == 0 && !acts) || (f.Code == 0 && f.Status != 0) {
		return missingField("code")
	}
	if f.Code != 0 {
		entry, ok := catalog.ByAPICode(f.Code)
		if !ok {
			return invalidField("code", json.RawMessage(strconv.Itoa(f.Code)), "must be an API error code of the reference")
		}
		if f.Status == 0 {
			f.Status = entry.HTTPStatus
		}
	}
	switch {
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return invalidField("status", json.RawMessage(strconv.Itoa(f.Status)), "must be an HTTP error status (400 to 599)")
	case f.Times < 0:
		return invalidField("times", json.RawMessage(strconv.Itoa(f.Times)), "must be a positive integer")
	case f.DelayMS < 0 || f.DelayMS > 60_000:
		return invalidField("delay_ms", json.RawMessage(strconv.Itoa(f.DelayMS)), "must be between 0 and 60000")
	case f.URLTTLMS < 0 || f.URLTTLMS > 3_600_000:
		return invalidField("url_ttl_ms", json.RawMessage(strconv.Itoa(f.URLTTLMS)), "must be between 0 and 3600000")
	case f.Drop && f.DropAfter:
		return invalidField("drop_after", json.RawMessage("true"), "drop cuts before the route runs, drop_after after it: one of the two")
	case f.RetryAfter != nil && *f.RetryAfter < 0:
		return invalidField("retry_after", json.RawMessage(strconv.Itoa(*f.RetryAfter)), "must not be negative")
	}
	if f.Times == 0 {
		f.Times = 1
	}
	return nil
}

// list is GET /_faults: what is still planned.
func (p *faultPlan) list(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	out := make([]fault, len(p.faults))
	for i, f := range p.faults {
		out[i] = *f
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"faults": out})
}

// clear is DELETE /_faults.
func (p *faultPlan) clear(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.faults = nil
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

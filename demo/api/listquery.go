package api

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vocafuse/recorder/demo/store"
)

// List paging (docs/api.md): VocaFuse's numbered pages, from 0.
const (
	defaultPageSize = 50
	maxPageSize     = 100
	maxPage         = 1_000_000
)

// listQuery is a list request read from its query string.
type listQuery struct {
	filter      store.Filter
	page, limit int
	cursorOwner store.Owner // what a next_cursor is sealed for
}

// parseListQuery reads ?page, ?limit, ?status, ?date_from, ?date_to, ?identity and the
// older ?cursor. A filter the server cannot apply is never ignored: a bad value is
// 2003 with the field, the value as sent and why.
//
// The cursor is this API's first paging scheme, kept for the clients written against
// it: opaque, sealed for the caller, and not to be combined with page. Numbered pages
// are the documented scheme.
func (s *Server) parseListQuery(q url.Values, c caller) (listQuery, *apiError) {
	lq := listQuery{filter: c.filter(), limit: defaultPageSize}
	bad := func(field, reason string) *apiError {
		return invalidValue(field, q.Get(field), reason)
	}
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			return lq, bad("limit", "must be an integer between 1 and 100")
		}
		lq.limit = n
	}
	if raw := q.Get("page"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > maxPage {
			return lq, bad("page", "must be an integer from 0 (the first page)")
		}
		lq.page = n
	}
	if raw := q.Get("status"); raw != "" {
		if !slices.Contains(store.Statuses, raw) {
			return lq, bad("status", "must be one of "+strings.Join(store.Statuses, ", "))
		}
		lq.filter.Status = raw
	}
	for _, d := range []struct {
		field string
		into  *time.Time
		end   bool
	}{{"date_from", &lq.filter.From, false}, {"date_to", &lq.filter.To, true}} {
		if raw := q.Get(d.field); raw != "" {
			t, ok := parseDateBound(raw, d.end)
			if !ok {
				return lq, bad(d.field, "must be an RFC 3339 date (2024-01-31) or date-time (2024-01-31T12:00:00Z)")
			}
			*d.into = t
		}
	}
	if !lq.filter.From.IsZero() && !lq.filter.To.IsZero() && lq.filter.To.Before(lq.filter.From) {
		return lq, bad("date_to", "must not be before date_from")
	}
	if q.Has("identity") {
		identity := q.Get("identity")
		switch {
		case !validIdentity(identity):
			return lq, bad("identity", "must be a string of 1 to 128 characters, not only spaces")
		case !c.backend() && identity != c.identity:
			return lq, bad("identity", "a browser's token lists its own identity's voice notes only")
		}
		lq.filter.Owner = store.OwnerOf(identity)
	}
	lq.cursorOwner = lq.filter.Owner
	if raw := q.Get("cursor"); raw != "" {
		if q.Has("page") {
			return lq, bad("cursor", "cannot be combined with page")
		}
		before, ok := s.cursors.decode(lq.cursorOwner, raw)
		if !ok {
			return lq, bad("cursor", "must be a next_cursor from an earlier page")
		}
		lq.filter.Before = before
	}
	return lq, nil
}

// parseDateBound reads an RFC 3339 date-time, or a date, which as an upper bound
// means the whole of that day (UTC): date_to=2024-01-31 includes the 31st.
func parseDateBound(raw string, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		return t, true
	}
	t, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return t, true
}

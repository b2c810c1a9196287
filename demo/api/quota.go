package api

import (
	"hash/maphash"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/catalog"
)

// quotaRetryAfter is the wait a quota's refusal suggests: the space frees only when the
// identity deletes voice notes, which no clock tells; a minute is a sensible next look.
const quotaRetryAfter = time.Minute

// storageQuota bounds the audio one identity keeps. It is checked before a body is read
// (against the size the request announces) and again, authoritatively, at commit: the
// commits of one identity pass through one lock, so two uploads that each fit cannot
// both be stored past the quota.
type storageQuota struct {
	perIdentity int64
	store       *store.Store

	seed  maphash.Seed
	locks [64]sync.Mutex
}

func newStorageQuota(perIdentity int64, st *store.Store) *storageQuota {
	return &storageQuota{perIdentity: perIdentity, store: st, seed: maphash.MakeSeed()}
}

// overQuota is the decision: adding size to what is stored passes the limit.
func overQuota(stored, size, limit int64) bool { return stored+size > limit }

// lock serialises the commits of owner (and of the few owners that share its stripe).
func (q *storageQuota) lock(owner store.Owner) (unlock func()) {
	m := &q.locks[maphash.String(q.seed, string(owner))%uint64(len(q.locks))]
	m.Lock()
	return m.Unlock
}

// check tells whether size more bytes for voice note id fit owner's quota. The id's
// own voice note, when stored already, is not counted again: repeating an upload
// changes nothing, so it must not be refused for space it already has.
func (q *storageQuota) check(owner store.Owner, id string, size int64) (stored int64, over bool, err error) {
	if id != "" {
		if _, found, err := q.store.Get(owner, id); err != nil || found {
			return 0, false, err
		}
	}
	if stored, err = q.store.StoredBytes(owner); err != nil {
		return 0, false, err
	}
	return stored, overQuota(stored, size, q.perIdentity), nil
}

// withinQuota answers the request itself (429 / 4003, or a storage failure) and returns
// false when size more bytes for voice note id (or "") do not fit owner's quota. With
// bodyUnread the connection is closed after the answer: the body is still coming.
func (s *Server) withinQuota(w http.ResponseWriter, r *http.Request, owner store.Owner, id string, size int64, bodyUnread bool) bool {
	stored, over, err := s.quota.check(owner, id, size)
	if (err != nil || over) && bodyUnread {
		w.Header().Set("Connection", "close")
	}
	switch {
	case err != nil:
		s.storageFailure(w, r, "storage quota", err)
		return false
	case over:
		s.quotaExceeded(w, stored)
		return false
	}
	return true
}

// quotaExceeded is a quota's refusal: the client's own limit, so 4003 (429), which the
// SDKs keep the recording for and retry after retry_after; details say which limit.
func (s *Server) quotaExceeded(w http.ResponseWriter, stored int64) {
	wait := int(quotaRetryAfter / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	writeError(w, catalog.RateLimitExceeded, map[string]any{
		"limit": s.quota.perIdentity, "stored": stored, "retry_after": wait, "reason": "storage quota"})
}

package api

import (
	"net/http"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
)

// audio is GET (and HEAD) /v1/voicenotes/{id}/audio: the stored bytes with their type,
// with Range requests so an <audio> element can seek. It takes a bearer token, or the
// signed query of a resource's audio_url, which an <audio> element can use because it
// carries no header. A signed URL that is expired or altered is 404 / 6001, like a
// voice note that does not exist: it grants nothing, so it reveals nothing.
func (s *Server) audio(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); !q.Has(auth.ParamSignature) {
		s.tokenOrKey(auth.ScopeRead, func(w http.ResponseWriter, r *http.Request, c caller) {
			if n, ok := s.findVoiceNote(w, r, c); ok {
				s.serveAudio(w, r, n)
			}
		})(w, r)
		return
	}
	if !s.allowOn(w, s.audioLimiter, "url:"+clientKey(r)) {
		return
	}
	owner, ok := s.signedOwner(w, r)
	if !ok {
		return
	}
	if n, ok := s.findVoiceNote(w, r, caller{identityOwner: owner}); ok {
		s.serveAudio(w, r, n)
	}
}

// serveAudio answers the voice note's audio, with ranges and conditional requests.
func (s *Server) serveAudio(w http.ResponseWriter, r *http.Request, n store.VoiceNote) {
	f, err := s.store.OpenAudio(n)
	if err != nil {
		s.internal(w, r, "open audio", err)
		return
	}
	defer f.Close()
	// A long recording played over a slow link may take longer than writeTimeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(10 * time.Minute))
	h := w.Header()
	h.Set("Content-Type", n.MimeType)
	// The bytes under an id never change (a PUT of other bytes is refused), so the
	// SHA-256 is a strong validator for If-Range and conditional requests.
	etag := `"` + n.SHA256 + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=300")
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		r.Header.Del("Range") // RFC 9110 13.1.5: the whole audio
	}
	normaliseRange(r, n.Size)
	http.ServeContent(audioErrors(w, r), r, "", n.CreatedAt, f)
}

// signedOwner checks the signed query against the id in the path and returns the owner
// its handle names; an altered, expired or unknown one is answered 404 / 6001 here.
func (s *Server) signedOwner(w http.ResponseWriter, r *http.Request) (store.Owner, bool) {
	q := r.URL.Query()
	handle := q.Get(auth.ParamOwner)
	id, ok := store.ParseID(r.PathValue("id"))
	if !ok || !s.urls.Verify(handle, id, q.Get(auth.ParamExpires), q.Get(auth.ParamSignature)) {
		voiceNoteNotFound(w, r.PathValue("id"))
		return "", false
	}
	owner, found, err := s.store.OwnerOfHandle(handle)
	switch {
	case err != nil:
		s.internal(w, r, "resolve owner handle", err)
		return "", false
	case !found:
		voiceNoteNotFound(w, r.PathValue("id"))
		return "", false
	}
	return owner, true
}

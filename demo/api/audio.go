package api

import (
	"net/http"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
)

// audio is GET (and HEAD) /v1/voicenotes/{id}/audio: the stored bytes with their type,
// with Range requests so an <audio> element can seek. It takes a bearer token, or the
// signed query of a resource's audio_url, which an <audio> element can use because it
// carries no header. A signed URL that is expired or altered is 404 / 6001, like a
// voice note that does not exist: it grants nothing, so it reveals nothing.
func (s *Server) audio(w http.ResponseWriter, r *http.Request) {
	var owner store.Owner
	if q := r.URL.Query(); q.Has(auth.ParamSignature) {
		var ok bool
		owner, ok = s.signedOwner(r)
		if !ok {
			voiceNoteNotFound(w, r.PathValue("id"))
			return
		}
		if !s.allow(w, identityKey(owner)) {
			return
		}
	} else {
		c, ok := s.authenticate(w, r, auth.ScopeRead)
		if !ok {
			return
		}
		owner = store.OwnerOf(c.Identity)
	}
	n, ok := s.findVoiceNote(w, r, owner)
	if !ok {
		return
	}
	f, err := s.store.OpenAudio(n)
	if err != nil {
		s.internal(w, r, "open audio", err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", n.MimeType)
	// The bytes under an id never change (a PUT of other bytes is refused), so the
	// SHA-256 is a strong validator for If-Range and conditional requests.
	h.Set("ETag", `"`+n.SHA256+`"`)
	h.Set("Cache-Control", "private, max-age=300")
	http.ServeContent(w, r, "", n.CreatedAt, f)
}

// signedOwner checks the signed query against the id in the path and returns the owner
// it names.
func (s *Server) signedOwner(r *http.Request) (store.Owner, bool) {
	q := r.URL.Query()
	owner, ok := store.ParseOwner(q.Get(auth.ParamOwner))
	if !ok {
		return "", false
	}
	id, ok := store.ParseID(r.PathValue("id"))
	if !ok {
		return "", false
	}
	return owner, s.urls.Verify(string(owner), id, q.Get(auth.ParamExpires), q.Get(auth.ParamSignature))
}

package api

import (
	"net/http"
	"strconv"
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
	if n, ok := s.signedNote(w, r); ok {
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

// audioVersion is what a signed audio URL binds besides the owner and the id: the note
// itself (its Seq, which no other note ever has) and its bytes. A URL made for a note
// that was deleted and uploaded again under the same id does not play the new one.
func audioVersion(n store.VoiceNote) string {
	return strconv.FormatUint(n.Seq, 10) + "/" + n.SHA256
}

// signedNote returns the voice note a signed query is for, checking the signature
// against the note as it is now; an altered, expired or outdated URL, or one whose
// handle or note is unknown, is answered 404 / 6001 here, all alike.
func (s *Server) signedNote(w http.ResponseWriter, r *http.Request) (store.VoiceNote, bool) {
	q := r.URL.Query()
	handle := q.Get(auth.ParamOwner)
	id, ok := store.ParseID(r.PathValue("id"))
	if !ok {
		voiceNoteNotFound(w, r.PathValue("id"))
		return store.VoiceNote{}, false
	}
	owner, found, err := s.store.OwnerOfHandle(handle)
	var n store.VoiceNote
	if err == nil && found {
		n, found, err = s.store.Get(owner, id)
	}
	if err != nil {
		s.internal(w, r, "find a signed URL's voice note", err)
		return store.VoiceNote{}, false
	}
	version := ""
	if found {
		version = audioVersion(n)
	}
	// Checked whether or not the note was found, so that the time taken tells nothing.
	valid := s.urls.Verify(handle, id, version, q.Get(auth.ParamExpires), q.Get(auth.ParamSignature))
	if !found || !valid {
		voiceNoteNotFound(w, r.PathValue("id"))
		return store.VoiceNote{}, false
	}
	return n, true
}

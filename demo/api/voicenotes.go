package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/wasm/catalog"
)

// resource is a voice note as the API shows it (docs/api.md).
type resource struct {
	ID        string          `json:"id"`
	Identity  string          `json:"identity"`
	Format    string          `json:"format"`
	MimeType  string          `json:"mime_type"`
	Size      int64           `json:"size"`
	Duration  float64         `json:"duration"`
	Metadata  json.RawMessage `json:"metadata"`
	Status    string          `json:"status"`
	CreatedAt string          `json:"created_at"`
	AudioURL  string          `json:"audio_url"`
}

// resourceOf shows a stored voice note, with a freshly signed audio_url. The URL is
// absolute, built from the configured public URL (never from the request's Host, which
// the client writes), so that a page on another origin can put it in an <audio>
// element as it is. It names the owner by its keyed handle (store.Handle).
func (s *Server) resourceOf(r *http.Request, n store.VoiceNote) resource {
	metadata := n.Metadata
	if len(metadata) == 0 {
		metadata = json.RawMessage("{}")
	}
	query := s.urls.Sign(s.store.Handle(n.Owner), n.ID, s.audioURLTTL)
	return resource{
		ID:        n.ID,
		Identity:  n.Identity,
		Format:    n.Format,
		MimeType:  n.MimeType,
		Size:      n.Size,
		Duration:  math.Round(n.Duration*1000) / 1000,
		Metadata:  metadata,
		Status:    "uploaded",
		CreatedAt: n.CreatedAt.UTC().Format(time.RFC3339),
		AudioURL:  s.publicURL + "/v1/voicenotes/" + n.ID + "/audio?" + query.Encode(),
	}
}

// voiceNoteNotFound is 6001 with the id as sent, as the reference shows it ("rec_invalid123"):
// an id that is not a UUID names no voice note, so outside an upload it is simply not found.
func voiceNoteNotFound(w http.ResponseWriter, rawID string) {
	writeError(w, catalog.RecordingNotFound, map[string]any{"voicenote_id": rawID})
}

// findVoiceNote looks up the caller's voice note named in the path, answering 6001
// itself when there is none. Another identity's voice note is looked for in the caller's
// namespace, so it is missing in exactly the same way.
func (s *Server) findVoiceNote(w http.ResponseWriter, r *http.Request, owner store.Owner) (store.VoiceNote, bool) {
	rawID := r.PathValue("id")
	id, ok := store.ParseID(rawID)
	if !ok {
		voiceNoteNotFound(w, rawID)
		return store.VoiceNote{}, false
	}
	n, found, err := s.store.Get(owner, id)
	if err != nil {
		s.internal(w, r, "get voice note", err)
		return store.VoiceNote{}, false
	}
	if !found {
		voiceNoteNotFound(w, rawID)
	}
	return n, found
}

// getVoiceNote is GET /v1/voicenotes/{id}.
func (s *Server) getVoiceNote(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	if n, ok := s.findVoiceNote(w, r, store.OwnerOf(c.Identity)); ok {
		writeJSON(w, http.StatusOK, s.resourceOf(r, n))
	}
}

// deleteVoiceNote is DELETE /v1/voicenotes/{id}.
func (s *Server) deleteVoiceNote(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	rawID := r.PathValue("id")
	id, ok := store.ParseID(rawID)
	if !ok {
		voiceNoteNotFound(w, rawID)
		return
	}
	found, err := s.removeVoiceNote(r, store.OwnerOf(c.Identity), id)
	switch {
	case err != nil:
		s.internal(w, r, "delete voice note", err)
	case !found:
		voiceNoteNotFound(w, rawID)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// transcription is GET /v1/voicenotes/{id}/transcription: the local server does not
// transcribe, so a voice note that exists has none (6002); one that does not is 6001.
func (s *Server) transcription(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	if n, ok := s.findVoiceNote(w, r, store.OwnerOf(c.Identity)); ok {
		writeError(w, catalog.TranscriptionNotFound, map[string]any{"voicenote_id": n.ID})
	}
}

// List paging.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// listVoiceNotes is GET /v1/voicenotes?limit=N&cursor=C: the caller's own, newest first.
// The cursor is opaque: the position of the page's last voice note, sealed for the
// caller's identity (cursors), so it tells nothing of how many voice notes the server
// holds and means nothing to another identity.
func (s *Server) listVoiceNotes(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	q := r.URL.Query()
	limit := defaultPageSize
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			writeError(w, catalog.InvalidFieldValue, map[string]any{"field": "limit", "value": raw,
				"reason": "must be an integer between 1 and 100"})
			return
		}
		limit = n
	}
	var before uint64
	if raw := q.Get("cursor"); raw != "" {
		var ok bool
		if before, ok = s.cursors.decode(store.OwnerOf(c.Identity), raw); !ok {
			writeError(w, catalog.InvalidFieldValue, map[string]any{"field": "cursor", "value": raw,
				"reason": "must be a next_cursor from an earlier page"})
			return
		}
	}
	page, more, err := s.store.List(store.OwnerOf(c.Identity), limit, before)
	if err != nil {
		s.internal(w, r, "list voice notes", err)
		return
	}
	data := make([]resource, len(page))
	for i, n := range page {
		data[i] = s.resourceOf(r, n)
	}
	var next any // null on the last page
	if more {
		next = s.cursors.encode(store.OwnerOf(c.Identity), page[len(page)-1].Seq)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": more, "next_cursor": next})
}

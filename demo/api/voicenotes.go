package api

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/catalog"
)

// resource is a voice note as the API shows it (docs/api.md): VocaFuse's fields first,
// then this API's own. size is file_size under the name this API's first clients read.
type resource struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Duration  float64         `json:"duration"`
	FileSize  int64           `json:"file_size"`
	Metadata  json.RawMessage `json:"metadata"`
	Format    string          `json:"format"`
	MimeType  string          `json:"mime_type"`
	Identity  string          `json:"identity"`
	AudioURL  string          `json:"audio_url,omitempty"`
	Size      int64           `json:"size"`
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
	query := s.urls.Sign(s.store.Handle(n.Owner), n.ID, audioVersion(n), s.audioURLTTL)
	return resource{
		ID:        n.ID,
		Status:    n.State(),
		CreatedAt: n.CreatedAt.UTC().Format(time.RFC3339),
		UpdatedAt: n.Updated().UTC().Format(time.RFC3339),
		Duration:  math.Round(n.Duration*1000) / 1000,
		FileSize:  n.Size,
		Metadata:  metadata,
		Format:    n.Format,
		MimeType:  n.MimeType,
		Identity:  n.Identity,
		AudioURL:  s.publicURL + "/v1/voicenotes/" + n.ID + "/audio?" + query.Encode(),
		Size:      n.Size,
	}
}

// writeVoiceNote answers one voice note as VocaFuse's clients read it, under "data",
// with the same fields at the top level as well, where this API's first clients read them.
func (s *Server) writeVoiceNote(w http.ResponseWriter, r *http.Request, status int, n store.VoiceNote) {
	writeSingle(w, status, s.resourceOf(r, n))
}

// writeSingle answers a single resource: { "data": res } with res's fields beside it.
// res encodes as a JSON object (a resource struct); its members are written once at the
// top level and once more, the whole object, under "data".
func writeSingle(w http.ResponseWriter, status int, res any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as writeJSON: keep the & of a signed audio_url readable
	_ = enc.Encode(res)      // a resource struct of strings, numbers and raw JSON: cannot fail
	fields := bytes.TrimSpace(b.Bytes())
	body := make([]byte, 0, 2*len(fields)+len(`,"data":}`))
	body = append(body, fields[:len(fields)-1]...) // the object without its closing brace
	if len(fields) > 2 {
		body = append(body, ',')
	}
	body = append(body, `"data":`...)
	body = append(body, fields...)
	writeJSON(w, status, json.RawMessage(append(body, '}')))
}

// voiceNoteNotFound is 6001 with the id as sent, as the reference shows it ("rec_invalid123"):
// an id that is not a UUID names no voice note, so outside an upload it is simply not found.
func voiceNoteNotFound(w http.ResponseWriter, rawID string) {
	writeError(w, catalog.RecordingNotFound, map[string]any{"voicenote_id": rawID})
}

// findVoiceNote looks up the voice note named in the path among those the caller may
// see, answering 6001 itself when there is none. Another identity's voice note is
// looked for in the caller's namespace, so it is missing in exactly the same way.
func (s *Server) findVoiceNote(w http.ResponseWriter, r *http.Request, c caller) (store.VoiceNote, bool) {
	rawID := r.PathValue("id")
	id, ok := store.ParseID(rawID)
	if !ok {
		voiceNoteNotFound(w, rawID)
		return store.VoiceNote{}, false
	}
	var n store.VoiceNote
	var found bool
	var err error
	if owner := c.filter().Owner; owner != "" {
		n, found, err = s.store.Get(owner, id)
	} else {
		n, found, err = s.store.Find(id)
	}
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
func (s *Server) getVoiceNote(w http.ResponseWriter, r *http.Request, c caller) {
	if n, ok := s.findVoiceNote(w, r, c); ok {
		s.writeVoiceNote(w, r, http.StatusOK, n)
	}
}

// deleteVoiceNote is DELETE /v1/voicenotes/{id}.
func (s *Server) deleteVoiceNote(w http.ResponseWriter, r *http.Request, c caller) {
	n, ok := s.findVoiceNote(w, r, c)
	if !ok {
		return
	}
	found, err := s.removeVoiceNote(r, n.Owner, n.ID)
	switch {
	case err != nil:
		s.storageFailure(w, r, "delete voice note", err) // a full disk is 5002, as for an upload
	case !found:
		voiceNoteNotFound(w, r.PathValue("id"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// listVoiceNotes is GET /v1/voicenotes: newest first, the caller's own (a browser) or
// the account's (the backend), in numbered pages (?page=0&limit=50) with VocaFuse's
// filters. A cursor (?cursor=, this API's first scheme) is still taken: see listQuery.
func (s *Server) listVoiceNotes(w http.ResponseWriter, r *http.Request, c caller) {
	q, apiErr := s.parseListQuery(r.URL.Query(), c)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	page, total, more, err := s.store.Page(q.filter, q.page*q.limit, q.limit)
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
		next = s.cursors.encode(q.cursorOwner, page[len(page)-1].Seq)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data":        data,
		"pagination":  map[string]any{"page": q.page, "limit": q.limit, "total": total, "has_more": more},
		"has_more":    more,
		"next_cursor": next,
	})
}

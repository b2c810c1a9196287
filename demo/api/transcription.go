package api

import (
	"net/http"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/catalog"
)

// Transcriber is the background transcription queue (demo/transcription): told when a
// voice note arrives, and when one is deleted so that its recognition is abandoned.
type Transcriber interface {
	Wake()
	Drop(id string)
	Load() (running, workers int)
}

// transcriptResource is a transcription as the API shows it (docs/api.md, "Transcription").
type transcriptResource struct {
	ID          string       `json:"id"`
	VoiceNoteID string       `json:"voicenote_id"`
	Text        string       `json:"text"`
	Confidence  float64      `json:"confidence"`
	Language    string       `json:"language"`
	Words       []store.Word `json:"words"`
	CreatedAt   string       `json:"created_at"`
}

func transcriptOf(n store.VoiceNote, t store.Transcript) transcriptResource {
	words := t.Words
	if words == nil {
		words = []store.Word{}
	}
	return transcriptResource{ID: t.ID, VoiceNoteID: n.ID, Text: t.Text, Confidence: t.Confidence,
		Language: t.Language, Words: words, CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339)}
}

// transcriptionFailure is 3003's details for a note whose transcription failed.
func transcriptionFailure(n store.VoiceNote, t store.Transcript) map[string]any {
	return map[string]any{"voicenote_id": n.ID, "reason": t.Reason}
}

// transcription is GET /v1/voicenotes/{id}/transcription: 6002 while the note is
// processing, 422 / 3003 with the reason once it failed, the transcription once there is one.
func (s *Server) transcription(w http.ResponseWriter, r *http.Request, c caller) {
	n, ok := s.findVoiceNote(w, r, c)
	if !ok {
		return
	}
	if n.State() == store.StatusProcessing {
		writeError(w, catalog.TranscriptionNotFound, map[string]any{"voicenote_id": n.ID})
		return
	}
	t, found, err := s.store.Transcript(n)
	switch {
	case err != nil:
		s.internal(w, r, "read transcription", err)
	case !found:
		writeError(w, catalog.TranscriptionNotFound, map[string]any{"voicenote_id": n.ID})
	case t.Failed:
		writeError(w, catalog.TranscriptionFailed, transcriptionFailure(n, t))
	default:
		writeSingle(w, http.StatusOK, transcriptOf(n, t))
	}
}

// noteEventData is the data of voicenote.transcribed (the note with its transcription)
// and voicenote.failed (the note with the error a GET of its transcription answers).
type noteEventData struct {
	resource
	Transcription *transcriptResource `json:"transcription,omitempty"`
	Error         map[string]any      `json:"error,omitempty"`
}

// TranscriptEvent renders the event that says how a note's transcription ended, for
// the queue to record with the note's new status (transcription.Config.Render).
func (s *Server) TranscriptEvent(t store.Transcript) store.EventFunc {
	return func(n store.VoiceNote) (string, []byte, error) {
		data := noteEventData{resource: s.resourceOf(nil, n)}
		event := "voicenote.transcribed"
		if t.Failed {
			event = "voicenote.failed"
			entry, _ := catalog.Lookup(catalog.TranscriptionFailed)
			data.Error = map[string]any{"code": entry.APICode, "message": entry.Message, "details": transcriptionFailure(n, t)}
		} else {
			tr := transcriptOf(n, t)
			data.Transcription = &tr
		}
		body, err := s.eventBody(event, data)
		return event, body, err
	}
}

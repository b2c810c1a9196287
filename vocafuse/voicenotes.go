package vocafuse

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// VoiceNote is a recorded voice note as the API shows it.
type VoiceNote struct {
	ID        string          `json:"id"`
	Identity  string          `json:"identity"`
	Format    string          `json:"format"` // "webm", "ogg" or "wav"
	MimeType  string          `json:"mime_type"`
	Size      int64           `json:"size"`     // bytes
	Duration  float64         `json:"duration"` // seconds, read from the container
	Metadata  json.RawMessage `json:"metadata"` // what the page attached, as JSON
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	// AudioURL plays the audio without credentials for a short while (15 minutes on the
	// local server); for a page's <audio> element. Audio downloads with a token instead.
	AudioURL string `json:"audio_url"`
}

// VoiceNotePage is one page of a listing, newest first.
type VoiceNotePage struct {
	Data       []*VoiceNote `json:"data"`
	HasMore    bool         `json:"has_more"`
	NextCursor string       `json:"next_cursor"` // for ListParams.Cursor; "" on the last page
}

// ListParams choose a page.
type ListParams struct {
	Limit  int    // 1..100; 0 leaves the API's default (20)
	Cursor string // a NextCursor from the page before; "" for the newest
}

// Transcription is a voice note's text. The local server does not transcribe: there
// it is always 6002 TRANSCRIPTION_NOT_FOUND.
type Transcription struct {
	VoiceNoteID string          `json:"voicenote_id"`
	Text        string          `json:"text"`
	Language    string          `json:"language"`
	Confidence  float64         `json:"confidence"`
	Raw         json.RawMessage `json:"-"` // the whole answer, for fields this type lacks
}

// Audio is a voice note's audio on its way down. Close it.
type Audio struct {
	io.ReadCloser
	ContentType string // "audio/webm;codecs=opus" and the like
	Size        int64  // -1 when the answer did not say
}

// VoiceNotes are one identity's voice notes. Get them from Client.VoiceNotes.
type VoiceNotes struct {
	c        *Client
	identity string
}

// VoiceNotes returns the voice notes of identity, the user a browser token was minted
// for. The API keeps voice notes per identity (a browser sees only its own), so the
// client reads them as that identity: it mints a token for it with the API key and
// secret (one POST /v1/tokens, reused for an hour) and sends it with each call.
//
//	note, err := client.VoiceNotes("user_42").Get(ctx, id)
func (c *Client) VoiceNotes(identity string) *VoiceNotes {
	return &VoiceNotes{c: c, identity: identity}
}

func (v *VoiceNotes) path(id string) string { return "/v1/voicenotes/" + url.PathEscape(id) }

// Get returns a voice note (GET /v1/voicenotes/{id}). A missing one, or another
// identity's, is 6001 RECORDING_NOT_FOUND (errors.Is(err, ErrNotFound)).
func (v *VoiceNotes) Get(ctx context.Context, id string) (*VoiceNote, error) {
	var n VoiceNote
	_, err := v.c.do(ctx, call{method: http.MethodGet, path: v.path(id), auth: auth{v.identity}, repeatable: true}, &n)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// List returns one page of the identity's voice notes, newest first (GET /v1/voicenotes).
func (v *VoiceNotes) List(ctx context.Context, p ListParams) (*VoiceNotePage, error) {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	var page VoiceNotePage
	_, err := v.c.do(ctx, call{method: http.MethodGet, path: "/v1/voicenotes", query: q, auth: auth{v.identity}, repeatable: true}, &page)
	if err != nil {
		return nil, err
	}
	return &page, nil
}

// Pages iterates over the pages of the listing, starting at p, fetching each when the
// loop reaches it. An error ends the iteration after it is yielded; breaking out of the
// loop fetches nothing more.
//
//	for page, err := range client.VoiceNotes("user_42").Pages(ctx, vocafuse.ListParams{Limit: 50}) {
//		if err != nil { return err }
//		for _, note := range page.Data { … }
//	}
func (v *VoiceNotes) Pages(ctx context.Context, p ListParams) iter.Seq2[*VoiceNotePage, error] {
	return func(yield func(*VoiceNotePage, error) bool) {
		for {
			page, err := v.List(ctx, p)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) || !page.HasMore || page.NextCursor == "" {
				return
			}
			p.Cursor = page.NextCursor
		}
	}
}

// All iterates over every voice note of the identity, newest first, page by page (see
// Pages).
func (v *VoiceNotes) All(ctx context.Context, p ListParams) iter.Seq2[*VoiceNote, error] {
	return func(yield func(*VoiceNote, error) bool) {
		for page, err := range v.Pages(ctx, p) {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, n := range page.Data {
				if !yield(n, nil) {
					return
				}
			}
		}
	}
}

// Delete deletes a voice note and its audio (DELETE /v1/voicenotes/{id}). A missing
// one is 6001.
func (v *VoiceNotes) Delete(ctx context.Context, id string) error {
	_, err := v.c.do(ctx, call{method: http.MethodDelete, path: v.path(id), auth: auth{v.identity}, repeatable: true}, nil)
	return err
}

// Audio downloads a voice note's audio (GET /v1/voicenotes/{id}/audio), exactly the
// bytes uploaded. The caller reads and closes it; a failure before the answer began is
// retried like any GET, one while reading is the caller's to handle.
func (v *VoiceNotes) Audio(ctx context.Context, id string) (*Audio, error) {
	resp, err := v.c.do(ctx, call{method: http.MethodGet, path: v.path(id) + "/audio", auth: auth{v.identity},
		repeatable: true, stream: true}, nil)
	if err != nil {
		return nil, err
	}
	return &Audio{ReadCloser: resp.Body, ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}, nil
}

// Transcription returns a voice note's transcription
// (GET /v1/voicenotes/{id}/transcription): 6002 TRANSCRIPTION_NOT_FOUND while there is
// none, 6001 when the voice note does not exist.
func (v *VoiceNotes) Transcription(ctx context.Context, id string) (*Transcription, error) {
	var raw json.RawMessage
	_, err := v.c.do(ctx, call{method: http.MethodGet, path: v.path(id) + "/transcription", auth: auth{v.identity}, repeatable: true}, &raw)
	if err != nil {
		return nil, err
	}
	t := &Transcription{Raw: raw}
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, &Error{Message: "transcription is not the expected JSON", Err: err}
	}
	return t, nil
}

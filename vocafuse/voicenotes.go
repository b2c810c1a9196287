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

// The statuses of a voice note, for VoiceNote.Status and ListParams.Status.
const (
	StatusProcessing  = "processing"  // from the upload until the transcription ends
	StatusTranscribed = "transcribed" // the transcription is ready
	StatusFailed      = "failed"      // no speech was recognised, or the engine failed
)

// VoiceNote is a recorded voice note as the API shows it: VocaFuse's fields (ID,
// Status, CreatedAt, UpdatedAt, Duration, FileSize, Metadata), then the local API's own.
type VoiceNote struct {
	ID        string          `json:"id"`
	Identity  string          `json:"identity"` // the user whose token uploaded it
	Format    string          `json:"format"`   // "webm", "ogg" or "wav"
	MimeType  string          `json:"mime_type"`
	Size      int64           `json:"size"`      // bytes; the same as FileSize (this API's first name for it)
	FileSize  int64           `json:"file_size"` // bytes, under VocaFuse's name
	Duration  float64         `json:"duration"`  // seconds, read from the container
	Metadata  json.RawMessage `json:"metadata"`  // what the page attached, as JSON
	Status    string          `json:"status"`    // StatusProcessing, StatusTranscribed or StatusFailed
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// AudioURL plays the audio without credentials for a short while (15 minutes on the
	// local server); for a page's <audio> element. Audio downloads with credentials instead.
	AudioURL string `json:"audio_url"`
	// Transcription is the text, in a voicenote.transcribed event; Failure is why there
	// is none, in a voicenote.failed event (code 3003, details.reason). Both are nil
	// elsewhere: ask VoiceNotes.Transcription.
	Transcription *Transcription `json:"transcription,omitempty"`
	Failure       *EventError    `json:"error,omitempty"`
}

// EventError is the error a voicenote.failed event carries, as the API's envelope has it.
type EventError struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// UnmarshalJSON reads a voice note, filling Size and FileSize from whichever the
// answer has.
func (n *VoiceNote) UnmarshalJSON(raw []byte) error {
	type plain VoiceNote
	if err := json.Unmarshal(raw, (*plain)(n)); err != nil {
		return err
	}
	if n.FileSize == 0 {
		n.FileSize = n.Size
	} else if n.Size == 0 {
		n.Size = n.FileSize
	}
	return nil
}

// VoiceNotePage is one page of a listing, newest first.
type VoiceNotePage struct {
	Data []*VoiceNote `json:"data"`
	// Pagination is where the page is in the listing: its number (from 0), its limit,
	// how many voice notes match in all, and whether more pages follow. It is the zero
	// value when the API did not say (an older server).
	Pagination Pagination `json:"pagination"`
	// HasMore says whether more pages follow (Pagination.HasMore where the API gave it).
	HasMore bool `json:"has_more"`
	// NextCursor is for ListParams.Cursor, the older way of paging: "" on the last page,
	// and on APIs without cursors (VocaFuse's hosted API pages by number only).
	NextCursor string `json:"next_cursor"`

	numbered bool // the answer had a pagination object
}

// Pagination is a page's place in a listing.
type Pagination struct {
	Page    int  `json:"page"`     // from 0
	Limit   int  `json:"limit"`    // voice notes a page
	Total   int  `json:"total"`    // voice notes that match the filters, on all pages
	HasMore bool `json:"has_more"` // a page follows this one
}

// ListParams choose a page and filter the voice notes. The zero value is the first page
// of everything the caller may see.
type ListParams struct {
	// Page is the page's number, from 0 (VocaFuse's numbered pages, the preferred way).
	Page int
	// Limit is how many voice notes a page holds: 1..100; 0 leaves the API's default (50).
	Limit int
	// Status keeps only the voice notes with this status (StatusProcessing,
	// StatusTranscribed, StatusFailed); "" keeps all.
	Status string
	// DateFrom and DateTo keep only the voice notes created in that range, both
	// included; a zero time leaves that end open. Sent as RFC 3339 date-times.
	DateFrom, DateTo time.Time
	// Identity keeps only that user's voice notes: a filter for the account's view
	// (Client.VoiceNotes()). "" keeps every identity's.
	Identity string
	// Cursor is a NextCursor from the page before: this API's first way of paging,
	// kept for the callers written against it. When set, Page is not sent. Prefer Page.
	Cursor string
}

// query is p as the API's query string.
func (p ListParams) query() url.Values {
	q := url.Values{}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	} else {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	if !p.DateFrom.IsZero() {
		q.Set("date_from", p.DateFrom.UTC().Format(time.RFC3339Nano))
	}
	if !p.DateTo.IsZero() {
		q.Set("date_to", p.DateTo.UTC().Format(time.RFC3339Nano))
	}
	if p.Identity != "" {
		q.Set("identity", p.Identity)
	}
	return q
}

// Transcription is a voice note's text, with each word's timing.
type Transcription struct {
	ID          string              `json:"id"`
	VoiceNoteID string              `json:"voicenote_id"`
	Text        string              `json:"text"`
	Confidence  float64             `json:"confidence"` // 0..1
	Language    string              `json:"language"`   // "en", …
	Words       []TranscriptionWord `json:"words"`
	CreatedAt   time.Time           `json:"created_at"`
	// Raw is the transcription as the API sent it (inside "data" where it was wrapped),
	// for fields this type lacks.
	Raw json.RawMessage `json:"-"`
}

// TranscriptionWord is one recognised word.
type TranscriptionWord struct {
	Word       string  `json:"word"`
	StartTime  float64 `json:"start_time"` // seconds from the start of the recording
	EndTime    float64 `json:"end_time"`   // seconds from the start of the recording
	Confidence float64 `json:"confidence"` // 0..1
}

// Audio is a voice note's audio on its way down. Close it.
type Audio struct {
	io.ReadCloser
	ContentType string // "audio/webm;codecs=opus" and the like
	Size        int64  // -1 when the answer did not say
}

// VoiceNotes are the voice notes a client reads: the account's, or one identity's. Get
// them from Client.VoiceNotes.
type VoiceNotes struct {
	c        *Client
	identity string // "": the account's, with the API key and secret
}

// VoiceNotes returns the voice notes the client reads.
//
// With no argument, they are the account's: every identity's voice notes, read with
// the API key and secret, as VocaFuse's own SDKs read them (ListParams.Identity
// narrows a listing to one user):
//
//	for note, err := range client.VoiceNotes().All(ctx, vocafuse.ListParams{Status: vocafuse.StatusTranscribed}) { … }
//	note, err := client.VoiceNotes().Get(ctx, id)
//
// With an identity, they are that user's only, read as the user: the client mints a
// token for it with the API key and secret (one POST /v1/tokens, reused for an hour)
// and sends it with each call, so another identity's voice note is not found:
//
//	note, err := client.VoiceNotes("user_42").Get(ctx, id)
//
// It takes at most one identity; more panics.
func (c *Client) VoiceNotes(identity ...string) *VoiceNotes {
	switch len(identity) {
	case 0:
		return &VoiceNotes{c: c}
	case 1:
		return &VoiceNotes{c: c, identity: identity[0]}
	}
	panic("vocafuse: Client.VoiceNotes takes at most one identity")
}

func (v *VoiceNotes) path(id string) string { return "/v1/voicenotes/" + url.PathEscape(id) }

// Get returns a voice note (GET /v1/voicenotes/{id}). A missing one, or another
// identity's when reading as an identity, is 6001 RECORDING_NOT_FOUND
// (errors.Is(err, ErrNotFound)).
func (v *VoiceNotes) Get(ctx context.Context, id string) (*VoiceNote, error) {
	var n VoiceNote
	_, err := v.c.do(ctx, call{method: http.MethodGet, path: v.path(id), auth: auth{v.identity}, repeatable: true}, &inData{&n})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// List returns one page of voice notes, newest first (GET /v1/voicenotes): page
// p.Page (from 0) of those that match p's filters. A filter value the API cannot
// apply is 2003 INVALID_FIELD_VALUE with the field in Details["field"].
func (v *VoiceNotes) List(ctx context.Context, p ListParams) (*VoiceNotePage, error) {
	var answer struct {
		Data       []*VoiceNote `json:"data"`
		Pagination *Pagination  `json:"pagination"`
		HasMore    bool         `json:"has_more"`
		NextCursor *string      `json:"next_cursor"`
	}
	_, err := v.c.do(ctx, call{method: http.MethodGet, path: "/v1/voicenotes", query: p.query(), auth: auth{v.identity}, repeatable: true}, &answer)
	if err != nil {
		return nil, err
	}
	page := &VoiceNotePage{Data: answer.Data, HasMore: answer.HasMore}
	if answer.NextCursor != nil {
		page.NextCursor = *answer.NextCursor
	}
	if answer.Pagination != nil {
		page.Pagination, page.HasMore, page.numbered = *answer.Pagination, answer.Pagination.HasMore, true
	}
	return page, nil
}

// Pages iterates over the pages of the listing, starting at p, fetching each when the
// loop reaches it: page p.Page, then the next, while the API says more follow
// (Pagination.HasMore), as VocaFuse's iterate() does. Started from a p.Cursor, it
// follows NextCursor instead, as it does on an API that has no numbered pages. An
// error ends the iteration after it is yielded; breaking out of the loop fetches
// nothing more.
//
//	for page, err := range client.VoiceNotes().Pages(ctx, vocafuse.ListParams{Limit: 50}) {
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
			if !yield(page, nil) || !page.HasMore {
				return
			}
			switch {
			case p.Cursor != "" || !page.numbered:
				if page.NextCursor == "" {
					return
				}
				p.Cursor = page.NextCursor
			case len(page.Data) == 0:
				return // "more" after an empty page would never end
			default:
				p.Page++
			}
		}
	}
}

// All iterates over every voice note that matches p, newest first, page by page (see
// Pages): VocaFuse's iterate(). Breaking out of the loop fetches no more pages.
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

// Delete deletes a voice note, its audio and its transcription
// (DELETE /v1/voicenotes/{id}). A missing one is 6001.
func (v *VoiceNotes) Delete(ctx context.Context, id string) error {
	_, err := v.c.do(ctx, call{method: http.MethodDelete, path: v.path(id), auth: auth{v.identity}, repeatable: true}, nil)
	return err
}

// Audio downloads a voice note's audio (GET /v1/voicenotes/{id}/audio), exactly the
// bytes uploaded, with the key (the account's view) or the identity's token. The caller reads and closes it; a failure before the answer began is
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
// (GET /v1/voicenotes/{id}/transcription): 6002 TRANSCRIPTION_NOT_FOUND while the voice
// note is still processing, 3003 TRANSCRIPTION_FAILED when it failed, 6001 when the
// voice note does not exist.
func (v *VoiceNotes) Transcription(ctx context.Context, id string) (*Transcription, error) {
	var raw json.RawMessage
	_, err := v.c.do(ctx, call{method: http.MethodGet, path: v.path(id) + "/transcription", auth: auth{v.identity}, repeatable: true}, &raw)
	if err != nil {
		return nil, err
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil && len(env.Data) > 0 && env.Data[0] == '{' {
		raw = env.Data
	}
	t := &Transcription{Raw: raw}
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, &Error{Message: "transcription is not the expected JSON", Method: http.MethodGet,
			Path: v.path(id) + "/transcription", Err: err}
	}
	return t, nil
}

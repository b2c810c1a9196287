package delivery

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/space"
)

// MultipartThreshold is the size over which a recording is announced as multipart
// (use_multipart): 5 MiB, the part size of VocaFuse's flow.
const MultipartThreshold = 5 << 20

// MaxParallelParts is how many parts of one recording are on the wire at once.
const MaxParallelParts = 3

// DefaultSessionLifetime is assumed for a session whose answer did not say expires_in:
// short, so a guess can only make the SDK ask again sooner.
const DefaultSessionLifetime = 10 * time.Minute

// Session is an upload session of VocaFuse's flow (POST {apiBaseUrl}/upload): where the
// bytes of one recording go. It is kept with the recording in the outbox, so a retry, a
// reload or another tab sends only the parts still missing, to the same URLs, while they
// are good.
type Session struct {
	VoiceNoteID string
	Multipart   bool
	UploadID    string // multipart only
	Parts       []Part // single: one part covering every byte, Number 0
	// UsableUntil is when the URLs stop being used (ms since the Unix epoch): the answer's
	// expires_in less a margin, so that a PUT started before it ends before they expire.
	UsableUntil int64
}

// Part is one presigned URL and the bytes it takes, [Start, Start+Length).
type Part struct {
	Number int
	URL    string
	Start  int64
	Length int64
	Done   bool   // the URL answered 200: these bytes are in
	ETag   string // object storage's ETag of the part, when it sent one
}

// Usable: the session's URLs may still be used at now (ms since the Unix epoch).
func (s *Session) Usable(nowMilli int64) bool {
	return s != nil && nowMilli < s.UsableUntil
}

// missing is the parts not yet in.
func (s *Session) missing() []int {
	var out []int
	for i, p := range s.Parts {
		if !p.Done {
			out = append(out, i)
		}
	}
	return out
}

// doneBytes is the sum of the parts already in.
func (s *Session) doneBytes() int64 {
	var n int64
	for _, p := range s.Parts {
		if p.Done {
			n += p.Length
		}
	}
	return n
}

func (s *Session) clone() *Session {
	if s == nil {
		return nil
	}
	c := *s
	c.Parts = append([]Part(nil), s.Parts...)
	return &c
}

// keepDone carries over which parts are in from an older session of the same upload
// (the same key asked again while unfinished: the server keeps the parts it has).
// Another upload id or another layout starts over: those bytes are not in that upload.
func (s *Session) keepDone(old *Session) {
	if old == nil || old.UploadID != s.UploadID || old.VoiceNoteID != s.VoiceNoteID || len(old.Parts) != len(s.Parts) || !s.Multipart {
		return
	}
	for i := range s.Parts {
		o := old.Parts[i]
		if o.Done && o.Number == s.Parts[i].Number && o.Start == s.Parts[i].Start && o.Length == s.Parts[i].Length {
			s.Parts[i].Done, s.Parts[i].ETag = true, o.ETag
		}
	}
}

// Announcement is the POST {apiBaseUrl}/upload that describes a recording: the glue
// sends it as JSON (file_name, file_size, audio_format, duration_seconds, use_multipart,
// sdk_metadata, metadata) with the bearer token and the Idempotency-Key.
type Announcement struct {
	URL         string // BaseURL + "/upload"
	Token       string // the bearer token; never log it
	Key         string // Idempotency-Key: the recording's UUID
	FileName    string
	Size        int64
	Format      string // webm, ogg or wav
	ContentType string // the MIME type, whose codecs parameter names sdk_metadata.codec
	Duration    float64
	Multipart   bool
	Metadata    string // the page's JSON object, or ""
	Timeout     time.Duration
}

// announcement describes r for the POST.
func announcement(baseURL, token string, r *Record, timeout time.Duration) Announcement {
	return Announcement{
		URL: baseURL + "/upload", Token: token, Key: r.ID,
		FileName: "voicenote-" + r.ID + "." + r.Format, Size: r.Size, Format: r.Format, ContentType: r.ContentType,
		Duration: r.Duration, Multipart: r.Size > MultipartThreshold, Metadata: r.Metadata, Timeout: timeout,
	}
}

// ReadSession reads the answer to POST /upload ({ data: { voicenote_id, upload_type,
// presigned_url | upload_info: { upload_id, parts }, expires_in } }) for a recording of
// size bytes, asked at nowMilli. reason is not "" when the answer is not a usable session
// (what is missing or wrong); the parts must cover every byte once, in order.
func ReadSession(doc any, size int64, nowMilli int64) (s *Session, reason string) {
	root, _ := doc.(map[string]any)
	data, _ := root["data"].(map[string]any)
	if data == nil {
		return nil, "the upload answer has no data object"
	}
	id, _ := data["voicenote_id"].(string)
	if id == "" {
		return nil, "the upload answer has no voicenote_id"
	}
	lifetime := DefaultSessionLifetime
	if secs, ok := data["expires_in"].(float64); ok && secs > 0 && secs < 7*24*3600 {
		lifetime = time.Duration(secs * float64(time.Second))
	}
	s = &Session{VoiceNoteID: id, UsableUntil: nowMilli + (lifetime - RefreshMargin(lifetime)).Milliseconds()}
	kind, _ := data["upload_type"].(string)
	if url, _ := data["presigned_url"].(string); kind != "multipart" && url != "" {
		s.Parts = []Part{{URL: url, Length: size}}
		return s, ""
	}
	info, _ := data["upload_info"].(map[string]any)
	list, _ := info["parts"].([]any)
	if kind != "multipart" || len(list) == 0 {
		return nil, "the upload answer has neither presigned_url nor upload_info.parts"
	}
	s.Multipart = true
	s.UploadID, _ = info["upload_id"].(string)
	var next int64
	for _, item := range list {
		p, _ := item.(map[string]any)
		url, _ := p["presigned_url"].(string)
		n, okN := whole(p["part_number"])
		start, okS := whole(p["start_byte"])
		end, okE := whole(p["end_byte"]) // inclusive
		if url == "" || !okN || !okS || !okE || start != next || end < start {
			return nil, "the upload answer's parts do not cover the recording in order"
		}
		s.Parts = append(s.Parts, Part{Number: int(n), URL: url, Start: start, Length: end - start + 1})
		next = end + 1
	}
	if next != size {
		return nil, "the upload answer's parts do not cover the recording's bytes"
	}
	return s, ""
}

// whole reads a JSON number that is a non-negative whole number.
func whole(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f != math.Trunc(f) || f > 1<<50 {
		return 0, false
	}
	return int64(f), true
}

// PartRequest is the PUT of one part's bytes (or, single, of every byte) to its
// presigned URL, without Authorization: the URL is its own authority.
type PartRequest struct {
	URL         string
	Audio       any // the recording's Blob: the glue sends the slice [Start, Start+Length)
	Start       int64
	Length      int64
	ContentType string // the recording's type for a single upload, "" for a part
	Timeout     time.Duration
	Progress    *Progress
}

// Progress is one attempt's upload progress, shared by its parts: the glue binds the
// page's callback once to a counter over every part (the bytes in before this attempt,
// and each part's bytes on the wire), so progress never crosses into Go.
type Progress struct {
	Page   any   // the page's callback, opaque
	Total  int64 // the recording's size
	Before int64 // bytes of parts in before this attempt

	mu      sync.Mutex
	counter any
}

// Bind answers the counter the glue made for this attempt, made by newCounter the first
// time.
func (p *Progress) Bind(newCounter func() any) any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counter == nil {
		p.counter = newCounter()
	}
	return p.counter
}

// put is what one PUT's answer means for the delivery.
type put int

const (
	putDone   put = iota // the bytes are in
	putStale             // the URL was refused, expired or its session is gone: a new session takes them
	putFailed            // the policy's rows (retry, wait, hold)
)

// ReadPut reads the answer to the PUT of a part. A 2xx is in (note is the voice note
// when the answer carries one, nil for a part's receipt or object storage's empty 200).
// Otherwise err is the page's view of the failure: the API's envelope as the catalogue
// reads it, or object storage's XML turned into the catalogue's terms (never the raw
// body); stale says a new session is the remedy: 403 with 1001/1002 or a refusal of the
// URL (AccessDenied, Request has expired, a signature refused), any 404 (the session
// gone: 6001 with upload_id, NoSuchUpload).
func ReadPut(resp Response, now time.Time) (outcome put, note any, err *catalog.Error) {
	if resp.Status >= 200 && resp.Status < 300 {
		if isVoiceNote(resp.Doc) {
			return putDone, resp.Resource, nil
		}
		return putDone, nil, nil
	}
	if code, message, ok := StorageError(resp.Body); ok {
		err = storageFailure(resp.Status, code, message, now)
		if resp.Status == 403 || resp.Status == 404 || code == "NoSuchUpload" {
			return putStale, nil, err
		}
		return putFailed, nil, err
	}
	err = catalog.FromAPI(resp.Status, resp.Doc, resp.Body, now)
	switch {
	case err.APICode == 1001 || err.APICode == 1002, resp.Status == 404:
		return putStale, nil, err
	case resp.Status == 403 && err.APICode == 0:
		return putStale, nil, err // a bare 403 from storage: the URL refused
	}
	return putFailed, nil, err
}

// isVoiceNote: the PUT's answer is { data: <voice note> } (the single upload's, or the
// last part's), not a part's receipt.
func isVoiceNote(doc any) bool {
	root, _ := doc.(map[string]any)
	data, _ := root["data"].(map[string]any)
	if data == nil {
		return false
	}
	_, part := data["part_number"]
	id, _ := data["id"].(string)
	return id != "" && !part
}

// storageFailure is object storage's XML error in the catalogue's terms: the code its
// status gives (SlowDown and 5xx: SERVICE_UNAVAILABLE, retried on the schedule), with
// the storage's code and message in details.
func storageFailure(status int, code, message string, now time.Time) *catalog.Error {
	e := catalog.FromAPI(status, nil, "", now)
	if code == "SlowDown" && status < 500 {
		e = catalog.FromAPI(503, nil, "", now)
	}
	e.Status = status
	delete(e.Details, "body")
	e.Details["storage_code"] = code
	if message != "" {
		e.Details["reason"] = message
	}
	e.Message = "object storage refused the upload: " + code
	if message != "" {
		e.Message += ": " + message
	}
	return e
}

// maxStorageField bounds what is kept of a storage error's Code or Message.
const maxStorageField = 200

// StorageError reads an S3-compatible error body (<Error><Code>…</Code><Message>…
// </Message>…</Error>) with string functions, not an XML parser: the wasm carries no
// encoding/xml. ok is false when body is not such an error. The values are unescaped
// for the five XML entities and cut to a readable length.
func StorageError(body string) (code, message string, ok bool) {
	if !strings.Contains(body, "<Error>") {
		return "", "", false
	}
	code = xmlElement(body, "Code")
	if code == "" {
		return "", "", false
	}
	return code, xmlElement(body, "Message"), true
}

// xmlElement is the text of the first <name>…</name> in body, unescaped and cut, "" when
// there is none.
func xmlElement(body, name string) string {
	open, end := "<"+name+">", "</"+name+">"
	i := strings.Index(body, open)
	if i < 0 {
		return ""
	}
	rest := body[i+len(open):]
	j := strings.Index(rest, end)
	if j < 0 {
		return ""
	}
	text := space.Trim(unescapeXML(rest[:j]))
	if len(text) > maxStorageField {
		cut := maxStorageField
		for cut > 0 && text[cut]&0xC0 == 0x80 {
			cut-- // never split a character: the string goes to JavaScript
		}
		text = text[:cut]
	}
	return text
}

// unescapeXML replaces the five predefined entities; anything else is left as written.
func unescapeXML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	for _, e := range [...][2]string{{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", `"`}, {"&apos;", "'"}, {"&amp;", "&"}} {
		if strings.Contains(s, e[0]) {
			s = replaceAll(s, e[0], e[1])
		}
	}
	return s
}

// Known is the voice note as the SDK knows it, handed to onUploaded where the last
// answer carried none (object storage answers an empty 200): the glue adds created_at.
type Known struct {
	ID          string // the session's voicenote_id
	RecordingID string
	Format      string
	Duration    float64
	Size        int64
}

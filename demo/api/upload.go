package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/internal/validate"
)

const (
	// maxMetadata bounds X-VocaFuse-Metadata: it is stored with every voice note.
	maxMetadata = 16 << 10
	// sizeCountLimit is how far past the limit an upload of undeclared length is read
	// (and thrown away) to tell the client its real size in details.actual_size. Beyond
	// it the server stops reading, and actual_size is what it counted: a lower bound.
	sizeCountLimit = 4 * validate.MaxBytes
	copyBuffer     = 32 << 10
)

// putVoiceNote is PUT /v1/voicenotes/{id}. Each check of docs/api.md runs in its order and
// before anything is stored: the id, then the body's presence and declared size (from
// the headers, before a byte is read), then the body streamed to a temporary file in the
// data directory (never held in memory) and cut off past 25 MB, then what the bytes are,
// whether they can be read, and how long they last. Only then is the file committed.
// X-VocaFuse-Metadata, which docs/api.md's order does not place, is checked with the id: both
// are read from the request line and headers, so a bad one costs no upload.
func (s *Server) putVoiceNote(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	id, ok := store.ParseID(r.PathValue("id"))
	if !ok {
		writeError(w, catalog.InvalidFieldValue, map[string]any{"field": "voicenote_id", "reason": "must be a valid UUID"})
		return
	}
	metadata, apiErr := parseMetadata(r.Header.Get("X-VocaFuse-Metadata"))
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	if r.ContentLength == 0 {
		writeError(w, catalog.MissingRequiredField, map[string]any{"field": "audio"})
		return
	}
	if p := validate.Size(r.ContentLength); p != nil {
		// Refused unread; the connection cannot be reused with the body still coming.
		w.Header().Set("Connection", "close")
		writeProblem(w, p)
		return
	}
	// The quota and a slot before a byte of the body is read: what an identity keeps is
	// bounded, and so is the number of uploads under way, in all, per identity and per
	// address. A body of undeclared length is counted at one byte here, at its size at commit.
	owner := store.OwnerOf(c.Identity)
	if !s.withinQuota(w, r, owner, id, max(r.ContentLength, 1), true) {
		return
	}
	rc := http.NewResponseController(w)
	slot := s.uploads.acquire(uploader{owner, clientKey(r)}, rc)
	if slot == nil {
		busy(w, s.uploads.retryAfter)
		return
	}
	defer slot.release()
	start := time.Now()
	deadline := start.Add(s.uploadTimeout)
	_ = rc.SetWriteDeadline(deadline.Add(writeTimeout)) // the answer comes after the body
	upload, err := s.store.NewUpload()
	if err != nil {
		s.storageFailure(w, r, "start upload", err)
		return
	}
	defer upload.Discard()
	body := &pacedBody{slot: slot, body: r.Body, start: start, grace: s.uploadGrace, rate: s.uploadMinRate, deadline: deadline}
	if !s.receive(w, r, upload, body, slot) {
		return
	}
	stored, created, ok := s.checkAndCommit(w, r, upload, store.VoiceNote{
		ID: id, Owner: store.OwnerOf(c.Identity), Identity: c.Identity, Metadata: metadata})
	switch {
	case !ok:
	case created:
		w.Header().Set("Location", "/v1/voicenotes/"+id)
		s.writeVoiceNote(w, r, http.StatusCreated, stored)
	default:
		// The same id and the same bytes again: the upload was repeated, nothing changes.
		s.writeVoiceNote(w, r, http.StatusOK, stored)
	}
}

// checkAndCommit checks the received bytes as every upload route does (docs/api.md:
// what they are, whether they can be read, how long they last) and commits them as the
// voice note n (its ID, Owner, Identity and Metadata set by the caller) with its
// voicenote.created event. It answers the request itself when ok is false: a refusal
// in the catalogue's terms, 409 for an id that holds other bytes, or a storage failure.
func (s *Server) checkAndCommit(w http.ResponseWriter, r *http.Request, upload *store.Upload, n store.VoiceNote) (stored store.VoiceNote, created, ok bool) {
	info, probeErr := audio.Probe(upload, upload.Size())
	if pe := (*audio.ProbeError)(nil); errors.As(probeErr, &pe) && pe.Err != nil {
		// The temporary file could not be read back: the server's fault, not the upload's.
		s.log.Error("probe upload", "error", probeErr, "request_id", w.Header().Get("X-Request-Id"))
		writeErrorStatus(w, http.StatusInternalServerError, catalog.AudioProcessingFailed, nil)
		return stored, false, false
	}
	if p := validate.Audio(info, probeErr); p != nil {
		writeProblem(w, p)
		return stored, false, false
	}
	if info.Duration <= 0 {
		// A container with no audio in it (a header alone, a stream cut before its
		// first frame) is not a voice note: docs/api.md's "no audio track" case of 3004.
		writeError(w, catalog.AudioProcessingFailed, nil)
		return stored, false, false
	}
	n.Format, n.MimeType, n.Duration = string(info.Format), canonicalTypes[info.Format], info.Duration
	n.CreatedAt = s.now().UTC()
	// The quota again with the real size, and the commit, under the identity's lock.
	unlock := s.quota.lock(n.Owner)
	defer unlock()
	if !s.withinQuota(w, r, n.Owner, n.ID, upload.Size(), false) {
		return stored, false, false
	}
	stored, created, err := s.commitVoiceNote(r, upload, n)
	switch {
	case errors.Is(err, store.ErrConflict):
		writeErrorStatus(w, http.StatusConflict, catalog.InvalidFieldValue, map[string]any{
			"field": "voicenote_id", "value": n.ID, "reason": "already used for a different recording"})
		return stored, false, false
	case err != nil:
		s.storageFailure(w, r, "commit upload", err)
		return stored, false, false
	}
	return stored, created, true
}

// receive streams the body into the upload, answering the request itself (and returning
// false) when the body is empty, over the limit, cut off, or cannot be stored.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, upload *store.Upload, body io.Reader, slot *uploadSlot) bool {
	received, readErr, writeErr := copyAtMost(upload, body, validate.MaxBytes+1)
	switch {
	case writeErr != nil:
		s.storageFailure(w, r, "write upload", writeErr)
		return false
	case readErr != nil && slot.wasCut():
		// Shutting down and the drain time is over: the client may retry elsewhere.
		notesOf(r).fault = "cut at shutdown"
		busy(w, s.drain.retryAfter)
		return false
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		// Too slow (under the minimum rate, or past the overall deadline): cut, nothing kept.
		w.Header().Set("Connection", "close")
		writeError(w, catalog.InvalidRequestFormat, map[string]any{"reason": fmt.Sprintf(
			"the body arrived too slowly (at least %d bytes a second, all of it within %d seconds)",
			int(s.uploadMinRate), int(s.uploadTimeout/time.Second))})
		return false
	case readErr != nil:
		// The client went away or sent a broken body; it is probably not listening.
		w.Header().Set("Connection", "close")
		writeError(w, catalog.InvalidRequestFormat, nil)
		return false
	case received == 0:
		writeError(w, catalog.MissingRequiredField, map[string]any{"field": "audio"})
		return false
	case received > validate.MaxBytes:
		// Nothing more is kept, but the rest is counted so the answer can say how big the
		// file was ("30MB", as the reference writes it).
		rest, _ := io.Copy(io.Discard, io.LimitReader(body, sizeCountLimit-received))
		w.Header().Set("Connection", "close")
		writeProblem(w, validate.Size(received+rest))
		return false
	}
	return true
}

// copyAtMost copies up to limit bytes, telling a failure to read from a failure to write.
func copyAtMost(dst io.Writer, src io.Reader, limit int64) (n int64, readErr, writeErr error) {
	buf := make([]byte, copyBuffer)
	src = io.LimitReader(src, limit)
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return n, nil, werr
			}
			n += int64(m)
		}
		switch {
		case err == io.EOF:
			return n, nil, nil
		case err != nil:
			return n, err, nil
		}
	}
}

// storageFailure answers a failure to store: 503 / 5002 when the disk is full (a
// condition that passes; no time is known, so no Retry-After), 500 / 5001 otherwise.
func (s *Server) storageFailure(w http.ResponseWriter, r *http.Request, what string, err error) {
	if store.IsNoSpace(err) {
		s.log.Error(what, "error", err, "request_id", w.Header().Get("X-Request-Id"))
		writeError(w, catalog.ServiceUnavailable, nil)
		return
	}
	s.internal(w, r, what, err)
}

// parseMetadata reads X-VocaFuse-Metadata: absent, or a JSON object of at most 16 KB.
// Anything else is 2003 for the field "metadata" rather than 2001, which speaks of the
// request body; the value is not echoed back (it may be large).
func parseMetadata(header string) (json.RawMessage, *apiError) {
	if header == "" {
		return nil, nil
	}
	var compact bytes.Buffer
	trimmed := bytes.TrimSpace([]byte(header))
	if len(header) > maxMetadata || len(trimmed) == 0 || trimmed[0] != '{' || json.Compact(&compact, trimmed) != nil {
		return nil, &apiError{code: catalog.InvalidFieldValue, details: map[string]any{
			"field": "metadata", "reason": "must be a JSON object of at most 16 KB"}}
	}
	return compact.Bytes(), nil
}

// canonicalTypes is the media type of each accepted format: what the audio is stored
// and served with, whatever the upload declared (its parameters are not echoed back).
var canonicalTypes = map[audio.Format]string{audio.WebM: "audio/webm", audio.Ogg: "audio/ogg", audio.WAV: "audio/wav"}

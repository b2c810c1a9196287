package api

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/audio"
	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/internal/validate"
)

// VocaFuse's two-step upload (docs/api.md, "Uploading as VocaFuse's browser SDKs do"):
// POST /v1/upload announces a recording and answers where to PUT it; the PUTs go to
// presigned URLs of this server, which carry their own authority (package auth's
// PartSigner) instead of a token. The bytes end up in the same checks and the same
// Commit as the one-request PUT /v1/voicenotes/{id}: only checkAndCommit makes a voice
// note, so nothing half-received is ever listed, and voicenote.created fires once.
const (
	// sessionTTL is how long an upload session (and its URLs) lives: the answer's expires_in.
	sessionTTL = time.Hour
	// sessionRetention is how long a completed session's Idempotency-Key keeps naming
	// its voice note (a UUID key names it for ever: it is the voice note's id).
	sessionRetention = 24 * time.Hour
	// partSize is a multipart upload's part: 5 MiB, the last part smaller.
	partSize = 5 << 20
	// multipartOver: a file_size above this is multipart even without use_multipart (the
	// SDK's own threshold, 5 MiB).
	multipartOver = 5 << 20
	// maxOpenSessions is the open (unfinished, unexpired) sessions one identity may have.
	maxOpenSessions = 20
	// sweepEvery and sweepBatch bound the expiry sweep that runs with POST /v1/upload.
	sweepEvery = time.Minute
	sweepBatch = 100

	maxUploadRequest  = 64 << 10
	maxIdempotencyKey = 255
	maxFileName       = 255
)

// uploadSessions is VocaFuse's two-step upload: POST /v1/upload, then PUTs to presigned URLs.
type uploadSessions struct {
	s      *Server
	signer *auth.PartSigner
	// urlBase is where presigned URLs point: the server itself, or in the tests' mode
	// (Config.PresignVia) a stand-in for object storage that forwards them here.
	urlBase string

	mu         sync.Mutex
	assembling map[string]bool // sessions whose last part is being assembled
	lastSweep  time.Time
}

func newUploadSessions(s *Server, c Config) *uploadSessions {
	u := &uploadSessions{s: s, signer: auth.NewPartSigner([]byte(c.Credentials.TokenSecret), c.Now),
		assembling: map[string]bool{}, urlBase: s.publicURL}
	if c.FaultInjection && c.PresignVia != "" {
		u.urlBase = strings.TrimRight(c.PresignVia, "/")
	}
	if s.store != nil {
		// At start-up: the buckets, the part files of sessions that are gone, then the
		// sessions that expired while the server was down.
		if err := s.store.InitSessions(); err != nil {
			s.log.Error("upload sessions: init", "error", err)
		}
		u.sweep()
	}
	return u
}

// uploadRoutes adds POST /v1/upload and the presigned PUT routes.
func (s *Server) uploadRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/upload", s.authed(auth.ScopeWrite, s.postUpload))
	mux.HandleFunc("PUT /v1/upload-sessions/{upload}", s.putSingleUpload)
	mux.HandleFunc("PUT /v1/upload-sessions/{upload}/parts/{part}", s.putUploadPart)
}

// sweep drops expired sessions, at most sweepBatch of them and at most once a sweepEvery.
func (u *uploadSessions) sweep() {
	now := u.s.now()
	u.mu.Lock()
	if !u.lastSweep.IsZero() && now.Sub(u.lastSweep) < sweepEvery {
		u.mu.Unlock()
		return
	}
	u.lastSweep = now
	u.mu.Unlock()
	if n, err := u.s.store.SweepSessions(now, sweepBatch); err != nil {
		u.s.log.Error("upload sessions: sweep", "error", err)
	} else if n > 0 {
		u.s.log.Info("upload sessions: expired sessions removed", "sessions", n)
	}
}

// uploadRequest is POST /v1/upload's body as checked.
type uploadRequest struct {
	fileName  string
	fileSize  int64
	format    string
	duration  float64
	multipart bool
	metadata  json.RawMessage
}

// readUploadRequest checks the announcement before a byte of audio is sent: each field in
// turn (audio_format, file_size, duration_seconds, then the optional ones), a missing one
// 2002, a wrong type or value 2003, an unsupported format 2005, too big 2004, too long 2006.
func readUploadRequest(w http.ResponseWriter, r *http.Request) (req uploadRequest, apiErr *apiError) {
	fields, apiErr := readFields(w, r, maxUploadRequest)
	if apiErr != nil {
		return req, apiErr
	}
	raw, ok := present(fields, "audio_format")
	if !ok {
		return req, missingField("audio_format")
	}
	var format string
	if json.Unmarshal(raw, &format) != nil || strings.TrimSpace(format) == "" {
		return req, invalidField("audio_format", raw, "must be a string: webm, wav or ogg")
	}
	req.format = strings.ToLower(strings.TrimSpace(format))
	if !audio.Format(req.format).Supported() {
		return req, &apiError{code: catalog.UnsupportedAudioFormat,
			details: map[string]any{"format": format, "supported_formats": audio.SupportedFormats}}
	}
	if raw, ok = present(fields, "file_size"); !ok {
		return req, missingField("file_size")
	}
	size, ok := jsonInteger(raw)
	if !ok || size < 1 {
		return req, invalidField("file_size", raw, "must be a positive integer (bytes)")
	}
	if p := validate.Size(size); p != nil {
		return req, &apiError{code: p.Code, details: p.Details}
	}
	req.fileSize = size
	if raw, ok = present(fields, "duration_seconds"); !ok {
		return req, missingField("duration_seconds")
	}
	n, isNumber := asSent(raw).(json.Number)
	d, err := n.Float64()
	if !isNumber || err != nil || d < 0 || math.IsInf(d, 0) {
		return req, invalidField("duration_seconds", raw, "must be a number of seconds, 0 or more")
	}
	if d > validate.MaxDuration+validate.DurationTolerance {
		return req, &apiError{code: catalog.RecordingTooLong, details: map[string]any{
			"max_duration": validate.MaxDuration, "actual_duration": math.Round(d*100) / 100}}
	}
	req.duration = d
	if raw, ok = present(fields, "use_multipart"); ok {
		if json.Unmarshal(raw, &req.multipart) != nil {
			return req, invalidField("use_multipart", raw, "must be true or false")
		}
	}
	req.multipart = req.multipart || req.fileSize > multipartOver
	if raw, ok = present(fields, "file_name"); ok {
		if json.Unmarshal(raw, &req.fileName) != nil || len(req.fileName) > maxFileName || !validIdentity(req.fileName) {
			return req, invalidField("file_name", raw, "must be a string of 1 to 255 characters")
		}
	}
	for _, name := range []string{"sdk_metadata", "custom_tags"} {
		if raw, ok = present(fields, name); ok && !isJSONObject(raw) {
			return req, invalidField(name, raw, "must be a JSON object")
		}
	}
	// This API's own metadata (as X-VocaFuse-Metadata on the one-request route): stored
	// with the voice note. The body's field, else the header.
	if raw, ok = present(fields, "metadata"); ok {
		if len(raw) > maxMetadata || !isJSONObject(raw) {
			return req, &apiError{code: catalog.InvalidFieldValue, details: map[string]any{
				"field": "metadata", "reason": "must be a JSON object of at most 16 KB"}}
		}
		req.metadata, _ = parseMetadata(string(raw))
	} else if req.metadata, apiErr = parseMetadata(r.Header.Get("X-VocaFuse-Metadata")); apiErr != nil {
		return req, apiErr
	}
	return req, nil
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// idempotencyKey reads Idempotency-Key: absent, or 1 to 255 visible ASCII characters.
func idempotencyKey(r *http.Request) (string, *apiError) {
	values := r.Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return "", nil
	}
	key := strings.TrimSpace(values[0])
	ok := len(values) == 1 && key != "" && len(key) <= maxIdempotencyKey
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] > ' ' && key[i] < 0x7f
	}
	if !ok {
		return "", &apiError{code: catalog.InvalidFieldValue, details: map[string]any{
			"field": "Idempotency-Key", "value": strings.Join(values, ", "),
			"reason": "must be one value of 1 to 255 visible ASCII characters"}}
	}
	return key, nil
}

// postUpload is POST /v1/upload: VocaFuse's browser SDKs ask where to put a recording.
func (s *Server) postUpload(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	req, apiErr := readUploadRequest(w, r)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	key, apiErr := idempotencyKey(r)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	s.sessions.sweep()
	now := s.now()
	id, isUUID := store.ParseID(key)
	if !isUUID {
		id = store.NewVoiceNoteID(now)
	}
	announced := store.UploadSession{Owner: store.OwnerOf(c.Identity), Identity: c.Identity, Key: key,
		Multipart: req.multipart, FileSize: req.fileSize, Format: req.format, Duration: req.duration,
		FileName: req.fileName, Metadata: req.metadata}
	if req.multipart {
		announced.PartSize = partSize
	}
	sess, reused, err := s.store.StartSession(announced, store.SessionStart{
		Now: now, TTL: sessionTTL, MaxOpen: maxOpenSessions, NewVoiceNoteID: id})
	var conflict *store.SessionConflict
	var tooMany *store.TooManySessions
	switch {
	case errors.As(err, &conflict):
		writeErrorStatus(w, http.StatusConflict, catalog.InvalidFieldValue, map[string]any{
			"field": "Idempotency-Key", "value": key,
			"reason": "already used for a " + conflict.Format + " recording of " +
				strconv.FormatInt(conflict.FileSize, 10) + " bytes"})
		return
	case errors.As(err, &tooMany):
		wait := max(1, int(math.Ceil(tooMany.RetryAt.Sub(now).Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeError(w, catalog.RateLimitExceeded, map[string]any{
			"limit": tooMany.Limit, "window": windowLabel(sessionTTL), "retry_after": wait,
			"reason": "too many unfinished uploads"})
		return
	case err != nil:
		s.storageFailure(w, r, "start upload session", err)
		return
	}
	// A new announcement must fit the identity's storage quota (a repeated one was
	// checked when it was new); the PUTs and the commit check it again.
	if !reused && !s.withinQuota(w, r, sess.Owner, sess.VoiceNoteID, sess.FileSize, false) {
		s.sessions.discard(sess)
		return
	}
	status := http.StatusCreated
	if reused {
		status = http.StatusOK // the same Idempotency-Key again: the same upload, fresh URLs
	}
	// The ids together, so that a test (or a person) can follow a recording from its
	// POST to the PUTs of its session in the request log.
	s.log.Info("upload session", "voicenote_id", sess.VoiceNoteID, "upload_id", sess.ID, "reused", reused,
		"request_id", w.Header().Get("X-Request-Id"))
	urlTTL := sessionTTL
	if planned, ok := plannedURLTTL(r); ok {
		urlTTL = planned
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]any{"data": s.sessions.describe(sess, now, urlTTL)})
}

// describe is POST /v1/upload's answer: VocaFuse's PresignedUrlResponse, its URLs living
// urlTTL (sessionTTL but under a planned fault) and never past the session.
func (u *uploadSessions) describe(sess store.UploadSession, now time.Time, urlTTL time.Duration) map[string]any {
	expires := now.Add(urlTTL)
	if !sess.Completed && sess.ExpiresAt.Before(expires) {
		expires = sess.ExpiresAt
	}
	expires = expires.Truncate(time.Second)
	handle := u.s.store.Handle(sess.Owner)
	sign := func(part int, length int64) string {
		q := u.signer.Sign(auth.PartGrant{Upload: sess.ID, Owner: handle, Part: part, Length: length, Expires: expires})
		p := "/v1/upload-sessions/" + sess.ID
		if part > 0 {
			p += "/parts/" + strconv.Itoa(part)
		}
		return u.urlBase + p + "?" + encodeOrdered(q)
	}
	data := map[string]any{
		"voicenote_id": sess.VoiceNoteID,
		// vocafuse-voice.js reads the id under this name (Speech-SDK-Web, voicenote_id).
		"recording_id":        sess.VoiceNoteID,
		"upload_type":         "single",
		"s3_key":              "voicenotes/" + handle + "/" + sess.VoiceNoteID + "." + sess.Format,
		"expires_in":          max(0, int(expires.Sub(now)/time.Second)),
		"processing_strategy": "server",
		"client_processed":    false,
	}
	if !sess.Multipart {
		data["presigned_url"] = sign(0, sess.FileSize)
		data["message"] = "PUT the recording to presigned_url"
		return data
	}
	parts := make([]map[string]any, sess.Parts())
	for i := range parts {
		n := i + 1
		start, length := sess.PartRange(n)
		parts[i] = map[string]any{"part_number": n, "presigned_url": sign(n, length),
			"start_byte": start, "end_byte": start + length - 1, "content_length": length}
	}
	data["upload_type"] = "multipart"
	data["upload_info"] = map[string]any{"upload_id": sess.ID, "parts": parts}
	data["message"] = "PUT each part to its presigned_url, in any order; the last one in completes the upload"
	return data
}

// encodeOrdered writes the query in a fixed, readable order.
func encodeOrdered(q url.Values) string {
	var b strings.Builder
	for _, k := range []string{auth.ParamOwner, auth.ParamLength, auth.ParamExpires, auth.ParamSignature} {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + url.QueryEscape(q.Get(k)))
	}
	return b.String()
}

// presigned checks a presigned URL (part 0: a single upload) and finds its session. It
// reads no Authorization header: the URL is the authority. Altered → 403 / 1001, expired
// → 403 / 1002, a session that is gone → 404 / 6001; then the owner's rate limit.
func (s *Server) presigned(w http.ResponseWriter, r *http.Request, part int) (auth.PartGrant, store.UploadSession, bool) {
	uploadID := r.PathValue("upload")
	g, err := s.sessions.signer.Verify(uploadID, part, r.URL.Query())
	switch {
	case errors.Is(err, auth.ErrURLExpired):
		writeErrorStatus(w, http.StatusForbidden, catalog.TokenExpired, nil)
		return g, store.UploadSession{}, false
	case err != nil:
		writeErrorStatus(w, http.StatusForbidden, catalog.InvalidToken, nil)
		return g, store.UploadSession{}, false
	}
	sess, found, err := s.store.Session(uploadID)
	switch {
	case err != nil:
		s.internal(w, r, "get upload session", err)
		return g, sess, false
	case !found || (!sess.Completed && !s.now().Before(sess.ExpiresAt)):
		writeError(w, catalog.RecordingNotFound, map[string]any{"upload_id": uploadID})
		return g, sess, false
	case s.store.Handle(sess.Owner) != g.Owner:
		writeErrorStatus(w, http.StatusForbidden, catalog.InvalidToken, nil)
		return g, sess, false
	}
	notesOf(r).identity = sess.Identity
	if !s.allow(w, identityKey(sess.Owner)) {
		return g, sess, false
	}
	if !sess.Completed && !s.withinQuota(w, r, sess.Owner, sess.VoiceNoteID, sess.FileSize, true) {
		return g, sess, false
	}
	return g, sess, true
}

// receiveExactly streams the body (never more than length+1 bytes of it) into a new
// upload with an upload slot, as the one-request route does, and requires exactly
// length bytes: field names the announcement it must match. On false the request has
// been answered.
func (s *Server) receiveExactly(w http.ResponseWriter, r *http.Request, owner store.Owner, length int64, field string) (*store.Upload, bool) {
	mismatch := func(got int64) {
		w.Header().Set("Connection", "close")
		writeError(w, catalog.InvalidFieldValue, map[string]any{"field": field, "value": got,
			"reason": "the body must be exactly the " + strconv.FormatInt(length, 10) + " bytes announced"})
	}
	if r.ContentLength > validate.MaxBytes {
		w.Header().Set("Connection", "close")
		writeProblem(w, validate.Size(r.ContentLength))
		return nil, false
	}
	if r.ContentLength > 0 && r.ContentLength != length {
		mismatch(r.ContentLength)
		return nil, false
	}
	rc := http.NewResponseController(w)
	slot := s.uploads.acquire(uploader{owner, clientKey(r)}, rc)
	if slot == nil {
		busy(w, s.uploads.retryAfter)
		return nil, false
	}
	defer slot.release()
	start := time.Now()
	deadline := start.Add(s.uploadTimeout)
	_ = rc.SetWriteDeadline(deadline.Add(writeTimeout))
	upload, err := s.store.NewUpload()
	if err != nil {
		s.storageFailure(w, r, "start upload", err)
		return nil, false
	}
	body := &pacedBody{slot: slot, body: r.Body, start: start, grace: s.uploadGrace, rate: s.uploadMinRate, deadline: deadline}
	if !s.receive(w, r, upload, io.LimitReader(body, length+1), slot) {
		upload.Discard()
		return nil, false
	}
	if upload.Size() != length {
		upload.Discard()
		mismatch(upload.Size())
		return nil, false
	}
	return upload, true
}

// formatMismatch answers 2003 when the bytes are a supported format other than the
// announced one (an unsupported one is left to checkAndCommit's 2005).
func formatMismatch(w http.ResponseWriter, upload *store.Upload, announced string) bool {
	head := make([]byte, audio.SniffLen)
	n, _ := upload.ReadAt(head, 0)
	got := audio.Sniff(head[:n])
	if !got.Supported() || string(got) == announced {
		return false
	}
	writeError(w, catalog.InvalidFieldValue, map[string]any{"field": "audio_format", "value": announced,
		"reason": "the bytes are " + string(got) + ", not the " + announced + " announced"})
	return true
}

// putSingleUpload is PUT <presigned_url> of a single upload: the whole recording.
func (s *Server) putSingleUpload(w http.ResponseWriter, r *http.Request) {
	_, sess, ok := s.presigned(w, r, 0)
	if !ok {
		return
	}
	if sess.Multipart {
		writeErrorStatus(w, http.StatusForbidden, catalog.InvalidToken, nil) // signed for another shape
		return
	}
	upload, ok := s.receiveExactly(w, r, sess.Owner, sess.FileSize, "file_size")
	if !ok {
		return
	}
	defer upload.Discard()
	if formatMismatch(w, upload, sess.Format) {
		return
	}
	stored, _, ok := s.checkAndCommit(w, r, upload, s.sessions.noteOf(sess))
	if !ok {
		return
	}
	if err := s.store.CompleteSession(sess.ID, s.now().Add(sessionRetention)); err != nil {
		s.log.Error("complete upload session", "error", err, "request_id", w.Header().Get("X-Request-Id"))
	}
	s.writeVoiceNote(w, r, http.StatusOK, stored)
}

func (u *uploadSessions) noteOf(sess store.UploadSession) store.VoiceNote {
	return store.VoiceNote{ID: sess.VoiceNoteID, Owner: sess.Owner, Identity: sess.Identity, Metadata: sess.Metadata}
}

// putUploadPart is PUT <presigned_url> of one part of a multipart upload.
func (s *Server) putUploadPart(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("part")
	part, err := strconv.Atoi(raw)
	if err != nil || part < 1 || strconv.Itoa(part) != raw {
		writeErrorStatus(w, http.StatusForbidden, catalog.InvalidToken, nil) // no server signs such a path
		return
	}
	g, sess, ok := s.presigned(w, r, part)
	if !ok {
		return
	}
	if _, length := sess.PartRange(part); !sess.Multipart || part > sess.Parts() || length != g.Length {
		writeErrorStatus(w, http.StatusForbidden, catalog.InvalidToken, nil)
		return
	}
	upload, ok := s.receiveExactly(w, r, sess.Owner, g.Length, "content_length")
	if !ok {
		return
	}
	defer upload.Discard()
	res, err := s.store.CommitPart(upload, sess.ID, part, s.now())
	switch {
	case errors.Is(err, store.ErrPartConflict):
		writeErrorStatus(w, http.StatusConflict, catalog.InvalidFieldValue, map[string]any{
			"field": "part", "value": part, "reason": "this part was already received with other bytes"})
		return
	case errors.Is(err, store.ErrSessionGone):
		writeError(w, catalog.RecordingNotFound, map[string]any{"upload_id": sess.ID})
		return
	case err != nil:
		s.storageFailure(w, r, "store upload part", err)
		return
	}
	w.Header().Set("ETag", `"`+res.SHA256+`"`)
	switch {
	case res.Session.Completed:
		s.sessions.answerNote(w, r, res.Session)
	case res.Received == res.Session.Parts():
		s.sessions.assemble(w, r, part, res)
	default:
		s.sessions.answerPart(w, part, res)
	}
}

// answerPart is a part's 200 while others are still missing.
func (u *uploadSessions) answerPart(w http.ResponseWriter, part int, res store.PartResult) {
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"upload_id": res.Session.ID, "voicenote_id": res.Session.VoiceNoteID, "part_number": part,
		"etag": `"` + res.SHA256 + `"`, "size": res.Size,
		"parts_received": res.Received, "parts_total": res.Session.Parts(),
	}})
}

// answerNote answers with the voice note of a completed session.
func (u *uploadSessions) answerNote(w http.ResponseWriter, r *http.Request, sess store.UploadSession) {
	n, found, err := u.s.store.Get(sess.Owner, sess.VoiceNoteID)
	switch {
	case err != nil:
		u.s.internal(w, r, "get voice note", err)
	case !found:
		voiceNoteNotFound(w, sess.VoiceNoteID) // deleted since
	default:
		u.s.writeVoiceNote(w, r, http.StatusOK, n)
	}
}

// assemble is the last missing part's work: the parts, concatenated into one upload,
// checked and committed as the voice note. One request at a time does it for a session
// (when the last two parts arrive together, the other answers as a part). Bytes that
// fail the checks discard the session; a failure of the server's own keeps it, and a
// PUT of any part again retries.
func (u *uploadSessions) assemble(w http.ResponseWriter, r *http.Request, part int, res store.PartResult) {
	id := res.Session.ID
	u.mu.Lock()
	if u.assembling[id] {
		u.mu.Unlock()
		u.answerPart(w, part, res)
		return
	}
	u.assembling[id] = true
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.assembling, id)
		u.mu.Unlock()
	}()
	s := u.s
	sess, found, err := s.store.Session(id)
	switch {
	case err != nil:
		s.internal(w, r, "get upload session", err)
		return
	case !found:
		writeError(w, catalog.RecordingNotFound, map[string]any{"upload_id": id})
		return
	case sess.Completed:
		u.answerNote(w, r, sess) // assembled meanwhile by a request that held the claim
		return
	}
	upload, err := s.store.AssembleSession(sess)
	if err != nil {
		s.storageFailure(w, r, "assemble upload", err)
		return
	}
	defer upload.Discard()
	if formatMismatch(w, upload, sess.Format) {
		u.discard(sess)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	stored, _, ok := s.checkAndCommit(rec, r, upload, u.noteOf(sess))
	if !ok {
		// A 4xx is the bytes' fault (they never become a voice note), unless it is the
		// quota's 429, which deleting voice notes frees: a PUT of any part retries then.
		if rec.status >= 400 && rec.status < 500 && rec.status != http.StatusTooManyRequests {
			u.discard(sess)
		}
		return
	}
	if err := s.store.CompleteSession(id, s.now().Add(sessionRetention)); err != nil {
		s.log.Error("complete upload session", "error", err, "request_id", w.Header().Get("X-Request-Id"))
	}
	s.writeVoiceNote(w, r, http.StatusOK, stored)
}

func (u *uploadSessions) discard(sess store.UploadSession) {
	if err := u.s.store.DiscardSession(sess.ID); err != nil {
		u.s.log.Error("discard upload session", "error", err)
	}
}

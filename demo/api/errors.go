package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/internal/validate"
)

// writeError answers with the API's error envelope: the code's status and message come
// from the same catalogue the SDK is built with.
func writeError(w http.ResponseWriter, code catalog.Code, details map[string]any) {
	writeErrorStatus(w, 0, code, details)
}

// writeErrorStatus is writeError with another status than the catalogue's, for the few
// places docs/api.md gives one (409 for a reused id, 500 for 3004 when the server is at fault,
// a planned fault's status).
func writeErrorStatus(w http.ResponseWriter, status int, code catalog.Code, details map[string]any) {
	entry, ok := catalog.Lookup(code)
	if !ok || entry.APICode == 0 {
		entry, _ = catalog.Lookup(catalog.InternalServerError)
		status, details = 0, nil
	}
	if status == 0 {
		status = entry.HTTPStatus
	}
	body := map[string]any{"code": entry.APICode, "message": entry.Message}
	if details != nil {
		body["details"] = details
	}
	writeJSON(w, status, map[string]any{"error": body})
}

// writeProblem answers a refusal of the shared validation rules (size, format, duration).
func writeProblem(w http.ResponseWriter, p *validate.Problem) {
	writeError(w, p.Code, p.Details)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep the & of a signed audio_url readable
	_ = enc.Encode(v)
}

// notFound answers a path the API does not have (or a method a path does not take).
// The reference has no "no such route" code, and its 404 codes each say that a voice
// note, a transcription or a webhook is missing, which an unknown route is not: it is
// a request the API cannot take, 2001, answered with 404 and the reason.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeErrorStatus(w, http.StatusNotFound, catalog.InvalidRequestFormat, map[string]any{"reason": "no such route"})
}

// jsonPageErrors makes the page server's plain-text errors envelopes too, so that every
// error on every route is JSON (docs/api.md): 404 and 405 as an unknown API route is answered,
// 500 as 5001, anything else at or above 400 as 2001 with its status.
func jsonPageErrors(pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.ServeHTTP(&errorRewriter{ResponseWriter: w, answer: func(w http.ResponseWriter, status int) bool {
			switch {
			case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
				notFound(w, r)
			case status == http.StatusInternalServerError:
				writeError(w, catalog.InternalServerError, nil)
			case status >= 400:
				writeErrorStatus(w, status, catalog.InvalidRequestFormat, nil)
			default:
				return false
			}
			return true
		}}, r)
	})
}

// errorRewriter replaces an answer a library handler writes (http.FileServer's, or
// http.ServeContent's plain-text errors) when answer takes its status: answer writes
// the envelope instead and the library's body is dropped. A redirect keeps its status
// and Location but loses its HTML body.
type errorRewriter struct {
	http.ResponseWriter
	answer func(w http.ResponseWriter, status int) bool
	drop   bool
}

func (w *errorRewriter) WriteHeader(status int) {
	if w.drop {
		return
	}
	if status >= 300 && status < 400 {
		w.drop = true
		w.Header().Del("Content-Type")
		w.ResponseWriter.WriteHeader(status)
		return
	}
	if w.answer(w.ResponseWriter, status) {
		w.drop = true
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *errorRewriter) Write(b []byte) (int, error) {
	if w.drop {
		return len(b), nil // the plain-text or HTML body the envelope replaced
	}
	return w.ResponseWriter.Write(b)
}

func (w *errorRewriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiError is a refusal found by a helper, for its handler to write.
type apiError struct {
	code    catalog.Code
	status  int // 0: the catalogue's
	details map[string]any
}

func (e *apiError) write(w http.ResponseWriter) { writeErrorStatus(w, e.status, e.code, e.details) }

// missingField is 2002 for a field.
func missingField(field string) *apiError {
	return &apiError{code: catalog.MissingRequiredField, details: map[string]any{"field": field}}
}

// invalidField is 2003 for a field, with its value as the client sent it (the
// reference's example echoes "invalid" as a string, so a number stays a number).
func invalidField(field string, raw json.RawMessage, reason string) *apiError {
	return invalidValue(field, asSent(raw), reason)
}

// invalidValue is invalidField for a value already decoded (a query parameter's text).
func invalidValue(field string, value any, reason string) *apiError {
	return &apiError{code: catalog.InvalidFieldValue,
		details: map[string]any{"field": field, "value": value, "reason": reason}}
}

// asSent decodes a JSON value keeping numbers as their literal.
func asSent(raw json.RawMessage) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return string(raw)
	}
	return v
}

// internal answers 500 / 5001 for a failure of the server's own (never the client's),
// logging what it was; the client learns nothing of it but the request id.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error(what, "error", err, "request_id", w.Header().Get("X-Request-Id"))
	writeError(w, catalog.InternalServerError, nil)
}

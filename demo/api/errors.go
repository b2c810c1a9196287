package api

import (
	"encoding/json"
	"net/http"

	"github.com/vocafuse/recorder/wasm/catalog"
)

// writeError answers with the API's error envelope: the code's status and message come
// from the same catalogue the SDK is built with.
func writeError(w http.ResponseWriter, code catalog.Code, details map[string]any) {
	entry, ok := catalog.Lookup(code)
	if !ok || entry.APICode == 0 {
		entry, _ = catalog.Lookup(catalog.InternalServerError)
		details = nil
	}
	body := map[string]any{"code": entry.APICode, "message": entry.Message}
	if details != nil {
		body["details"] = details
	}
	writeJSON(w, entry.HTTPStatus, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

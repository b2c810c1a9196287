package vocafuse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// TokenHandler returns the browser SDK's token endpoint (its tokenEndpoint option):
// for each POST it asks identity who the caller is (from the backend's own session)
// and answers a fresh token for them in VocaFuse's browser shape, { "success": true,
// "data": { "id_token", "jwt_token", "token_type", "expires_in" } }, with this SDK's
// { "token", "expires_in", "identity", "expires_at" } beside it, minted through the API
// with the client's key and secret.
//
//	client := vocafuse.NewClient(os.Getenv("VOCAFUSE_API_KEY"), os.Getenv("VOCAFUSE_API_SECRET"))
//	http.Handle("POST /api/token", vocafuse.TokenHandler(client, func(r *http.Request) (string, error) { return userID(r) }))
//
// A request for which identity returns "" or an error is refused with 401 and the
// API's 1001 envelope, and no token is minted. See TokenEndpoint for the settings.
func TokenHandler(c *Client, identity func(*http.Request) (string, error)) *TokenEndpoint {
	return &TokenEndpoint{Client: c, Identity: identity}
}

// TokenEndpoint is the handler TokenHandler returns; its fields may be changed before
// it serves.
type TokenEndpoint struct {
	Client   *Client
	Identity func(*http.Request) (string, error)
	// ExpiresIn is the lifetime of the tokens (60 s to 24 h); 0 means 10 minutes: a
	// browser's token should not outlive its session by much, and the SDK fetches a new
	// one when it expires.
	ExpiresIn time.Duration
	// FromBody lets the browser ask, in an optional JSON body, for a shorter-lived or
	// narrower token: { "expires_in": 60, "scope": "voicenotes:write" }. The API checks
	// the values (2003 for one out of range). Anything else in the body is ignored: an
	// identity in it never counts, the backend says who the caller is.
	FromBody bool
	// Log, when set, is told about failures the browser is not (a wrong API key, say).
	Log *slog.Logger
}

// defaultBrowserTokenTTL is TokenEndpoint's default lifetime.
const defaultBrowserTokenTTL = 10 * time.Minute

// ServeHTTP answers one token request.
func (e *TokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "the token endpoint takes POST", http.StatusMethodNotAllowed)
		return
	}
	who, err := e.Identity(r)
	if err != nil || who == "" {
		writeEnvelope(w, http.StatusUnauthorized, CodeInvalidToken, "Invalid or malformed token", nil)
		return
	}
	ttl := e.ExpiresIn
	if ttl == 0 {
		ttl = defaultBrowserTokenTTL
	}
	body := map[string]any{"identity": who, "expires_in": int64(ttl / time.Second)}
	if e.FromBody {
		if !readBrowserTokenRequest(w, r, body) {
			return
		}
	}
	tok, err := e.Client.Tokens.create(r.Context(), body)
	if err != nil {
		e.relay(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	// VocaFuse's browser SDKs read success and data.id_token; this project's SDK reads
	// token, as its releases before VocaFuse's shape did.
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success": true,
		"data": map[string]any{"id_token": tok.Token, "jwt_token": tok.Token, "token_type": "Bearer",
			"expires_in": tok.ExpiresIn},
		"token":      tok.Token,
		"identity":   tok.Identity,
		"expires_in": tok.ExpiresIn,
		"expires_at": tok.ExpiresAt.UTC().Format(time.RFC3339),
	})
}

// readBrowserTokenRequest copies expires_in and scope from the request's JSON body into
// the token request. It answers itself (2001, 2003) when the body is not JSON or
// expires_in not a number, echoing the value as sent like the API does.
func readBrowserTokenRequest(w http.ResponseWriter, r *http.Request, body map[string]any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		writeEnvelope(w, http.StatusBadRequest, CodeInvalidRequestFormat, "Request body is malformed", nil)
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		writeEnvelope(w, http.StatusBadRequest, CodeInvalidRequestFormat, "Request body is malformed", nil)
		return false
	}
	for _, name := range []string{"expires_in", "scope"} {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		var val any
		_ = d.Decode(&val)
		if n, isNumber := val.(json.Number); name == "expires_in" && !isNumber {
			writeEnvelope(w, http.StatusBadRequest, CodeInvalidFieldValue, "Invalid field value", map[string]any{
				"field": "expires_in", "value": val, "reason": "must be an integer between 60 and 86400"})
			return false
		} else if isNumber {
			body[name] = n // passed on as sent: the API checks the range and echoes it
			continue
		}
		body[name] = val
	}
	return true
}

// relay answers a browser whose token could not be minted. What the browser can act on
// passes through as the API said it (a value out of range, a rate limit with its
// Retry-After, the service being unavailable); a refusal of the backend's own
// credentials is the backend's fault, so the browser gets 500 / 5001 and the log the cause.
func (e *TokenEndpoint) relay(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code == 0 {
		if e.Log != nil {
			e.Log.ErrorContext(r.Context(), "vocafuse: token endpoint: no answer from the API", "error", err)
		}
		writeEnvelope(w, http.StatusServiceUnavailable, CodeServiceUnavailable, "Service temporarily unavailable", nil)
		return
	}
	switch apiErr.Code / 1000 {
	case 2, 4, 5:
		if apiErr.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((apiErr.RetryAfter+time.Second-1)/time.Second)))
		}
		writeEnvelope(w, apiErr.StatusCode, apiErr.Code, apiErr.Message, apiErr.Details)
	default:
		if e.Log != nil {
			e.Log.ErrorContext(r.Context(), "vocafuse: token endpoint: the API refused the backend", "error", apiErr)
		}
		writeEnvelope(w, http.StatusInternalServerError, CodeInternalServerError, "Internal server error", nil)
	}
}

// writeEnvelope answers with the API's error envelope.
func writeEnvelope(w http.ResponseWriter, status, code int, message string, details map[string]any) {
	body := map[string]any{"code": code, "message": message}
	if details != nil {
		body["details"] = details
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

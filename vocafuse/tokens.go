package vocafuse

import (
	"context"
	"net/http"
	"time"
)

// Tokens mints the short-lived tokens the browser SDK uploads with. Get it from
// Client.Tokens. Generate is VocaFuse's call (POST /v1/token); Create is the local
// API's first one (POST /v1/tokens), kept for the callers written against it.
type Tokens struct{ c *Client }

// Scopes of the tokens Generate mints.
const (
	ScopeUploadVoiceNote = "voice-api.upload_voicenote" // upload voice notes (VocaFuse's default)
)

// AccessTokenParams are what Generate mints a token for (VocaFuse's AccessToken and its
// generate() options).
type AccessTokenParams struct {
	// UserID is the user the token acts for, as the backend knows them ("user_42"):
	// the voice notes it uploads are that identity's. Required.
	UserID string
	// ExpiresIn is the token's lifetime, in whole seconds between 60 and 86400; 0 leaves
	// the API's default (one hour).
	ExpiresIn time.Duration
	// Scopes are what the token may do, such as ScopeUploadVoiceNote; nil sends
	// [ScopeUploadVoiceNote], as VocaFuse's SDK does. An unknown scope is 2003.
	Scopes []string
}

// AccessToken is a token minted by Generate: its JWTToken goes to the browser.
type AccessToken struct {
	JWTToken  string    `json:"jwt_token"`  // the JWT, for the browser SDK
	TokenType string    `json:"token_type"` // "Bearer"
	ExpiresIn int       `json:"expires_in"` // its lifetime in seconds
	Identity  string    `json:"identity"`   // the UserID it acts for
	ExpiresAt time.Time `json:"expires_at"` // when it expires; zero where the API did not say
}

// Generate mints a token for a user (POST /v1/token), as VocaFuse's
// AccessToken.generate() does. Errors: 2002 without a UserID
// (Details["field"] = "user_id"), 2003 for an ExpiresIn outside 60 s..24 h or an
// unknown scope, 1001 for a wrong API key or secret.
func (t *Tokens) Generate(ctx context.Context, p AccessTokenParams) (*AccessToken, error) {
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{ScopeUploadVoiceNote}
	}
	body := map[string]any{"user_id": p.UserID, "scopes": scopes}
	if p.ExpiresIn != 0 {
		body["expires_in"] = int64(p.ExpiresIn / time.Second)
	}
	var tok AccessToken
	// Minting changes nothing on the server, so it is safe to repeat.
	if _, err := t.c.do(ctx, call{method: http.MethodPost, path: "/v1/token", body: body, repeatable: true}, &inData{&tok}); err != nil {
		return nil, err
	}
	return &tok, nil
}

// TokenParams are what a token is for.
type TokenParams struct {
	// Identity is the user the token acts for, as the backend knows them ("user_42").
	// Required. Voice notes are kept per identity.
	Identity string
	// ExpiresIn is the token's lifetime, in whole seconds between 60 and 86400; 0 leaves
	// the API's default (one hour).
	ExpiresIn time.Duration
	// Scope narrows what the token may do: "voicenotes:read", "voicenotes:write", or
	// both separated by a space. "" allows both.
	Scope string
}

// Token is a minted token.
type Token struct {
	Token     string    `json:"token"`      // the JWT, for the browser SDK
	Identity  string    `json:"identity"`   // whom it acts for
	ExpiresIn int       `json:"expires_in"` // its lifetime in seconds
	ExpiresAt time.Time `json:"expires_at"` // when it expires
}

// Create mints a token with the local API's first call (POST /v1/tokens); Generate is
// VocaFuse's, and the one to prefer. Errors: 2002 without an identity, 2003 for an
// ExpiresIn outside 60 s..24 h, 1001 for a wrong API key or secret.
func (t *Tokens) Create(ctx context.Context, p TokenParams) (*Token, error) {
	body := map[string]any{"identity": p.Identity}
	if p.ExpiresIn != 0 {
		body["expires_in"] = int64(p.ExpiresIn / time.Second)
	}
	if p.Scope != "" {
		body["scope"] = p.Scope
	}
	return t.create(ctx, body)
}

// create sends a token request whose body is already made (the token handler passes on
// what the browser asked for).
func (t *Tokens) create(ctx context.Context, body map[string]any) (*Token, error) {
	var tok Token
	// Minting changes nothing on the server, so it is safe to repeat.
	_, err := t.c.do(ctx, call{method: http.MethodPost, path: "/v1/tokens", body: body, repeatable: true}, &tok)
	if err != nil {
		return nil, err
	}
	return &tok, nil
}

// cachedToken is a token the client minted for its own voice-note calls.
type cachedToken struct {
	token   string
	expires time.Time
}

// voiceNoteTokenTTL is the lifetime of the tokens the client mints for itself; one is
// reused until a minute before it expires.
const voiceNoteTokenTTL = time.Hour

// tokenFor returns a token for identity's voice notes, minting one when there is none
// or it is about to expire.
func (c *Client) tokenFor(ctx context.Context, identity string) (string, error) {
	c.mu.Lock()
	cached, ok := c.tokens[identity]
	c.mu.Unlock()
	if ok && time.Until(cached.expires) > time.Minute {
		return cached.token, nil
	}
	tok, err := c.Tokens.Create(ctx, TokenParams{Identity: identity, ExpiresIn: voiceNoteTokenTTL})
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.tokens[identity] = cachedToken{token: tok.Token, expires: tok.ExpiresAt}
	c.mu.Unlock()
	return tok.Token, nil
}

func (c *Client) forgetToken(identity string) {
	c.mu.Lock()
	delete(c.tokens, identity)
	c.mu.Unlock()
}

// Package vocafuse is the VocaFuse API for Go backends: the server-side half of the
// browser voice-note SDK. A backend uses it to mint the tokens the browser SDK uploads
// with, to list, read, download and delete voice notes and their transcriptions, to
// manage the account, its API keys and its webhooks, and to verify the webhook
// deliveries it receives. It makes the calls of VocaFuse's own Node SDK
// (vocafuse-node), in the same shapes. It is pure Go on net/http, with no dependency
// besides the standard library.
//
// # Client
//
// Make one Client from the API key and secret and share it:
//
//	client := vocafuse.NewClient(os.Getenv("VOCAFUSE_API_KEY"), os.Getenv("VOCAFUSE_API_SECRET"),
//		vocafuse.WithBaseURL("http://127.0.0.1:8080"), // the local server; the hosted API by default
//		vocafuse.WithLogger(slog.Default()))
//
//	tok, err := client.Tokens.Generate(ctx, vocafuse.AccessTokenParams{UserID: "user_42", ExpiresIn: time.Hour})
//	page, err := client.VoiceNotes().List(ctx, vocafuse.ListParams{Status: vocafuse.StatusTranscribed, Limit: 20})
//	for note, err := range client.VoiceNotes().All(ctx, vocafuse.ListParams{}) { … }
//	note, err := client.VoiceNotes().Get(ctx, id)
//	text, err := client.VoiceNotes().Transcription(ctx, id)
//	acc, err := client.Account.Get(ctx)
//	key, err := client.APIKeys.Create(ctx, vocafuse.APIKeyParams{Name: "Production Key"})
//	hook, err := client.Webhooks.Create(ctx, vocafuse.WebhookParams{URL: u, Events: []string{vocafuse.EventVoiceNoteTranscribed}})
//
// Calls authenticate with the API key and secret, sent in the X-VocaFuse-API-Key and
// X-VocaFuse-API-Secret headers as VocaFuse's SDKs send them (and never to another
// host a redirect leads to); only Client.VoiceNotes(identity) calls with a token.
//
// # Voice notes
//
// Client.VoiceNotes() is the account's voice notes, every identity's, read with the
// key; ListParams.Identity narrows a listing to one user. Listings come in numbered
// pages, newest first (ListParams.Page from 0, Limit up to 100), with filters on the
// status and the creation date; All and Pages walk the pages for a range loop, as
// vocafuse-node's iterate() does. ListParams.Cursor, the local API's first way of
// paging, still works; prefer Page.
//
// Client.VoiceNotes(identity) is one user's voice notes read as that user, the way
// the browser sees them: the client mints a token for the identity (POST /v1/tokens)
// and reuses it, so another identity's voice note is simply not found.
//
// # Tokens
//
// Tokens.Generate mints a token for one user with VocaFuse's POST /v1/token (user_id,
// expires_in, scopes); Tokens.Create is the local API's first call, POST /v1/tokens,
// kept for the callers written against it.
//
// # The token endpoint
//
// The browser SDK gets its tokens from the page's backend (its tokenEndpoint option).
// TokenHandler is that endpoint, given a function from the request to the signed-in user:
//
//	client := vocafuse.NewClient(key, secret)
//	http.Handle("POST /api/token", vocafuse.TokenHandler(client, func(r *http.Request) (string, error) { return session.UserID(r) }))
//
// # Errors
//
// A call the API refused, or that got no usable answer, fails with an *Error (a call
// whose context ended fails with the context's error instead, joined with the last
// *Error when it ended while waiting to retry). An *Error holds the API's code, its name in the error reference
// (docs/vocafuse-api-errors.txt), message and details, the HTTP status and the
// request id. errors.Is tells its category, as the reference's other SDKs do with
// AuthenticationError, NotFoundError and RateLimitError:
//
//	switch {
//	case errors.Is(err, vocafuse.ErrAuthentication): // 1001, 1002, 1003
//	case errors.Is(err, vocafuse.ErrNotFound):       // 6001, 6002, 6003
//	case errors.Is(err, vocafuse.ErrRateLimit):      // 4003: e.RetryAfter says how long to wait
//	}
//
// An answer that is not the API's (an HTML error page from a proxy, an empty body) and
// a request that got no answer are *Error values too, with Code 0, a message that says
// what came instead, and the category of the HTTP status (ErrNetwork for no answer).
// An *Error is a group of attributes in a log/slog line.
//
// # Retries
//
// The client retries as the reference advises, at most WithRetries times (3 by default):
//
//   - 4003 RATE_LIMIT_EXCEEDED waits the answer's retry_after (or its Retry-After
//     header), whatever the request: a rate-limited request did nothing.
//   - 5001, 5002, a 502, 503 or 504 from something in between, and a network failure
//     back off exponentially with jitter (WithBackoff: 0.5 s, 1 s, 2 s, … by default),
//     or wait the Retry-After the answer gives, but only for requests that are safe to
//     repeat: GET, PUT, DELETE and minting a token. Creating a webhook or an API key is
//     not repeated.
//   - Nothing else is retried: a validation or authentication error would fail again.
//
// The caller's context always wins: no wait outlives it, and a retry whose wait would
// pass its deadline is not started; the last error is returned instead.
//
// # Webhooks
//
// The API posts events (voicenote.created, voicenote.transcribed, voicenote.failed,
// voicenote.deleted) to the account's
// webhooks, signed with each webhook's secret. A receiver checks a delivery with one
// call, which refuses a wrong signature and a timestamp older than five minutes (a
// replay):
//
//	func receive(w http.ResponseWriter, r *http.Request) {
//		event, err := vocafuse.VerifyWebhook(r, secret)
//		if err != nil {
//			http.Error(w, "invalid signature", http.StatusUnauthorized)
//			return
//		}
//		// event.DeliveryID is the same on every retry: de-duplicate by it.
//	}
//
// The delivery format is in the project's docs/api.md, "Webhooks".
package vocafuse

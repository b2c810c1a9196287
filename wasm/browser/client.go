//go:build js && wasm

package browser

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/upload"
)

// Client is one VocaFuse instance's link to the API: where it is, and the token cache
// every upload of that instance shares (so concurrent refreshes merge into one).
type Client struct {
	baseURL string
	tokens  *upload.Cache
}

var (
	clientsMu sync.Mutex
	clients   = map[int]*Client{}
)

// clientFor returns the client of the shim's SDK instance id, made from its options on first use.
func clientFor(id int, opts safejs.Value) *Client {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[id]; ok {
		return c
	}
	base, _ := stringProp(opts, "apiBaseUrl")
	if base == "" {
		base, _ = getString(safejs.Global(), "location", "origin")
	}
	endpoint, _ := stringProp(opts, "tokenEndpoint")
	getToken, _ := opts.Get("getToken")
	c := &Client{
		baseURL: strings.TrimRight(base, "/"),
		tokens:  upload.NewCache(tokenSource(endpoint, getToken), time.Now),
	}
	clients[id] = c
	return c
}

func getString(v safejs.Value, path ...string) (string, error) {
	v, err := getPath(v, path...)
	if err != nil || v.Type() != safejs.TypeString {
		return "", err
	}
	return v.String()
}

// tokenSource asks the page's backend for a token: POST tokenEndpoint (same-origin
// credentials) or the page's getToken(). The token stays in memory, never in a log.
func tokenSource(endpoint string, getToken safejs.Value) upload.Source {
	return func(ctx context.Context) (string, time.Duration, error) {
		var answer safejs.Value
		var err error
		if getToken.Type() == safejs.TypeFunction {
			answer, err = getToken.Invoke()
			if err != nil {
				return "", 0, jsError(err)
			}
		} else {
			answer, err = fetchTokenEndpoint(ctx, endpoint)
			if err != nil {
				return "", 0, err
			}
		}
		if answer.Type() == safejs.TypeObject && isFunction(answer, "then") {
			if answer, err = await(ctx, answer); err != nil {
				return "", 0, err
			}
		}
		if answer.Type() == safejs.TypeString {
			token, _ := answer.String()
			return token, 0, nil
		}
		token, _ := stringProp(answer, "token")
		if token == "" {
			return "", 0, catalog.Newf(catalog.AuthenticationFailed, map[string]any{"reason": "the token answer has no token"},
				time.Now(), "the token answer has no token")
		}
		var expiresIn time.Duration
		if v, err := answer.Get("expires_in"); err == nil && v.Type() == safejs.TypeNumber {
			secs, _ := v.Float()
			expiresIn = time.Duration(secs * float64(time.Second))
		}
		return token, expiresIn, nil
	}
}

// fetchTokenEndpoint POSTs to the endpoint and answers the parsed JSON.
func fetchTokenEndpoint(ctx context.Context, endpoint string) (safejs.Value, error) {
	fetch, _ := safejs.Global().Get("fetch")
	init, _ := safejs.ValueOf(map[string]any{
		"method": "POST", "credentials": "same-origin",
		"headers": map[string]any{"Accept": "application/json"},
	})
	promise, err := fetch.Invoke(endpoint, init)
	if err != nil {
		return safejs.Undefined(), jsError(err)
	}
	response, err := await(ctx, promise)
	if err != nil {
		return safejs.Undefined(), catalog.Newf(catalog.NetworkError, map[string]any{"url": endpoint}, time.Now(),
			"the token endpoint could not be reached: %v", err)
	}
	ok, _ := response.Get("ok")
	if yes, _ := ok.Bool(); !yes {
		status, _ := response.Get("status")
		code, _ := status.Int()
		return safejs.Undefined(), catalog.Newf(catalog.AuthenticationFailed, map[string]any{"status": code},
			time.Now(), "the token endpoint answered HTTP %d", code)
	}
	body, err := response.Call("json")
	if err != nil {
		return safejs.Undefined(), jsError(err)
	}
	parsed, err := await(ctx, body)
	if err != nil {
		return safejs.Undefined(), catalog.Newf(catalog.AuthenticationFailed, map[string]any{"reason": "not JSON"},
			time.Now(), "the token endpoint did not answer JSON")
	}
	return parsed, nil
}

// xhrTransport sends one recording with XMLHttpRequest, for its upload progress. The
// Blob goes straight from JavaScript to the network.
type xhrTransport struct {
	blob safejs.Value
}

func (x *xhrTransport) Put(ctx context.Context, r upload.Request, progress func(sent, total int64)) (upload.Response, error) {
	ctor, _ := safejs.Global().Get("XMLHttpRequest")
	xhr, err := ctor.New()
	if err != nil {
		return upload.Response{}, jsError(err)
	}
	if _, err := xhr.Call("open", "PUT", r.URL); err != nil {
		return upload.Response{}, jsError(err)
	}
	_, _ = xhr.Call("setRequestHeader", "Authorization", "Bearer "+r.Token)
	_, _ = xhr.Call("setRequestHeader", "Content-Type", r.ContentType)
	if r.Metadata != "" {
		_, _ = xhr.Call("setRequestHeader", "X-VocaFuse-Metadata", r.Metadata)
	}
	_ = xhr.Set("timeout", 120_000)
	done := make(chan error, 1)
	var releases []func()
	defer func() {
		for _, release := range releases {
			release()
		}
	}()
	on := func(target safejs.Value, event string, h func(safejs.Value)) {
		if release, err := listen(target, event, h); err == nil {
			releases = append(releases, release)
		}
	}
	if up, err := xhr.Get("upload"); err == nil && up.Type() == safejs.TypeObject {
		on(up, "progress", func(ev safejs.Value) {
			loaded, _ := ev.Get("loaded")
			total, _ := ev.Get("total")
			l, _ := loaded.Float()
			t, _ := total.Float()
			progress(int64(l), int64(t))
		})
	}
	// A callback must never block: the first outcome is kept, any other dropped.
	finish := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	on(xhr, "load", func(safejs.Value) { finish(nil) })
	for _, failure := range []string{"error", "timeout", "abort"} {
		failure := failure
		on(xhr, failure, func(safejs.Value) {
			finish(catalog.Newf(catalog.NetworkError, nil, time.Now(), "the upload failed (%s)", failure))
		})
	}
	if _, err := xhr.Call("send", x.blob); err != nil {
		return upload.Response{}, jsError(err)
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		_, _ = xhr.Call("abort")
		return upload.Response{}, ctx.Err()
	}
	if err != nil {
		return upload.Response{}, err
	}
	status, _ := xhr.Get("status")
	code, _ := status.Int()
	text, _ := stringProp(xhr, "responseText")
	resp := upload.Response{Status: code, Body: []byte(text)}
	if v, err := xhr.Call("getResponseHeader", "Retry-After"); err == nil && v.Type() == safejs.TypeString {
		s, _ := v.String()
		if secs, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			resp.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return resp, nil
}

// send uploads a recording with the retries of sdk.md and answers the stored voice note.
func (cl *Client) send(ctx context.Context, blob safejs.Value, r upload.Request,
	progress func(sent, total int64), trouble func(*catalog.Error)) (safejs.Value, *catalog.Error) {
	u := &upload.Uploader{
		Tokens: cl.tokens, Transport: &xhrTransport{blob: blob},
		Policy: upload.DefaultPolicy(), Sleep: upload.RealSleep, BaseURL: cl.baseURL,
	}
	raw, err := u.Upload(ctx, r, progress, trouble)
	if err != nil {
		return safejs.Undefined(), asCatalogError(err)
	}
	json, _ := safejs.Global().Get("JSON")
	resource, perr := json.Call("parse", string(raw))
	if perr != nil {
		return safejs.Undefined(), catalog.Newf(catalog.APIError, nil, time.Now(), "the API answered something that is not JSON")
	}
	return resource, nil
}

func asCatalogError(err error) *catalog.Error {
	if ce, ok := err.(*catalog.Error); ok {
		return ce
	}
	return catalog.Newf(catalog.NetworkError, nil, time.Now(), "%v", err)
}

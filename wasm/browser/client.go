//go:build js && wasm

package browser

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/wasm/catalog"
	"github.com/vocafuse/recorder/wasm/upload"
)

// Client is one VocaFuse instance's link to the API: where it is, the shim's functions
// that fetch a token and send a request, and the token cache every upload of that
// instance shares (so concurrent refreshes merge into one). The network calls
// themselves are JavaScript: written there they cost the page a fraction of what the
// same calls cost compiled into the wasm.
type Client struct {
	baseURL string
	put     safejs.Value // api.put(request, blob, onProgress) → { promise, abort }
	tokens  *upload.Cache
}

var (
	clientsMu sync.Mutex
	clients   = map[int]*Client{}
)

// clientFor returns the client of the shim's SDK instance id, made from its api object
// ({ apiBaseUrl, token, put }) on first use.
func clientFor(id int, api safejs.Value) *Client {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[id]; ok {
		return c
	}
	base, _ := stringProp(api, "apiBaseUrl")
	if base == "" {
		base, _ = getString(safejs.Global(), "location", "origin")
	}
	token, _ := api.Get("token")
	put, _ := api.Get("put")
	c := &Client{
		baseURL: strings.TrimRight(base, "/"),
		put:     put,
		tokens:  upload.NewCache(tokenSource(token), time.Now),
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

// tokenSource asks the shim's api.token() for a token: it calls the page's getToken or
// POSTs to its tokenEndpoint, and answers { token, expires_in } or { error: { code,
// message } }. The token stays in memory, never in a log.
func tokenSource(fetch safejs.Value) upload.Source {
	return func(ctx context.Context) (string, time.Duration, error) {
		promise, err := fetch.Invoke()
		if err != nil {
			return "", 0, jsError(err)
		}
		answer, err := await(ctx, promise)
		if err != nil {
			return "", 0, err
		}
		if failure, _ := answer.Get("error"); failure.Type() == safejs.TypeObject {
			code, _ := stringProp(failure, "code")
			message, _ := stringProp(failure, "message")
			return "", 0, catalog.Newf(catalog.Code(code), nil, time.Now(), "%s", message)
		}
		token, _ := stringProp(answer, "token")
		var expiresIn time.Duration
		if v, err := answer.Get("expires_in"); err == nil && v.Type() == safejs.TypeNumber {
			secs, _ := v.Float()
			expiresIn = time.Duration(secs * float64(time.Second))
		}
		return token, expiresIn, nil
	}
}

// jsTransport sends one attempt through the shim's api.put (an XMLHttpRequest, for its
// upload progress). The Blob goes straight from JavaScript to the network.
type jsTransport struct {
	put  safejs.Value
	blob safejs.Value
}

func (t *jsTransport) Put(ctx context.Context, r upload.Request, progress func(sent, total int64)) (upload.Response, error) {
	onProgress, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) == 2 {
			sent, _ := args[0].Float()
			total, _ := args[1].Float()
			progress(int64(sent), int64(total))
		}
		return nil
	})
	if err != nil {
		return upload.Response{}, err
	}
	defer onProgress.Release()
	req, _ := safejs.ValueOf(map[string]any{
		"url": r.URL, "token": r.Token, "contentType": r.ContentType, "metadata": r.Metadata,
	})
	call, err := t.put.Invoke(req, t.blob, onProgress)
	if err != nil {
		return upload.Response{}, jsError(err)
	}
	promise, _ := call.Get("promise")
	answer, err := await(ctx, promise)
	if ctx.Err() != nil {
		_, _ = call.Call("abort")
		return upload.Response{}, ctx.Err()
	}
	if err != nil {
		return upload.Response{}, catalog.Newf(catalog.NetworkError, nil, time.Now(), "the upload failed (%v)", err)
	}
	status, _ := answer.Get("status")
	code, _ := status.Int()
	body, _ := stringProp(answer, "body")
	resp := upload.Response{Status: code, Body: []byte(body)}
	if v, _ := answer.Get("retryAfter"); v.Type() == safejs.TypeNumber {
		secs, _ := v.Float()
		resp.RetryAfter = time.Duration(secs * float64(time.Second))
	}
	return resp, nil
}

// send uploads a recording with the retries of docs/sdk.md and answers the stored voice note.
func (cl *Client) send(ctx context.Context, blob safejs.Value, r upload.Request,
	progress func(sent, total int64), trouble func(*catalog.Error)) (safejs.Value, *catalog.Error) {
	u := &upload.Uploader{
		Tokens: cl.tokens, Transport: &jsTransport{put: cl.put, blob: blob},
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

package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/vocafuse/recorder/vocafuse"
)

// The demo's own backend (POST /api/token) is built the way a customer's Go backend
// is: vocafuse.TokenHandler, whose client mints through the API, POST /v1/tokens with
// the API key and secret. The request goes through this server's whole HTTP handler
// (request id and log line, drain, planned faults, the route, its checks and its
// envelope), in process rather than over a socket: the server need not know the
// address it listens on, and the call cannot be confused with a browser's.

// internalCall marks a request the server made to itself. It lives in the request's
// context, which nothing from the network can set.
type internalCall struct{}

func isInternal(r *http.Request) bool { return r.Context().Value(internalCall{}) != nil }

// internalBaseURL is the base URL of the in-process client; its host is never dialled.
const internalBaseURL = "http://vocafuse-demo.internal"

// newDemoTokens builds the demo's token endpoint on s.
func (s *Server) newDemoTokens() *vocafuse.TokenEndpoint {
	client := vocafuse.NewClient(s.creds.APIKey, s.creds.APISecret,
		vocafuse.WithBaseURL(internalBaseURL),
		vocafuse.WithHTTPClient(&http.Client{Transport: inProcess{s}}),
		vocafuse.WithRetries(0), // the browser SDK retries a failed token request itself
		vocafuse.WithLogger(s.log))
	h := vocafuse.TokenHandler(client, visitorOf)
	h.ExpiresIn = defaultDemoTokenTTL * time.Second
	h.FromBody = false // the server, not the browser, decides lifetime and scope
	h.Log = s.log
	return h
}

type visitorKey struct{}

// visitorOf is the demo's "session": the visitor identity demoToken put in the context.
func visitorOf(r *http.Request) (string, error) {
	if v, ok := r.Context().Value(visitorKey{}).(string); ok && v != "" {
		return v, nil
	}
	return "", errors.New("no visitor")
}

// demoToken is POST /api/token, the demo page's own backend, doing what a customer's
// backend does for its signed-in user. The demo has no sign-in, so each browser is a
// visitor: a random id in an HttpOnly cookie, made on its first call. The identity is
// "demo_visitor_" and a hash of that id, so the cookie's value (which is what proves
// the identity) never shows in a token, a resource or a log line. Each browser thus
// lists only its own voice notes.
//
// The server decides everything about the token, as a backend must: the identity (the
// cookie's), the lifetime (10 minutes) and the scope (read and write, /v1/tokens'
// default). A body is not read. Only the server's own pages may call it
// (sameOriginOnly), and a client address gets at most NewVisitorLimit new identities a
// window: it is not an identity mint.
//
// The rate limit is the browser's address's, counted here; the call to /v1/tokens it
// makes is not counted again.
func (s *Server) demoToken(w http.ResponseWriter, r *http.Request) {
	if !s.sameOriginOnly(w, r) || !s.allow(w, clientKey(r)) {
		return
	}
	identity, ok := s.visitorIdentity(w, r)
	if !ok {
		return
	}
	s.demoTokens.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), visitorKey{}, identity)))
}

// inProcess is an http.RoundTripper that serves requests with the server's own handler.
type inProcess struct{ s *Server }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.WithContext(context.WithValue(req.Context(), internalCall{}, true))
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = req.URL.RequestURI()
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	func() {
		defer func() {
			// The handler chose to cut the connection (a planned drop): as a client sees it.
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				panic(p)
			} else if p != nil {
				rec.aborted = true
			}
		}()
		t.s.ServeHTTP(rec, req)
	}()
	if rec.aborted {
		return nil, errors.New("connection closed by the server")
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the ResponseWriter of an in-process request.
type recorder struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	aborted bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

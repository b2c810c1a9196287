//go:build js && wasm

package browser

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/catalog"
	"github.com/vocafuse/recorder/wasm/delivery"
)

// SDK is the Go side of one `new VocaFuse(...)`: the courier that delivers its
// recordings, built on the shim's I/O primitives, and the handle the shim calls.
type SDK struct {
	b       boundary
	courier *delivery.Courier
	funcs   []safejs.Func // the handle's functions, released with it
	store   safejs.Value  // the shim's store: the outbox, and the journals of recordings being made
	locks   jsLocks
	events  safejs.Value // the shim's SDK-level events(kind, ...values): recovered, uploaded, error
	// recovering holds the recordings rebuilt from journals until the outbox has them.
	recovering sync.Map

	mu       sync.Mutex
	released bool
}

// live counts what the page holds, for VocaFuse.diagnostics() and the leak tests.
var live struct {
	sync.Mutex
	sdks, controls int
}

// createSDK(io) makes the Go side of a VocaFuse instance. io holds the shim's
// primitives: apiBaseUrl, token(), tokenTrouble(message), announce(request),
// send(request, blob, counter), lock(id, wait) and store { put, get, delete, list }. The
// answer is the instance's handle.
func createSDK(args []safejs.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != safejs.TypeObject {
		return nil, invalidOption("io", "the shim's primitives are required")
	}
	io := args[0]
	base, _ := stringProp(io, "apiBaseUrl")
	if base == "" {
		origin, _ := getString(safejs.Global(), "location", "origin")
		base = origin + "/v1" // the local API; VocaFuse's is https://api.vocafuse.com
	}
	get := func(name string) safejs.Value { v, _ := io.Get(name); return v }
	s := &SDK{store: get("store"), events: get("events")}
	net := jsNetwork{b: s.b, token: get("token"), trouble: get("tokenTrouble"), announce: get("announce"), send: get("send")}
	s.locks = jsLocks{b: s.b, lock: get("lock")}
	s.courier = delivery.New(jsStore{b: s.b, store: s.store}, s.locks, net, base, delivery.DefaultPolicy())
	// A journal goes once its recording is in the outbox on disk: at no moment is a
	// recording in neither. The shim runs the removal after the journal's last write.
	s.courier.Kept = func(id string) {
		_, _ = s.store.Call("dropJournal", id)
		// A recovered recording is announced once it is in the outbox: a page that calls
		// pending() in onRecovered sees it there.
		if rec, ok := s.recovering.LoadAndDelete(id); ok {
			r := rec.(*delivery.Record)
			s.emit("recovered", r.ID, r.Audio, r.ContentType, r.Format, r.Duration, float64(r.Size))
		}
	}
	s.courier.Landed = func(r *delivery.Record, note any) { s.emit("uploaded", noteJS(note, r.ID)) }
	// One function, call(name, ...args), rather than an object of functions: each
	// exported function costs the wasm its own wrapper.
	handle, err := export("sdk", func(args []safejs.Value) (any, error) {
		name, rest := command(args)
		switch name {
		case "createControl":
			return s.createControl(rest)
		case "upload":
			return s.upload(rest)
		case "retry":
			return s.retry(rest)
		case "discard":
			return s.discard(rest)
		case "release":
			return s.release(rest)
		case "identity":
			// The token in hand: pending() must not wait on a token endpoint that is down.
			return s.courier.KnownIdentity(), nil
		}
		return nil, invalidOption("command", "unknown: "+name)
	})
	if err != nil {
		return nil, err
	}
	s.funcs = append(s.funcs, handle)
	s.b.spawn(s.recoverJournals)
	live.Lock()
	live.sdks++
	live.Unlock()
	return handle.Value(), nil
}

// command splits a handle's call into its name and its arguments.
func command(args []safejs.Value) (string, []safejs.Value) {
	if len(args) == 0 {
		return "", nil
	}
	name, _ := args[0].String()
	return name, args[1:]
}

// retry(all) answers a Promise settled once every recording in the outbox that this tab
// can take has had an attempt. What is still pending then, the shim reads itself.
func (s *SDK) retry(args []safejs.Value) (any, error) {
	all := len(args) > 0 && mustBool(args[0])
	return s.promise(func() (any, error) {
		s.courier.Retry(all)
		return nil, nil
	})
}

func (s *SDK) discard(args []safejs.Value) (any, error) {
	id := ""
	if len(args) > 0 {
		id, _ = args[0].String()
	}
	return s.promise(func() (any, error) { return s.courier.Discard(id), nil })
}

// release: the shim dropped this instance (its FinalizationRegistry saw it collected).
// Deliveries end after their current attempt and leave the outbox to the next instance;
// the handle's functions are freed.
func (s *SDK) release([]safejs.Value) (any, error) {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return nil, nil
	}
	s.released = true
	s.mu.Unlock()
	s.courier.Close()
	s.releaseFuncs()
	go runtime.GC() // finalizes the JavaScript values the instance held (see Control.release)
	live.Lock()
	live.sdks--
	live.Unlock()
	return nil, nil
}

func (s *SDK) releaseFuncs() {
	for _, f := range s.funcs {
		f.Release()
	}
	s.funcs = nil
}

// promise answers a JavaScript Promise settled by run on a goroutine of its own. A panic
// in run rejects it with INTERNAL_ERROR.
func (s *SDK) promise(run func() (any, error)) (safejs.Value, error) {
	return newPromise(s.b, run)
}

func newPromise(b boundary, run func() (any, error)) (safejs.Value, error) {
	executor, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		resolve, reject := args[0], args[1]
		b.spawn(func() {
			var value any
			var err error
			if b.run("", func() { value, err = run() }) {
				err = catalog.New(catalog.InternalError, nil, time.Now())
			}
			if err == nil {
				v, convErr := safejs.ValueOf(toJS(value))
				if convErr == nil {
					_, _ = resolve.Invoke(v)
					return
				}
				err = convErr
			}
			_, _ = reject.Invoke(errorValue(err))
		})
		return nil
	})
	if err != nil {
		return safejs.Undefined(), err
	}
	defer executor.Release() // the executor runs inside the constructor
	ctor, _ := safejs.Global().Get("Promise")
	return ctor.New(executor)
}

// diagnostics() answers a Promise of what the Go side holds after a collection (what
// is merely garbage is not held): the leak tests watch it.
func diagnostics([]safejs.Value) (any, error) {
	return newPromise(boundary{}, func() (any, error) { return held(), nil })
}

func held() map[string]any {
	runtime.GC()
	live.Lock()
	defer live.Unlock()
	return map[string]any{"goroutines": runtime.NumGoroutine(), "sdks": live.sdks, "controls": live.controls}
}

// ---- The shim's primitives as the courier's interfaces. Each awaits a promise, so it
// runs on a delivery's goroutine, never inside a JavaScript callback. ----

// jsStore is the outbox in IndexedDB (or in memory where the shim cannot use it).
type jsStore struct {
	b     boundary
	store safejs.Value
}

func (s jsStore) call(method string, args ...any) safejs.Value {
	p, err := s.store.Call(method, args...)
	if err != nil {
		panic(jsError(err)) // the shim's store never throws; if it does, the courier's guard reports it
	}
	v, err := s.b.await(p)
	if err != nil {
		panic(err)
	}
	return v
}

// Put answers the reason the record is kept in memory only, as an error, or nil once on disk.
func (s jsStore) Put(r *delivery.Record) error {
	v := s.call("put", recordJS(r))
	if v.Type() == safejs.TypeString {
		reason, _ := v.String()
		return errors.New(reason)
	}
	return nil
}

func (s jsStore) Get(id string) *delivery.Record {
	v := s.call("get", id)
	if v.Type() != safejs.TypeObject {
		return nil
	}
	return recordFromJS(v)
}

func (s jsStore) Delete(id string) { s.call("delete", id) }

func (s jsStore) List() []*delivery.Record {
	v := s.call("list")
	n, _ := v.Length()
	out := make([]*delivery.Record, 0, n)
	for i := 0; i < n; i++ {
		if item, err := v.Index(i); err == nil && item.Type() == safejs.TypeObject {
			out = append(out, recordFromJS(item))
		}
	}
	return out
}

// jsLocks are Web Locks named after the recording's id.
type jsLocks struct {
	b    boundary
	lock safejs.Value // lock(id, wait) → Promise<release function | null>
}

func (l jsLocks) Lock(id string, wait bool) (func(), bool) {
	p, err := l.lock.Invoke(id, wait)
	if err != nil {
		return func() {}, false
	}
	release, err := l.b.await(p)
	if err != nil || release.Type() != safejs.TypeFunction {
		return func() {}, false
	}
	return func() { _, _ = release.Invoke() }, true
}

// jsNetwork is the shim's token(), announce() and send(): fetch and XMLHttpRequest.
// Written in JavaScript they cost the page a fraction of what the same calls cost
// compiled into the wasm, and the bytes and the progress never cross into Go. What the
// answers mean is decided in Go (package delivery).
type jsNetwork struct {
	b        boundary
	token    safejs.Value // token() → { endpoint, status, json } | { endpoint, unreachable } | { value } | { thrown }
	trouble  safejs.Value // tokenTrouble(message): the developer's console hears it, once
	announce safejs.Value // announce(url, token, key, fileName, size, format, contentType, duration, multipart, metadata, timeout) → Promise<{ status, json, text, etag, retryAfter }>
	send     safejs.Value // send(url, start, length, contentType, timeout, blob, counter) → the same
}

func (n jsNetwork) Token() (string, time.Duration, error) {
	promise, err := n.token.Invoke()
	if err != nil {
		return "", 0, jsError(err)
	}
	got, err := n.b.await(promise)
	if err != nil {
		return "", 0, err
	}
	a := delivery.TokenAnswer{}
	a.Endpoint, _ = stringProp(got, "endpoint")
	a.Unreachable, _ = stringProp(got, "unreachable")
	a.Thrown, _ = stringProp(got, "thrown")
	if v, _ := got.Get("status"); v.Type() == safejs.TypeNumber {
		a.Status, _ = v.Int()
		a.Doc = fromJS(mustGet(got, "json"), 0)
	} else {
		a.Doc = fromJS(mustGet(got, "value"), 0)
	}
	token, expiresIn, failure := delivery.ReadToken(a, time.Now())
	if failure != nil {
		_, _ = n.trouble.Invoke(failure.Message)
		return "", 0, failure
	}
	return token, expiresIn, nil
}

func (n jsNetwork) Announce(a delivery.Announcement) (delivery.Response, error) {
	promise, err := n.announce.Invoke(a.URL, a.Token, a.Key, a.FileName, float64(a.Size), a.Format, a.ContentType,
		a.Duration, a.Multipart, a.Metadata, float64(a.Timeout.Milliseconds()))
	if err != nil {
		return delivery.Response{}, jsError(err)
	}
	return n.answer(promise)
}

func (n jsNetwork) Send(p delivery.PartRequest) (delivery.Response, error) {
	// A take leaves garbage behind (the windows read from the Blob, the repaired header)
	// and wasm memory never shrinks: collect it while it is small, once a PUT is over,
	// rather than let the heap grow to twice its size first.
	defer runtime.GC()
	blob, _ := p.Audio.(safejs.Value)
	counter := p.Progress.Bind(func() any {
		page, _ := p.Progress.Page.(safejs.Value)
		v, _ := makers.progress.Invoke(page, float64(p.Progress.Total), float64(p.Progress.Before))
		return v
	})
	promise, err := n.send.Invoke(p.URL, float64(p.Start), float64(p.Length), p.ContentType,
		float64(p.Timeout.Milliseconds()), blob, counter)
	if err != nil {
		return delivery.Response{}, jsError(err)
	}
	return n.answer(promise)
}

// answer reads the shim's answer to a request: the body already parsed (Go reads
// values, not bytes), a 2xx answer's data kept as it came for the page.
func (n jsNetwork) answer(promise safejs.Value) (delivery.Response, error) {
	got, err := n.b.await(promise)
	if err != nil {
		return delivery.Response{}, err
	}
	status, _ := got.Get("status")
	code, _ := status.Int()
	body := mustGet(got, "json")
	resp := delivery.Response{Status: code, Doc: fromJS(body, 0)}
	resp.ETag, _ = stringProp(got, "etag")
	if code >= 200 && code < 300 {
		if data, _ := body.Get("data"); data.Type() == safejs.TypeObject {
			resp.Resource = data // the voice note, handed to the page as it came
		}
	} else {
		resp.Body, _ = stringProp(got, "text")
	}
	if v, _ := got.Get("retryAfter"); v.Type() == safejs.TypeNumber {
		secs, _ := v.Float()
		resp.RetryAfter = time.Duration(secs * float64(time.Second))
	}
	return resp, nil
}

// noteJS is what onUploaded gets: the server's voice note with the recording's id
// beside its own, or, where the last answer carried none (object storage), what the SDK
// knows of it.
func noteJS(note any, recordingID string) safejs.Value {
	if k, ok := note.(delivery.Known); ok {
		v, _ := makers.note.Invoke(safejs.Null(), k.RecordingID, k.ID, k.Format, k.Duration, float64(k.Size))
		return v
	}
	v, _ := makers.note.Invoke(toJS(note), recordingID)
	return v
}

// ---- Records and errors across the boundary ----

// recordJS is a record as the outbox stores it (structured clone keeps the Blob), made
// by the shim's record maker.
func recordJS(r *delivery.Record) safejs.Value {
	lastError := safejs.Null()
	if r.LastError != nil {
		lastError = errorValue(r.LastError)
	}
	v, err := makers.record.Invoke(r.ID, toJS(r.Audio), r.ContentType, r.Format, r.Duration, float64(r.Size), r.Metadata,
		float64(r.Created), r.Attempts, lastError, r.Held, r.Owner, r.Recovered, sessionJS(r.Session))
	if err != nil {
		panic(jsError(err))
	}
	return v
}

func recordFromJS(v safejs.Value) *delivery.Record {
	num := func(name string) float64 {
		f, _ := v.Get(name)
		n, _ := f.Float()
		return n
	}
	str := func(name string) string { s, _ := stringProp(v, name); return s }
	r := &delivery.Record{
		ID: str("id"), ContentType: str("mimeType"), Format: str("format"), Metadata: str("metadata"),
		Duration: num("duration"), Size: int64(num("size")), Created: int64(num("created")), Attempts: int(num("attempts")),
	}
	r.Audio, _ = v.Get("blob")
	if held, _ := v.Get("held"); held.Type() == safejs.TypeBoolean {
		r.Held = mustBool(held)
	}
	r.Owner = str("owner")
	if recovered, _ := v.Get("recovered"); recovered.Type() == safejs.TypeBoolean {
		r.Recovered = mustBool(recovered)
	}
	r.Session = sessionFromJS(mustGet(v, "session"))
	// lastError is the shim's to show (sdk.pending()); the next attempt makes its own.
	return r
}

// sessionJS is an upload session as the outbox stores it: a flat array, [voicenote id,
// multipart, upload id, usable until, then number, URL, start, length, done, ETag of
// each part] (cheaper across the boundary than objects).
func sessionJS(s *delivery.Session) any {
	if s == nil {
		return nil
	}
	flat := []any{s.VoiceNoteID, s.Multipart, s.UploadID, float64(s.UsableUntil)}
	for _, p := range s.Parts {
		flat = append(flat, p.Number, p.URL, float64(p.Start), float64(p.Length), p.Done, p.ETag)
	}
	return flat
}

// sessionFromJS reads a stored session back; anything malformed is no session (the next
// attempt asks for one with the same key).
func sessionFromJS(v safejs.Value) *delivery.Session {
	n, _ := v.Length()
	if v.Type() != safejs.TypeObject || n < 10 || (n-4)%6 != 0 {
		return nil
	}
	at := func(i int) safejs.Value { x, _ := v.Index(i); return x }
	str := func(i int) string { x, _ := at(i).String(); return x }
	num := func(i int) float64 { x, _ := at(i).Float(); return x }
	s := &delivery.Session{VoiceNoteID: str(0), Multipart: mustBool(at(1)), UploadID: str(2), UsableUntil: int64(num(3))}
	for i := 4; i < n; i += 6 {
		s.Parts = append(s.Parts, delivery.Part{Number: int(num(i)), URL: str(i + 1), Start: int64(num(i + 2)),
			Length: int64(num(i + 3)), Done: mustBool(at(i + 4)), ETag: str(i + 5)})
	}
	return s
}

// errorFromJS reads the { code, message } of a failure the shim answers (token()).
func errorFromJS(v safejs.Value) *catalog.Error {
	code, _ := stringProp(v, "code")
	e := catalog.New(catalog.Code(code), nil, time.Now())
	if m, _ := stringProp(v, "message"); m != "" {
		e.Message = m
	}
	return e
}

func mustGet(v safejs.Value, name string) safejs.Value {
	p, err := v.Get(name)
	if err != nil {
		return safejs.Undefined()
	}
	return p
}

// fromJS copies a JSON-like JavaScript value (what JSON.parse makes) into plain Go
// values: map[string]any, []any, float64, string, bool, nil. Deeper than maxDepth, or of
// another kind (a function), it is nil.
func fromJS(v safejs.Value, depth int) any {
	const maxDepth = 32
	switch v.Type() {
	case safejs.TypeBoolean:
		return mustBool(v)
	case safejs.TypeNumber:
		f, _ := v.Float()
		return f
	case safejs.TypeString:
		s, _ := v.String()
		return s
	case safejs.TypeObject:
	default:
		return nil
	}
	if depth >= maxDepth {
		return nil
	}
	array, _ := safejs.Global().Get("Array")
	if isArray, _ := array.Call("isArray", v); mustBool(isArray) {
		n, _ := v.Length()
		out := make([]any, n)
		for i := range out {
			item, _ := v.Index(i)
			out[i] = fromJS(item, depth+1)
		}
		return out
	}
	object, _ := safejs.Global().Get("Object")
	keys, err := object.Call("keys", v)
	if err != nil {
		return nil
	}
	n, _ := keys.Length()
	out := make(map[string]any, n)
	for i := 0; i < n; i++ {
		k, _ := keys.Index(i)
		key, _ := k.String()
		out[key] = fromJS(mustGet(v, key), depth+1)
	}
	return out
}

func getString(v safejs.Value, path ...string) (string, error) {
	v, err := getPath(v, path...)
	if err != nil || v.Type() != safejs.TypeString {
		return "", err
	}
	return v.String()
}

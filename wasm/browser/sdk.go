//go:build js && wasm

package browser

import (
	"errors"
	"runtime"
	"sync"
	"syscall/js"
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
	// recovering holds the recordings rebuilt from journals until the outbox has them, by
	// ID. A map under its own mutex: sync.Map's generic trie costs the wasm about 10 KB.
	recoveringMu sync.Mutex
	recovering   map[string]*delivery.Record

	mu       sync.Mutex
	released bool
}

// live counts what the page holds, for VocaFuse.diagnostics() and the leak tests.
var live struct {
	sync.Mutex
	sdks, controls int
	recovering     int // instances whose load-time journal recovery has not ended
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
	base := propString(io, "apiBaseUrl")
	if base == "" {
		origin, err := getString(safejs.Global(), "location", "origin")
		if err != nil {
			return nil, err
		}
		base = origin + "/v1" // the local API; VocaFuse's is https://api.vocafuse.com
	}
	s := &SDK{store: prop(io, "store"), events: prop(io, "events")}
	s.b = boundary{onPanic: s.reportPanic}
	net := jsNetwork{b: s.b, token: prop(io, "token"), trouble: prop(io, "tokenTrouble"), announce: prop(io, "announce"),
		send: prop(io, "send"), gc: &collector{}}
	s.locks = jsLocks{b: s.b, lock: prop(io, "lock")}
	s.courier = delivery.New(jsStore{b: s.b, store: s.store}, s.locks, net, base, delivery.DefaultPolicy())
	// A journal goes once its recording is in the outbox on disk: at no moment is a
	// recording in neither. The shim runs the removal after the journal's last write.
	s.courier.Kept = func(id string) {
		if err := callMethod(s.store, "dropJournal", id); err != nil {
			s.report(err) // the shim's store never throws: a bug, the page's INTERNAL_ERROR
		}
		// A recovered recording is announced once it is in the outbox: a page that calls
		// pending() in onRecovered sees it there.
		if r := s.takeRecovering(id); r != nil {
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
		case "mine":
			// pending()'s owner of each recording, by the token in hand: pending() must not
			// wait on a token endpoint that is down.
			return s.courier.MineNow(stringArg(rest, 0)), nil
		}
		return nil, invalidOption("command", "unknown: "+name)
	})
	if err != nil {
		return nil, err
	}
	s.funcs = append(s.funcs, handle)
	live.Lock()
	live.sdks++
	live.recovering++
	live.Unlock()
	s.b.spawn(func() {
		defer func() {
			live.Lock()
			live.recovering--
			live.Unlock()
		}()
		s.recoverJournals()
	})
	return handle.Value(), nil
}

// keepRecovering holds r until the outbox has it.
func (s *SDK) keepRecovering(r *delivery.Record) {
	s.recoveringMu.Lock()
	defer s.recoveringMu.Unlock()
	if s.recovering == nil {
		s.recovering = map[string]*delivery.Record{}
	}
	s.recovering[r.ID] = r
}

// takeRecovering answers and forgets the recording rebuilt as id, nil when there is none.
func (s *SDK) takeRecovering(id string) *delivery.Record {
	s.recoveringMu.Lock()
	defer s.recoveringMu.Unlock()
	r := s.recovering[id]
	delete(s.recovering, id)
	return r
}

// reportPanic tells the page, through onError, of a panic at one of the instance's own
// boundaries (recovering journals, its promises' goroutines): INTERNAL_ERROR.
func (s *SDK) reportPanic(p any) {
	s.report(catalog.Newf(catalog.InternalError, nil, time.Now(), "VocaFuse panicked: %v", p))
}

// report tells the page of err through onError; what is not the catalogue's is INTERNAL_ERROR.
func (s *SDK) report(err error) { s.emit("error", errorValue(err)) }

// command splits a handle's call into its name and its arguments; a name that is not a
// string is "", which no command has.
func command(args []safejs.Value) (string, []safejs.Value) {
	if len(args) == 0 {
		return "", nil
	}
	return stringArg(args, 0), args[1:]
}

// stringArg is args[i] where that is a string, else "".
func stringArg(args []safejs.Value, i int) string {
	if i >= len(args) || args[i].Type() != safejs.TypeString {
		return ""
	}
	return safejs.Unsafe(args[i]).String() // a string's String cannot fail
}

// retry(all) answers a Promise settled once every recording in the outbox that this tab
// can take has had an attempt. What is still pending then, the shim reads itself.
func (s *SDK) retry(args []safejs.Value) (any, error) {
	all := len(args) > 0 && isTrue(args[0])
	return s.promise(func() (any, error) {
		s.courier.Retry(all)
		return nil, nil
	})
}

func (s *SDK) discard(args []safejs.Value) (any, error) {
	id := stringArg(args, 0)
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
					// resolve and reject are the Promise's own: they do not throw.
					safejs.Unsafe(resolve).Invoke(safejs.Unsafe(v))
					return
				}
				err = convErr
			}
			safejs.Unsafe(reject).Invoke(safejs.Unsafe(errorValue(err)))
		})
		return nil
	})
	if err != nil {
		return safejs.Undefined(), err
	}
	defer executor.Release() // the executor runs inside the constructor
	ctor, err := safejs.Global().Get("Promise")
	if err != nil {
		return safejs.Undefined(), jsError(err)
	}
	return ctor.New(executor)
}

// diagnostics() answers a Promise of what the Go side holds after a collection (what
// is merely garbage is not held): the leak tests watch it. A panic rejects it.
func diagnostics([]safejs.Value) (any, error) {
	return newPromise(boundary{}, func() (any, error) { return liveCounts(), nil })
}

func liveCounts() map[string]any {
	runtime.GC()
	live.Lock()
	defer live.Unlock()
	return map[string]any{"goroutines": runtime.NumGoroutine(), "sdks": live.sdks, "controls": live.controls,
		"recovering": live.recovering}
}

// ---- The shim's primitives as the courier's interfaces. Each awaits a promise, so it
// runs on a delivery's goroutine, never inside a JavaScript callback. ----

// jsStore is the outbox in IndexedDB (or in memory where the shim cannot use it).
type jsStore struct {
	b     boundary
	store safejs.Value
}

func (s jsStore) call(method string, args ...any) safejs.Value {
	return s.await(s.store.Call(method, args...))
}

// await answers the promise p that the store's method answered, err its call's error.
func (s jsStore) await(p safejs.Value, err error) safejs.Value {
	if err != nil {
		panic(jsError(err)) // the shim's store never throws; if it does, the courier's guard reports it
	}
	v, err := s.b.await(p)
	if err != nil {
		panic(err)
	}
	return v
}

// Put: written answers the reason the record is kept in memory only, as an error, or nil
// once on disk.
func (s jsStore) Put(r *delivery.Record) (written func() error) {
	p, err := s.store.Call("put", recordJS(r))
	return func() error {
		if v := s.await(p, err); v.Type() == safejs.TypeString {
			return errors.New(safejs.Unsafe(v).String()) // a string's String cannot fail
		}
		return nil
	}
}

func (s jsStore) Get(id string) *delivery.Record {
	v := s.call("get", id)
	if v.Type() != safejs.TypeObject {
		return nil
	}
	return recordFromJS(v)
}

// Delete: the shim's delete hides the recording before it answers the promise, which
// settles once the disk has let it go (it never rejects).
func (s jsStore) Delete(id string) (removed func()) {
	p, err := s.store.Call("delete", id)
	if err != nil {
		panic(jsError(err)) // the shim's store never throws; if it does, the courier's guard reports it
	}
	return func() {
		if _, err := s.b.await(p); err != nil {
			panic(err)
		}
	}
}

func (s jsStore) List() []*delivery.Record {
	v := s.call("list")
	list := safejs.Unsafe(v) // the shim answers an array
	out := make([]*delivery.Record, 0, list.Length())
	for i := range cap(out) {
		if item := list.Index(i); item.Type() == js.TypeObject {
			out = append(out, recordFromJS(safejs.Safe(item)))
		}
	}
	return out
}

// jsLocks are Web Locks named after the recording's id.
type jsLocks struct {
	b    boundary
	lock safejs.Value // lock(id, wait) → Promise<release function | null>
}

// Lock answers ok false where the lock could not be had: the shim's lock() answers null
// when another tab holds it, and never throws or rejects (where there are no Web Locks
// it grants every lock), so an error here is a bug: the courier's guard reports it.
func (l jsLocks) Lock(id string, wait bool) (func(), bool) {
	release := must(l.b.await(safejs.Safe(safejs.Unsafe(l.lock).Invoke(id, wait))))
	if release.Type() != safejs.TypeFunction {
		return func() {}, false
	}
	return func() { safejs.Unsafe(release).Invoke() }, true
}

// jsNetwork is the shim's token(), announce() and send(): fetch and XMLHttpRequest.
// Written in JavaScript they cost the page a fraction of what the same calls cost
// compiled into the wasm, and the bytes and the progress never cross into Go. What the
// answers mean is decided in Go (package delivery).
type jsNetwork struct {
	b        boundary
	token    safejs.Value // token() → { endpoint, status, text } | { endpoint, unreachable } | { text } | { thrown }
	trouble  safejs.Value // tokenTrouble(message): the developer's console hears it, once
	announce safejs.Value // announce(url, token, key, fileName, size, format, contentType, duration, multipart, metadata, timeout) → Promise<{ status, text, data, etag, retryAfter }>
	send     safejs.Value // send(url, start, length, contentType, timeout, blob, counter) → the same
	gc       *collector
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
	a := delivery.TokenAnswer{Endpoint: propString(got, "endpoint"), Unreachable: propString(got, "unreachable"),
		Thrown: propString(got, "thrown"), Status: int(propNumber(got, "status"))}
	a.Doc, _ = delivery.ParseJSON(propString(got, "text")) // not JSON: nil, which ReadToken names
	token, expiresIn, failure := delivery.ReadToken(a, time.Now())
	if failure != nil {
		if _, err := n.trouble.Invoke(failure.Message); err != nil {
			println("vocafuse:", failure.Message) // the shim's console report failed: say it here
		}
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

// collectDelay puts the collection after the task that ends an upload, and after the
// few that read the answer and tell the page.
const collectDelay = 100 * time.Millisecond

// collector runs Go's collector once, collectDelay after the last of the PUTs that end
// close together (a note's parts), in a timer's task of its own. Each call's timer
// collects only if no later call came (Timer.Reset would cost the wasm 20 KB).
type collector struct {
	mu     sync.Mutex
	latest int
}

func (c *collector) soon(b boundary) {
	c.mu.Lock()
	c.latest++
	mine := c.latest
	c.mu.Unlock()
	b.after(collectDelay, func() {
		c.mu.Lock()
		last := mine == c.latest
		c.mu.Unlock()
		if last {
			runtime.GC()
		}
	})
}

func (n jsNetwork) Send(p delivery.PartRequest) (delivery.Response, error) {
	// A take leaves garbage behind (the windows read from the Blob, the repaired header)
	// and wasm memory never shrinks: collect it while it is small, once a PUT is over,
	// rather than let the heap grow to twice its size first; in a task of its own, after
	// the page has heard the outcome, not in the one that tells it.
	defer n.gc.soon(n.b)
	blob := p.Audio.(safejs.Value) // the glue's records hold the Blob as a safejs.Value
	counter := p.Progress.Bind(func() any {
		page, ok := p.Progress.Page.(safejs.Value)
		if !ok {
			page = safejs.Undefined() // the page asked for no progress
		}
		return safejs.Unsafe(makers.progress).Invoke(safejs.Unsafe(page), float64(p.Progress.Total), float64(p.Progress.Before))
	})
	promise, err := n.send.Invoke(p.URL, float64(p.Start), float64(p.Length), p.ContentType,
		float64(p.Timeout.Milliseconds()), blob, counter)
	if err != nil {
		return delivery.Response{}, jsError(err)
	}
	return n.answer(promise)
}

// answer reads the shim's answer to a request in five calls: its body crosses as one
// string, parsed here; a 2xx answer's data also comes as it came, for the page.
func (n jsNetwork) answer(promise safejs.Value) (delivery.Response, error) {
	got, err := n.b.await(promise)
	if err != nil {
		return delivery.Response{}, err
	}
	text := propString(got, "text")
	resp := delivery.Response{Status: int(propNumber(got, "status")), ETag: propString(got, "etag"),
		RetryAfter: time.Duration(propNumber(got, "retryAfter") * float64(time.Second))}
	resp.Doc, _ = delivery.ParseJSON(text) // not JSON: nil, an answer without an envelope
	if resp.Status >= 200 && resp.Status < 300 {
		if data := prop(got, "data"); data.Type() == safejs.TypeObject {
			resp.Resource = data // the voice note, handed to the page as it came
		}
	} else {
		resp.Body = delivery.Echo(text)
	}
	return resp, nil
}

// noteJS is what onUploaded gets: the server's voice note with the recording's id
// beside its own, or, where the last answer carried none (object storage), what the SDK
// knows of it.
// The shim's makers only build objects: a failure is a bug, the boundary's INTERNAL_ERROR.
func noteJS(note any, recordingID string) safejs.Value {
	if k, ok := note.(delivery.Known); ok {
		return safejs.Safe(safejs.Unsafe(makers.note).Invoke(js.Null(), k.RecordingID, k.ID, k.Format, k.Duration, float64(k.Size)))
	}
	return safejs.Safe(safejs.Unsafe(makers.note).Invoke(toJS(note), recordingID))
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
		float64(r.Created), r.Attempts, lastError, r.Refused, r.Owner, r.Recovered, sessionJS(r.Session))
	if err != nil {
		panic(jsError(err))
	}
	return v
}

// recordFromJS reads a stored record.
func recordFromJS(v safejs.Value) *delivery.Record {
	r := &delivery.Record{ID: propString(v, "id"), ContentType: propString(v, "mimeType"), Format: propString(v, "format"),
		Metadata: propString(v, "metadata"), Duration: propNumber(v, "duration"), Size: int64(propNumber(v, "size")),
		Created: int64(propNumber(v, "created")), Attempts: int(propNumber(v, "attempts")), Refused: propBool(v, "held"),
		Owner: propString(v, "owner"), Recovered: propBool(v, "recovered"), Audio: prop(v, "blob")}
	r.Session = sessionFromJS(prop(v, "session"))
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
	a := safejs.Unsafe(v)
	if a.Type() != js.TypeObject || a.Get("length").Type() != js.TypeNumber {
		return nil
	}
	n := a.Length()
	if n < 10 || (n-4)%6 != 0 {
		return nil
	}
	str := func(i int) string {
		if x := a.Index(i); x.Type() == js.TypeString {
			return x.String()
		}
		return ""
	}
	num := func(i int) float64 {
		if x := a.Index(i); x.Type() == js.TypeNumber {
			return x.Float()
		}
		return 0
	}
	flag := func(i int) bool { x := a.Index(i); return x.Type() == js.TypeBoolean && x.Bool() }
	s := &delivery.Session{VoiceNoteID: str(0), Multipart: flag(1), UploadID: str(2), UsableUntil: int64(num(3))}
	for i := 4; i < n; i += 6 {
		s.Parts = append(s.Parts, delivery.Part{Number: int(num(i)), URL: str(i + 1), Start: int64(num(i + 2)),
			Length: int64(num(i + 3)), Done: flag(i + 4), ETag: str(i + 5)})
	}
	return s
}

func getString(v safejs.Value, path ...string) (string, error) {
	v, err := getPath(v, path...)
	if err != nil || v.Type() != safejs.TypeString {
		return "", err
	}
	return v.String()
}

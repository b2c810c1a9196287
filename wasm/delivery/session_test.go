package delivery

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/vocafuse/recorder/internal/catalog"
)

// response is a scripted reply as the courier reads it.
func response(r reply) Response {
	resp, _ := play(r, 0)
	return resp
}

// What each answer to a PUT means, and what the delivery then does.
func TestPutAnswers(t *testing.T) {
	p := midPolicy()
	type want struct {
		outcome put
		note    bool         // the answer carried the voice note
		code    catalog.Code // the failure's code
		retry   bool         // Decide: tried again
		report  bool         // Decide: the page hears it at once
	}
	for _, tt := range []struct {
		name  string
		reply reply
		want  want
	}{
		{"the voice note (single, or the last part)", ok201(), want{outcome: putDone, note: true}},
		{"a part's receipt", partIn(), want{outcome: putDone}},
		{"object storage's empty 200 with an ETag", stored(), want{outcome: putDone}},
		{"403/1001 altered URL: a new session", apiError(403, 1001, ""),
			want{outcome: putStale, code: catalog.InvalidToken, retry: true}},
		{"403/1002 expired URL: a new session", apiError(403, 1002, ""),
			want{outcome: putStale, code: catalog.TokenExpired, retry: true}},
		{"S3 AccessDenied: a new session", s3Error(403, "AccessDenied", "Access Denied"),
			want{outcome: putStale, code: catalog.InsufficientPermissions, retry: true}},
		{"S3 Request has expired: a new session", s3Error(403, "AccessDenied", "Request has expired"),
			want{outcome: putStale, code: catalog.InsufficientPermissions, retry: true}},
		{"S3 signature refused: a new session", s3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match"),
			want{outcome: putStale, code: catalog.InsufficientPermissions, retry: true}},
		{"a bare 403: a new session", reply{status: 403, body: "<html>Forbidden</html>"},
			want{outcome: putStale, code: catalog.InsufficientPermissions, retry: true}},
		{"404/6001 session gone: a new session", apiError(404, 6001, `,"details":{"upload_id":"u1"}`),
			want{outcome: putStale, code: catalog.RecordingNotFound, retry: true}},
		{"S3 NoSuchUpload: a new session", s3Error(404, "NoSuchUpload", "The specified upload does not exist"),
			want{outcome: putStale, code: catalog.RecordingNotFound, retry: true}},
		{"409 a part already in with other bytes: held", apiError(409, 2003, `,"details":{"field":"part","value":2}`),
			want{outcome: putFailed, code: catalog.InvalidFieldValue, report: true}},
		{"400/2003 not the bytes announced: held", apiError(400, 2003, `,"details":{"field":"file_size"}`),
			want{outcome: putFailed, code: catalog.InvalidFieldValue, report: true}},
		{"400/2005: held", apiError(400, 2005, ""), want{outcome: putFailed, code: catalog.UnsupportedAudioFormat, report: true}},
		{"400/2006: held as DURATION_EXCEEDED", apiError(400, 2006, ""),
			want{outcome: putFailed, code: catalog.DurationExceeded, report: true}},
		{"422/3004: held", apiError(422, 3004, ""), want{outcome: putFailed, code: catalog.AudioProcessingFailed, report: true}},
		{"503/5002: the retry schedule", apiError(503, 5002, ""),
			want{outcome: putFailed, code: catalog.ServiceUnavailable, retry: true}},
		{"S3 SlowDown: the retry schedule", s3Error(503, "SlowDown", "Please reduce your request rate."),
			want{outcome: putFailed, code: catalog.ServiceUnavailable, retry: true}},
		{"S3 InternalError: the retry schedule", s3Error(500, "InternalError", "We encountered an internal error."),
			want{outcome: putFailed, code: catalog.InternalServerError, retry: true}},
		{"a bare 502: the retry schedule", reply{status: 502, body: "<html>Bad gateway</html>"},
			want{outcome: putFailed, code: catalog.ServiceUnavailable, retry: true}},
		{"429/4003: the server's wait", apiError(429, 4003, `,"details":{"retry_after":2}`),
			want{outcome: putFailed, code: catalog.RateLimitExceeded, retry: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			outcome, note, err := ReadPut(response(tt.reply), epoch)
			got := want{outcome: outcome, note: note != nil}
			if err != nil {
				got.code = err.Code
				d := p.Decide(Failure{N: 1, Status: err.Status, Err: err, Stale: outcome == putStale}, epoch)
				got.retry, got.report = d.Retry, d.Report != nil
				if strings.Contains(err.Message+err.UserMessage, "<") || strings.Contains(fmtDetails(err), "<Error>") {
					t.Fatalf("raw XML reaches the page: %+v", err)
				}
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v (error %+v)", got, tt.want, err)
			}
		})
	}
}

func fmtDetails(e *catalog.Error) string {
	b, _ := json.Marshal(e.Details)
	return string(b)
}

func TestStorageErrors(t *testing.T) {
	for _, tt := range []struct {
		body, code, message string
		ok                  bool
	}{
		{`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>3600</X-Amz-Expires><Expires>2026-03-01T12:00:00Z</Expires></Error>`,
			"AccessDenied", "Request has expired", true},
		{`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`, "SlowDown", "Please reduce your request rate.", true},
		{`<Error><Code>AccessDenied</Code></Error>`, "AccessDenied", "", true},
		{`<Error><Code> NoSuchUpload </Code><Message>a &lt;b&gt; &amp;amp; &quot;c&quot; &apos;d&apos;</Message></Error>`,
			"NoSuchUpload", `a <b> &amp; "c" 'd'`, true},
		{`<Error><Message>no code</Message></Error>`, "", "", false},
		{`<Error><Code>Cut`, "", "", false},
		{`{"error":{"code":5002}}`, "", "", false},
		{`<html><body>Bad gateway</body></html>`, "", "", false},
		{``, "", "", false},
	} {
		code, message, ok := StorageError(tt.body)
		if code != tt.code || message != tt.message || ok != tt.ok {
			t.Errorf("StorageError(%q) = %q, %q, %v", tt.body, code, message, ok)
		}
	}
	long := `<Error><Code>X</Code><Message>` + strings.Repeat("é", 300) + `</Message></Error>`
	if _, m, _ := StorageError(long); len(m) > maxStorageField || !utf8.ValidString(m) {
		t.Fatalf("a long message is kept as %d bytes, valid %v", len(m), utf8.ValidString(m))
	}
}

// Whatever object storage (or anything in its place) answers, the reader neither panics
// nor keeps more than a short, valid text of it.
func FuzzStorageError(f *testing.F) {
	f.Add(`<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
	f.Add(`<Error><Code>SlowDown</Code><Message>a &amp;&lt; b</Message></Error>`)
	f.Add(`<Error><Code></Code><Code>x</Code></Error>`)
	f.Add(`<Error><Message></Code>`)
	f.Fuzz(func(t *testing.T, body string) {
		code, message, ok := StorageError(body)
		if !ok && (code != "" || message != "") {
			t.Fatalf("not an error, yet %q %q", code, message)
		}
		if ok && code == "" {
			t.Fatal("an error without a code")
		}
		for _, s := range []string{code, message} {
			if len(s) > maxStorageField || (utf8.ValidString(body) && !utf8.ValidString(s)) {
				t.Fatalf("kept %q", s)
			}
		}
		if ok && !strings.Contains(body, "<Code>") {
			t.Fatal("a code from nowhere")
		}
	})
}

func TestReadSession(t *testing.T) {
	const now = 1_000_000
	single := `{"data":{"voicenote_id":"v","upload_type":"single","presigned_url":"https://s/1","expires_in":3600}}`
	s, reason := ReadSession(decode(single), 100, now)
	if s == nil || s.VoiceNoteID != "v" || s.Multipart || len(s.Parts) != 1 || s.Parts[0].Length != 100 ||
		s.UsableUntil != now+(55*time.Minute).Milliseconds() {
		t.Fatalf("single: %+v %q", s, reason)
	}
	multi := `{"data":{"voicenote_id":"v","upload_type":"multipart","expires_in":600,"upload_info":{"upload_id":"u","parts":[
		{"part_number":1,"presigned_url":"https://s/p1","start_byte":0,"end_byte":5242879,"content_length":5242880},
		{"part_number":2,"presigned_url":"https://s/p2","start_byte":5242880,"end_byte":6720043,"content_length":1477164}]}}}`
	s, reason = ReadSession(decode(multi), 6720044, now)
	if s == nil || !s.Multipart || s.UploadID != "u" || len(s.Parts) != 2 || s.Parts[1].Start != 5242880 || s.Parts[1].Length != 1477164 ||
		s.UsableUntil != now+(8*time.Minute).Milliseconds() {
		t.Fatalf("multipart: %+v %q", s, reason)
	}
	for name, body := range map[string]string{
		"no data":            `{"voicenote_id":"v"}`,
		"no voicenote_id":    `{"data":{"presigned_url":"https://s/1"}}`,
		"no url":             `{"data":{"voicenote_id":"v","upload_type":"single"}}`,
		"a gap":              strings.Replace(multi, `"start_byte":5242880`, `"start_byte":5242881`, 1),
		"short of the bytes": strings.Replace(multi, `"end_byte":6720043`, `"end_byte":6720042`, 1),
		"not JSON":           ``,
	} {
		if s, reason := ReadSession(decode(body), 6720044, now); s != nil || reason == "" {
			t.Errorf("%s: %+v", name, s)
		}
	}
}

func decode(s string) any {
	var doc any
	if json.Unmarshal([]byte(s), &doc) != nil {
		return nil
	}
	return doc
}

func TestReadToken(t *testing.T) {
	for _, tt := range []struct {
		name    string
		a       TokenAnswer
		token   string
		expires time.Duration
		code    catalog.Code // "" for a token
		reason  string       // a part of details.reason
		config  bool         // the person is told of a connection problem, not an expired session
	}{
		{"ours", TokenAnswer{Endpoint: "/t", Status: 200, Doc: decode(`{"token":"j","expires_in":3600}`)}, "j", time.Hour, "", "", false},
		{"VocaFuse's browser shape", TokenAnswer{Endpoint: "/t", Status: 200, Doc: decode(`{"success":true,"data":{"id_token":"j","token_type":"Bearer","expires_in":600}}`)},
			"j", 10 * time.Minute, "", "", false},
		{"vocafuse-node's generate()", TokenAnswer{Endpoint: "/t", Status: 201, Doc: decode(`{"data":{"jwt_token":"j","expires_in":60}}`)}, "j", time.Minute, "", "", false},
		{"the demo's, both at once", TokenAnswer{Endpoint: "/t", Status: 200, Doc: decode(`{"token":"j","expires_in":60,"success":true,"data":{"id_token":"j","expires_in":60}}`)},
			"j", time.Minute, "", "", false},
		{"getToken's string", TokenAnswer{Doc: "j"}, "j", 0, "", "", false},
		{"no token", TokenAnswer{Endpoint: "/t", Status: 200, Doc: decode(`{"data":{"access_token":"j"}}`)}, "", 0,
			catalog.AuthenticationFailed, "expected token, data.id_token or data.jwt_token", true},
		{"success false", TokenAnswer{Endpoint: "/t", Status: 200, Doc: decode(`{"success":false,"error":"nope"}`)}, "", 0,
			catalog.AuthenticationFailed, "success: false", true},
		{"not JSON", TokenAnswer{Endpoint: "/t", Status: 200}, "", 0, catalog.AuthenticationFailed, "did not answer a JSON object", true},
		{"404: no such endpoint", TokenAnswer{Endpoint: "/t", Status: 404}, "", 0, catalog.AuthenticationFailed, "HTTP 404", true},
		{"a proxy's 403", TokenAnswer{Endpoint: "/t", Status: 403}, "", 0, catalog.AuthenticationFailed, "HTTP 403", true},
		{"502", TokenAnswer{Endpoint: "/t", Status: 502}, "", 0, catalog.AuthenticationFailed, "HTTP 502", true},
		{"401: the visitor's credentials refused", TokenAnswer{Endpoint: "/t", Status: 401}, "", 0, catalog.AuthenticationFailed, "HTTP 401", false},
		{"no answer", TokenAnswer{Endpoint: "/t", Unreachable: "TypeError: Failed to fetch"}, "", 0, catalog.NetworkError, "could not be reached", true},
		{"getToken threw", TokenAnswer{Thrown: "Error: logged out"}, "", 0, catalog.AuthenticationFailed, "getToken failed: Error: logged out", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token, expires, err := ReadToken(tt.a, epoch)
			if token != tt.token || expires != tt.expires {
				t.Fatalf("token %q %s, err %+v", token, expires, err)
			}
			if tt.code == "" {
				if err != nil {
					t.Fatalf("err %+v", err)
				}
				return
			}
			reason, _ := err.Details["reason"].(string)
			if err.Code != tt.code || !strings.Contains(reason, tt.reason) {
				t.Fatalf("err %+v", err)
			}
			if tt.a.Status != 0 && err.Details["status"] != tt.a.Status {
				t.Fatalf("no status in details: %+v", err.Details)
			}
			if config := err.UserMessage == configurationTrouble; config != tt.config || config != strings.Contains(err.Message, "configuration") {
				t.Fatalf("user message %q, message %q", err.UserMessage, err.Message)
			}
		})
	}
}

// The token cache passes a failing endpoint's words on: the page hears what the
// developer must fix, and the person a connection problem.
func TestCacheKeepsTheEndpointsWords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCache(func() (string, time.Duration, error) {
			_, _, err := ReadToken(TokenAnswer{Endpoint: "/api/token", Status: 404}, time.Now())
			return "", 0, err
		})
		_, err := c.Get()
		ce := err.(*catalog.Error)
		if ce.Code != catalog.AuthenticationFailed || ce.UserMessage != configurationTrouble || ce.Details["status"] != 404 ||
			!strings.Contains(ce.Message, "configuration") {
			t.Fatalf("%+v", ce)
		}
	})
}

// ---- The flow through the courier ----

func big(id string, size int64) *Record {
	r := record(id)
	r.Format, r.ContentType, r.Size = "wav", "audio/wav", size
	return r
}

// What each answer to the POST means: a refusal is held without a byte sent, an
// expired token is refreshed once, a wait is waited, a 5xx backs off, a 2xx that is not
// a session is retried.
func TestPostAnswers(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reply  reply
		posts  int          // after a minute
		heard  catalog.Code // "" for nothing
		held   bool
		landed bool
	}{
		{"2004 held", apiError(400, 2004, `,"details":{"max_size":"25MB","actual_size":"30MB"}`), 1, catalog.FileSizeExceeded, true, false},
		{"2005 held", apiError(400, 2005, ""), 1, catalog.UnsupportedAudioFormat, true, false},
		{"2006 held", apiError(400, 2006, ""), 1, catalog.DurationExceeded, true, false},
		{"2002 held", apiError(400, 2002, `,"details":{"field":"audio_format"}`), 1, catalog.MissingRequiredField, true, false},
		{"409 key reused held", apiError(409, 2003, `,"details":{"field":"Idempotency-Key"}`), 1, catalog.InvalidFieldValue, true, false},
		{"an unknown route held", apiError(404, 2001, `,"details":{"reason":"no such route"}`), 1, catalog.InvalidRequestFormat, true, false},
		{"1002 refreshed once", apiError(401, 1002, ""), 2, "", false, true},
		{"4003 waits", apiError(429, 4003, `,"details":{"retry_after":3}`), 2, "", false, true},
		{"503 backs off", apiError(503, 5002, ""), 2, "", false, true},
		{"no answer backs off", reply{noAnswer: true}, 2, "", false, true},
		{"a 200 that is no session", reply{status: 200, body: `{"data":{}}`}, 2, catalog.APIError, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newStore()
				net := &fakeNetwork{script: []reply{ok201()}, postReply: []reply{tt.reply, {}}}
				c := newTab(t, store, newLocks(), net)
				w := &fakeWatcher{}
				c.SendHeld(record("a"), w, nil, nil)
				after(time.Minute)
				var heard catalog.Code
				if h := w.reports(); len(h) > 0 {
					heard = h[0].err.Code
				}
				held := store.has("a") && store.Get("a").Refused
				if n := len(net.announced()); n != tt.posts || heard != tt.heard || held != tt.held || (w.deliveries() == 1) != tt.landed {
					t.Fatalf("%d posts, heard %q, held %v, delivered %d", n, heard, held, w.deliveries())
				}
				if tt.held && len(net.attempts()) != 0 {
					t.Fatal("bytes sent for a refused recording")
				}
			})
		})
	}
}

// A session is kept with the recording: a reload (a new courier over the same outbox)
// sends the bytes to the same URL without asking again, until the URLs expire; then the
// SDK asks again with the same key, and the voice note is the same.
func TestASessionOutlivesAReloadUntilItExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		first := newTab(t, store, locks, &fakeNetwork{script: []reply{{noAnswer: true}}, expiresIn: 600})
		first.SendHeld(record("a"), &fakeWatcher{}, nil, nil)
		synctest.Wait()
		first.Close()
		after(time.Second)
		kept := store.Get("a")
		if kept == nil || kept.Session == nil || kept.Session.VoiceNoteID != "a" || kept.Session.Parts[0].URL != "https://store.test/up-a/0?session=1" {
			t.Fatalf("outbox %+v", kept)
		}

		reloaded := newTab(t, store, locks, &fakeNetwork{script: []reply{{noAnswer: true}}, expiresIn: 600})
		reloaded.Retry(false)
		if posts, puts := reloaded.net.announced(), reloaded.net.attempts(); len(posts) != 0 || len(puts) != 1 || puts[0].url != kept.Session.Parts[0].URL {
			t.Fatalf("after a reload: posts %v, puts %v", posts, puts)
		}
		reloaded.Close()
		after(time.Second)

		// Ten minutes on (the URLs lived 600 s, used until 480 s): a new session, same key.
		time.Sleep(10 * time.Minute)
		later := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}, expiresIn: 600, sessions: 1})
		later.Retry(false)
		posts, puts := later.net.announced(), later.net.attempts()
		if len(posts) != 1 || posts[0].key != "a" || len(puts) != 1 || puts[0].session != 2 || store.has("a") {
			t.Fatalf("after expiry: posts %v, puts %v, pending %v", posts, puts, store.has("a"))
		}
	})
}

// A multipart upload sends at most three parts at once; a part that fails is sent
// again alone (three failures while the others go in), to the same session; progress
// counts every part.
func TestPartsAreRetriedAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		slow := partIn()
		slow.delay = time.Second
		last := ok201()
		net := &fakeNetwork{parts: map[int][]reply{
			1: {slow}, 2: {apiError(503, 5002, ""), {noAnswer: true}, s3Error(503, "SlowDown", "Reduce"), last},
			3: {slow}, 4: {slow}, 5: {slow},
		}}
		c := newTab(t, store, newLocks(), net)
		w := &fakeWatcher{}
		const size = 25_000_000 // five parts
		var inFlight, most int
		var mu sync.Mutex
		net.onSend = func(delta int) {
			mu.Lock()
			defer mu.Unlock()
			inFlight += delta
			most = max(most, inFlight)
		}
		c.SendHeld(big("m", size), w, nil, nil)
		after(time.Minute)
		if w.deliveries() != 1 || len(w.reports()) != 0 || store.has("m") {
			t.Fatalf("delivered %d, heard %v", w.deliveries(), w.reports())
		}
		count := map[int]int{}
		for _, p := range net.attempts() {
			count[p.part]++
			if p.session != 1 {
				t.Fatalf("a part went to another session: %+v", p)
			}
		}
		if count[1] != 1 || count[3] != 1 || count[4] != 1 || count[5] != 1 || count[2] != 4 || len(net.announced()) != 1 {
			t.Fatalf("puts by part %v, posts %d", count, len(net.announced()))
		}
		if most != MaxParallelParts {
			t.Fatalf("at most %d parts at once, want %d", most, MaxParallelParts)
		}
		if a := net.announced()[0].a; !a.Multipart || a.Size != size {
			t.Fatalf("announced %+v", a)
		}
		// Each attempt's progress starts from what is already in.
		if b := net.progress; len(b) != 4 || b[0] != 0 || b[1] != size-5242880 || b[3] != b[1] {
			t.Fatalf("progress before each attempt %v", b)
		}
	})
}

// A reload in the middle of a multipart upload sends only the parts not yet in.
func TestAReloadSendsOnlyTheMissingParts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, locks := newStore(), newLocks()
		first := newTab(t, store, locks, &fakeNetwork{parts: map[int][]reply{1: {partIn()}, 2: {{noAnswer: true}}, 3: {partIn()}}})
		first.SendHeld(big("m", 12_000_000), &fakeWatcher{}, nil, nil)
		synctest.Wait()
		first.Close()
		after(time.Second)
		kept := store.Get("m").Session
		if kept == nil || !kept.Parts[0].Done || kept.Parts[1].Done || !kept.Parts[2].Done || kept.Parts[0].ETag != `"e"` {
			t.Fatalf("outbox session %+v", kept)
		}
		next := newTab(t, store, locks, &fakeNetwork{script: []reply{ok201()}})
		next.Retry(false)
		if puts := next.net.attempts(); len(puts) != 1 || puts[0].part != 2 || len(next.net.announced()) != 0 || store.has("m") {
			t.Fatalf("puts %+v", puts)
		}
	})
}

// A URL refused by object storage (expired, AccessDenied) or a session gone is not the
// page's business: the SDK asks again with the same key at once and sends only what is
// missing (the server keeps the parts it has of the same upload); refused again before
// any byte went in, the page hears it and it goes on on the backoff.
func TestAStaleSessionIsReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &fakeNetwork{parts: map[int][]reply{
			1: {partIn()}, 2: {s3Error(403, "AccessDenied", "Request has expired"), ok201()}, 3: {partIn()},
		}}
		store := newStore()
		c := newTab(t, store, newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(big("m", 12_000_000), w, nil, nil)
		after(time.Minute)
		posts := net.announced()
		if w.deliveries() != 1 || len(w.reports()) != 0 || len(posts) != 2 || posts[0].key != "m" || posts[1].key != "m" {
			t.Fatalf("delivered %d, heard %v, posts %d", w.deliveries(), w.reports(), len(posts))
		}
		// Each part went in once; part 2 to the new session, asked for at once.
		count := map[int]int{}
		for _, p := range net.attempts() {
			if p.part == 2 || p.session == 2 {
				count[p.part*10+p.session]++
			} else {
				count[p.part]++
			}
		}
		if count[1] != 1 || count[21] != 1 || count[22] != 1 || count[3]+count[32] != 1 || posts[1].at != posts[0].at {
			t.Fatalf("puts %v", count)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		net := &fakeNetwork{script: []reply{apiError(404, 6001, `,"details":{"upload_id":"u"}`), apiError(403, 1002, ""), ok201()}}
		c := newTab(t, newStore(), newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(time.Minute)
		h := w.reports()
		if len(h) != 1 || w.deliveries() != 1 || len(net.announced()) != 3 {
			t.Fatalf("heard %v, delivered %d, posts %d", h, w.deliveries(), len(net.announced()))
		}
		mustCode(t, h[0], catalog.AuthenticationFailed, true)
	})
}

// Object storage answers the last PUT with an empty 200: the page gets what the SDK
// knows of the voice note.
func TestObjectStoragesEmptyAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		c := newTab(t, store, newLocks(), &fakeNetwork{script: []reply{stored()}})
		var landed any
		c.Landed = func(_ *Record, note any) { landed = note }
		w := &fakeWatcher{}
		r := record("a")
		r.Duration = 2.5
		c.SendHeld(r, w, nil, nil)
		synctest.Wait()
		want := Known{ID: "a", RecordingID: "a", Format: "webm", Duration: 2.5, Size: 100}
		if w.deliveries() != 1 || w.delivered[0] != want || landed != want {
			t.Fatalf("delivered %+v, landed %+v", w.delivered, landed)
		}
	})
}

// A conflict on a part (the session holds other bytes for it) is held like any other:
// retryPending asks for a session again.
func TestAPartConflictIsHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newStore()
		net := &fakeNetwork{script: []reply{apiError(409, 2003, `,"details":{"field":"part","value":1}`), ok201()}}
		c := newTab(t, store, newLocks(), net)
		w := &fakeWatcher{}
		c.SendHeld(record("a"), w, nil, nil)
		after(time.Hour)
		if len(net.attempts()) != 1 || !store.Get("a").Refused {
			t.Fatalf("%d puts, held %v", len(net.attempts()), store.Get("a").Refused)
		}
		c.Retry(true)
		if len(net.announced()) != 2 || w.deliveries() != 1 {
			t.Fatalf("retryPending: %d posts, delivered %d", len(net.announced()), w.deliveries())
		}
	})
}

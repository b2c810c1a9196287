package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func part(t *testing.T, s *Store, data string) *Upload {
	t.Helper()
	u, err := s.NewUpload()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUploadSessions(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir)
	if err := s.InitSessions(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	owner := OwnerOf("user_42")
	start := SessionStart{Now: now, TTL: time.Hour, MaxOpen: 2, NewVoiceNoteID: id(1)}
	announced := UploadSession{Owner: owner, Identity: "user_42", Key: "k", Multipart: true, FileSize: 10, Format: "wav", PartSize: 4}
	sess, reused, err := s.StartSession(announced, start)
	if err != nil || reused || sess.VoiceNoteID != id(1) || sess.Parts() != 3 || !isSessionID(sess.ID) {
		t.Fatalf("%+v %v %v", sess, reused, err)
	}
	if st, ln := sess.PartRange(3); st != 8 || ln != 2 {
		t.Fatalf("part 3: %d %d", st, ln)
	}
	// The same key: the same session, living on; another size under it: a conflict.
	again, reused, err := s.StartSession(announced, SessionStart{Now: now.Add(time.Minute), TTL: time.Hour, MaxOpen: 2, NewVoiceNoteID: id(2)})
	if err != nil || !reused || again.ID != sess.ID || again.VoiceNoteID != id(1) || !again.ExpiresAt.Equal(now.Add(61*time.Minute)) {
		t.Fatalf("again: %+v %v %v", again, reused, err)
	}
	other := announced
	other.FileSize = 11
	var conflict *SessionConflict
	if _, _, err := s.StartSession(other, start); !errors.As(err, &conflict) || conflict.FileSize != 10 {
		t.Fatalf("another size: %v", err)
	}
	// Parts: recorded once, the same bytes repeated, other bytes refused.
	res, err := s.CommitPart(part(t, s, "cdef"), sess.ID, 2, now)
	if err != nil || res.Repeated || res.Received != 1 {
		t.Fatalf("part 2: %+v %v", res, err)
	}
	if res, err = s.CommitPart(part(t, s, "cdef"), sess.ID, 2, now); err != nil || !res.Repeated || res.Received != 1 {
		t.Fatalf("part 2 again: %+v %v", res, err)
	}
	if _, err = s.CommitPart(part(t, s, "cdeX"), sess.ID, 2, now); !errors.Is(err, ErrPartConflict) {
		t.Fatalf("part 2 with other bytes: %v", err)
	}
	if _, err = s.CommitPart(part(t, s, "xx"), sess.ID, 4, now); !errors.Is(err, ErrSessionGone) {
		t.Fatalf("part 4 of 3: %v", err)
	}
	// A part survives a reopen; an orphan directory does not.
	s.Close()
	orphan := filepath.Join(dir, "parts", strings.Repeat("ab", 16))
	os.MkdirAll(orphan, 0o700)
	s, _ = openStore(t, dir)
	defer s.Close()
	if err := s.InitSessions(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan part directory kept: %v", err)
	}
	s.CommitPart(part(t, s, "abcd"), sess.ID, 1, now)
	res, err = s.CommitPart(part(t, s, "ij"), sess.ID, 3, now)
	if err != nil || res.Received != 3 {
		t.Fatalf("last part: %+v %v", res, err)
	}
	up, err := s.AssembleSession(res.Session)
	if err != nil || up.Size() != 10 {
		t.Fatalf("assemble: %v", err)
	}
	buf := make([]byte, 10)
	up.ReadAt(buf, 0)
	up.Discard()
	if string(buf) != "abcdcdefij" {
		t.Fatalf("assembled %q", buf)
	}
	if err := s.CompleteSession(sess.ID, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "parts", sess.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parts kept after completion: %v", err)
	}
	if res, err = s.CommitPart(part(t, s, "cdef"), sess.ID, 2, now); err != nil || !res.Repeated || !res.Session.Completed {
		t.Fatalf("a part of a completed session: %+v %v", res, err)
	}
	// Open sessions are capped per owner; expired ones are swept, completed ones later.
	open1, _, _ := s.StartSession(UploadSession{Owner: owner, FileSize: 1, Format: "wav"}, SessionStart{Now: now, TTL: time.Hour, MaxOpen: 2, NewVoiceNoteID: id(3)})
	s.StartSession(UploadSession{Owner: owner, FileSize: 1, Format: "wav"}, SessionStart{Now: now, TTL: time.Hour, MaxOpen: 2, NewVoiceNoteID: id(4)})
	var tooMany *TooManySessions
	if _, _, err := s.StartSession(UploadSession{Owner: owner, FileSize: 1, Format: "wav"}, SessionStart{Now: now, TTL: time.Hour, MaxOpen: 2, NewVoiceNoteID: id(5)}); !errors.As(err, &tooMany) || !tooMany.RetryAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("past the cap: %v", err)
	}
	if n, err := s.SweepSessions(now.Add(time.Hour), 100); err != nil || n != 2 {
		t.Fatalf("sweep at an hour: %d %v", n, err)
	}
	if _, found, _ := s.Session(open1.ID); found {
		t.Error("an expired session survived the sweep")
	}
	if _, found, _ := s.Session(sess.ID); !found {
		t.Error("a completed session was forgotten before its retention")
	}
	if n, _ := s.SweepSessions(now.Add(25*time.Hour), 100); n != 1 {
		t.Fatalf("sweep at 25 hours: %d", n)
	}
}

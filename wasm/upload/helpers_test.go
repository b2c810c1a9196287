package upload

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told; safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: epoch} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) since(t time.Time) time.Duration { return c.now().Sub(t) }

// sleeper is a Sleeper that moves the fake clock instead of waiting.
type sleeper struct {
	clock *fakeClock
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.clock.advance(d)
	return ctx.Err()
}

func (s *sleeper) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Duration
	for _, w := range s.waits {
		t += w
	}
	return t
}

// tokenSource hands out "tok-1", "tok-2", … with a fixed lifetime, counting calls.
type tokenSource struct {
	mu       sync.Mutex
	calls    int
	lifetime time.Duration
	fail     func(call int) error // non-nil: the call fails with this error
}

func (s *tokenSource) source(ctx context.Context) (string, time.Duration, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(n); err != nil {
			return "", 0, err
		}
	}
	return fmt.Sprintf("tok-%d-secretvalue", n), s.lifetime, nil
}

func (s *tokenSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func tokenOf(n int) string { return fmt.Sprintf("tok-%d-secretvalue", n) }

// envelope is an API error body.
func envelope(code int, message string, details string) []byte {
	if details == "" {
		return []byte(fmt.Sprintf(`{"error":{"code":%d,"message":%q}}`, code, message))
	}
	return []byte(fmt.Sprintf(`{"error":{"code":%d,"message":%q,"details":%s}}`, code, message, details))
}

// catalogError asserts err is a *catalog.Error and answers it.
func catalogError(t *testing.T, err error) *catalog.Error {
	t.Helper()
	ce, ok := err.(*catalog.Error)
	if !ok || ce == nil {
		t.Fatalf("error %v (%T) is not a *catalog.Error", err, err)
	}
	return ce
}

// assertNoToken fails when any token-like value appears in the error's text or details.
func assertNoToken(t *testing.T, err error, tokens ...string) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err)}
	if ce, ok := err.(*catalog.Error); ok {
		texts = append(texts, ce.Message, ce.UserMessage, fmt.Sprintf("%v", ce.Details), fmt.Sprintf("%#v", ce.Fields()))
	}
	for _, tok := range tokens {
		for _, s := range texts {
			if strings.Contains(s, tok) {
				t.Errorf("token %q leaked into %q", tok, s)
			}
		}
	}
}

package upload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vocafuse/recorder/wasm/catalog"
)

func TestRefreshMargin(t *testing.T) {
	for _, tt := range []struct{ lifetime, want time.Duration }{
		{60 * time.Second, 12 * time.Second},
		{3600 * time.Second, 5 * time.Minute},
		{86400 * time.Second, 5 * time.Minute},
		{20 * time.Second, 5 * time.Second}, // 20 % would be 4 s: at least 5 s
		{6 * time.Second, 3 * time.Second},  // never more than half the lifetime
		{100 * time.Second, 20 * time.Second},
	} {
		if got := RefreshMargin(tt.lifetime); got != tt.want {
			t.Errorf("RefreshMargin(%s) = %s, want %s", tt.lifetime, got, tt.want)
		}
	}
}

func TestCacheFetchesOnceWithinLifetime(t *testing.T) {
	clk, src := newClock(), &tokenSource{lifetime: time.Hour}
	c := NewCache(src.source, clk.now)
	ctx := context.Background()
	for i := range 5 {
		tok, err := c.Get(ctx)
		if err != nil || tok != tokenOf(1) {
			t.Fatalf("Get %d = %q, %v", i, tok, err)
		}
		clk.advance(time.Minute)
	}
	if src.count() != 1 {
		t.Fatalf("source called %d times, want 1", src.count())
	}
}

func TestCacheRefetchesInsideMargin(t *testing.T) {
	clk, src := newClock(), &tokenSource{lifetime: time.Hour}
	c := NewCache(src.source, clk.now)
	ctx := context.Background()
	if _, err := c.Get(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour - 5*time.Minute - time.Second) // one second before the margin
	if tok, _ := c.Get(ctx); tok != tokenOf(1) || src.count() != 1 {
		t.Fatalf("before the margin: %q after %d calls", tok, src.count())
	}
	clk.advance(2 * time.Second) // inside the 5 min margin, not yet expired
	if tok, _ := c.Get(ctx); tok != tokenOf(2) || src.count() != 2 {
		t.Fatalf("inside the margin: %q after %d calls", tok, src.count())
	}
}

// A 60 s token (the API's shortest) is refreshed 12 s before it expires, not on every call.
func TestCacheSixtySecondToken(t *testing.T) {
	clk, src := newClock(), &tokenSource{lifetime: 60 * time.Second}
	c := NewCache(src.source, clk.now)
	issued := map[string]time.Time{}
	for range 600 { // a Get every 200 ms for two minutes
		tok, err := c.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := issued[tok]; !ok {
			issued[tok] = clk.now()
		}
		if left := issued[tok].Add(60 * time.Second).Sub(clk.now()); left < 12*time.Second {
			t.Fatalf("token %s answered with only %s left", tok, left)
		}
		clk.advance(200 * time.Millisecond)
	}
	// Fetched at 0 s, 48 s and 96 s.
	if src.count() != 3 {
		t.Fatalf("source called %d times in 120 s, want 3", src.count())
	}
}

func TestCacheUnknownLifetimeIsSixtySeconds(t *testing.T) {
	clk, src := newClock(), &tokenSource{lifetime: 0}
	c := NewCache(src.source, clk.now)
	_, _ = c.Get(context.Background())
	clk.advance(47 * time.Second)
	_, _ = c.Get(context.Background())
	if src.count() != 1 {
		t.Fatalf("refetched at 47 s of an unknown lifetime")
	}
	clk.advance(2 * time.Second)
	_, _ = c.Get(context.Background())
	if src.count() != 2 {
		t.Fatalf("not refetched at 49 s of an unknown lifetime (taken as 60 s)")
	}
}

// waitFor polls until cond holds (the cache's goroutine runs in real time).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *Cache) waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiting
}

func TestCacheMergesConcurrentFetches(t *testing.T) {
	clk := newClock()
	release := make(chan struct{})
	var calls sync.Mutex
	n := 0
	src := func(ctx context.Context) (string, time.Duration, error) {
		calls.Lock()
		n++
		calls.Unlock()
		<-release // a slow token endpoint
		return "the-one-token", time.Hour, nil
	}
	c := NewCache(src, clk.now)
	const callers = 10
	results := make(chan string, callers)
	for range callers {
		go func() {
			tok, err := c.Get(context.Background())
			if err != nil {
				tok = err.Error()
			}
			results <- tok
		}()
	}
	waitFor(t, "every Get to wait on the fetch", func() bool { return c.waiters() == callers })
	close(release)
	for range callers {
		if tok := <-results; tok != "the-one-token" {
			t.Errorf("a Get answered %q", tok)
		}
	}
	calls.Lock()
	defer calls.Unlock()
	if n != 1 {
		t.Fatalf("token source called %d times for %d concurrent Gets, want 1", n, callers)
	}
}

// A caller that gives up does not fail the others sharing its fetch.
func TestCacheCallerCancelDoesNotFailOthers(t *testing.T) {
	clk := newClock()
	release := make(chan struct{})
	src := func(ctx context.Context) (string, time.Duration, error) {
		select {
		case <-release:
			return "tok", time.Hour, nil
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
	c := NewCache(src, clk.now)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := c.Get(ctx); first <- err }()
	waitFor(t, "the first Get", func() bool { return c.waiters() == 1 })
	second := make(chan string, 1)
	go func() { tok, _ := c.Get(context.Background()); second <- tok }()
	waitFor(t, "the second Get", func() bool { return c.waiters() == 2 })
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get answered %v", err)
	}
	close(release)
	if tok := <-second; tok != "tok" {
		t.Fatalf("the other Get answered %q", tok)
	}
}

func TestCacheInvalidate(t *testing.T) {
	clk, src := newClock(), &tokenSource{lifetime: time.Hour}
	c := NewCache(src.source, clk.now)
	ctx := context.Background()
	tok1, _ := c.Get(ctx)

	c.Invalidate("some-stale-token")
	c.Invalidate("")
	if tok, _ := c.Get(ctx); tok != tok1 || src.count() != 1 {
		t.Fatalf("a stale or empty Invalidate dropped the token")
	}

	// Two uploads refused with the same token: one refresh.
	c.Invalidate(tok1)
	tok2, _ := c.Get(ctx)
	c.Invalidate(tok1)
	tok3, _ := c.Get(ctx)
	if tok2 != tokenOf(2) || tok3 != tok2 || src.count() != 2 {
		t.Fatalf("after two Invalidates of one token: %q, %q, %d calls", tok2, tok3, src.count())
	}
}

func TestCacheSourceFailures(t *testing.T) {
	unreachable := catalog.Newf(catalog.NetworkError, map[string]any{"url": "/api/token"}, epoch,
		"the token endpoint could not be reached")
	for _, tt := range []struct {
		name   string
		src    Source
		code   catalog.Code
		reason string // a substring of details.reason, "" for none expected
	}{
		{"plain error", func(context.Context) (string, time.Duration, error) {
			return "", 0, errors.New("the token endpoint answered HTTP 500")
		}, catalog.AuthenticationFailed, "HTTP 500"},
		{"catalog error of another code", func(context.Context) (string, time.Duration, error) {
			return "", 0, catalog.Newf(catalog.AuthenticationFailed, map[string]any{"status": 403}, epoch, "answered 403")
		}, catalog.AuthenticationFailed, "answered 403"},
		{"empty token", func(context.Context) (string, time.Duration, error) {
			return "", time.Hour, nil
		}, catalog.AuthenticationFailed, "empty token"},
		{"panic", func(context.Context) (string, time.Duration, error) {
			panic("boom")
		}, catalog.AuthenticationFailed, "panicked"},
		{"no source", nil, catalog.AuthenticationFailed, "no token source"},
		{"unreachable", func(context.Context) (string, time.Duration, error) {
			return "", 0, unreachable
		}, catalog.NetworkError, ""},
		{"wrapped unreachable", func(context.Context) (string, time.Duration, error) {
			return "", 0, fmt.Errorf("fetch: %w", unreachable)
		}, catalog.NetworkError, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache(tt.src, newClock().now)
			tok, err := c.Get(context.Background())
			if tok != "" {
				t.Errorf("token %q with an error", tok)
			}
			ce := catalogError(t, err)
			if ce.Code != tt.code || ce.Retryable != (tt.code == catalog.NetworkError) {
				t.Fatalf("error %+v, want %s", ce, tt.code)
			}
			reason, _ := ce.Details["reason"].(string)
			if tt.reason != "" && !strings.Contains(reason, tt.reason) {
				t.Errorf("details %v, want a reason with %q", ce.Details, tt.reason)
			}
			if tt.code == catalog.NetworkError && ce.Details["url"] != "/api/token" {
				t.Errorf("NETWORK_ERROR not kept as the source gave it: %+v", ce)
			}
		})
	}
}

func TestCacheCatalogDetailsKept(t *testing.T) {
	c := NewCache(func(context.Context) (string, time.Duration, error) {
		return "", 0, catalog.Newf(catalog.AuthenticationFailed, map[string]any{"status": 500}, epoch, "answered HTTP 500")
	}, newClock().now)
	_, err := c.Get(context.Background())
	ce := catalogError(t, err)
	if ce.Details["status"] != 500 || ce.Details["reason"] != "answered HTTP 500" {
		t.Fatalf("details %v", ce.Details)
	}
}

func TestCacheFetchTimeoutIsNetworkError(t *testing.T) {
	c := NewCache(func(ctx context.Context) (string, time.Duration, error) {
		<-ctx.Done() // a token endpoint that never answers
		return "", 0, ctx.Err()
	}, newClock().now)
	c.fetchTimeout = 10 * time.Millisecond
	_, err := c.Get(context.Background())
	if ce := catalogError(t, err); ce.Code != catalog.NetworkError {
		t.Fatalf("a hung token endpoint gave %v", ce)
	}
}

func TestCacheFailureIsNotCached(t *testing.T) {
	src := &tokenSource{lifetime: time.Hour, fail: func(n int) error {
		if n == 1 {
			return errors.New("down")
		}
		return nil
	}}
	c := NewCache(src.source, newClock().now)
	if _, err := c.Get(context.Background()); err == nil {
		t.Fatal("no error from a failing source")
	}
	if tok, err := c.Get(context.Background()); err != nil || tok != tokenOf(2) {
		t.Fatalf("second Get: %q, %v", tok, err)
	}
}

// A refresh that fails inside the margin falls back on the token while it has not expired.
func TestCacheRefreshFailureKeepsUnexpiredToken(t *testing.T) {
	clk := newClock()
	src := &tokenSource{lifetime: 60 * time.Second, fail: func(n int) error {
		if n > 1 {
			return errors.New("down")
		}
		return nil
	}}
	c := NewCache(src.source, clk.now)
	_, _ = c.Get(context.Background())
	clk.advance(50 * time.Second) // inside the 12 s margin
	if tok, err := c.Get(context.Background()); err != nil || tok != tokenOf(1) {
		t.Fatalf("inside the margin with the source down: %q, %v", tok, err)
	}
	clk.advance(10 * time.Second) // expired
	_, err := c.Get(context.Background())
	if ce := catalogError(t, err); ce.Code != catalog.AuthenticationFailed {
		t.Fatalf("expired with the source down: %v", ce)
	}
	assertNoToken(t, err, tokenOf(1))
	// An invalidated token is never the fallback.
	c2 := NewCache(src.source, clk.now)
	src.fail = nil
	tok, _ := c2.Get(context.Background())
	src.fail = func(int) error { return errors.New("down") }
	c2.Invalidate(tok)
	if _, err := c2.Get(context.Background()); err == nil {
		t.Fatal("an invalidated token was answered again")
	}
}

func TestCacheErrorsNeverCarryTheToken(t *testing.T) {
	clk := newClock()
	const old, fresh = "eyJold.token.value", "eyJfresh.token.value"
	n := 0
	c := NewCache(func(context.Context) (string, time.Duration, error) {
		n++
		if n == 1 {
			return old, 60 * time.Second, nil
		}
		// A careless source that puts tokens into its error.
		return fresh, 0, catalog.Newf(catalog.AuthenticationFailed, map[string]any{"echo": "had " + old + " and " + fresh},
			epoch, "refused %s, got %s", old, fresh)
	}, clk.now)
	_, _ = c.Get(context.Background())
	clk.advance(61 * time.Second)
	_, err := c.Get(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	assertNoToken(t, err, old, fresh)

	c = NewCache(func(context.Context) (string, time.Duration, error) {
		return fresh, 0, errors.New("bad token " + fresh)
	}, clk.now)
	_, err = c.Get(context.Background())
	assertNoToken(t, err, fresh)
	if ce := catalogError(t, err); !strings.Contains(ce.Details["reason"].(string), redacted) {
		t.Errorf("reason %v", ce.Details)
	}
}

func TestTokenStringHidesValue(t *testing.T) {
	tok := Token{Value: "eyJsecret", ExpiresAt: epoch}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %s", tok, tok, tok), fmt.Sprintf("%v", &tok)} {
		if strings.Contains(s, "eyJsecret") {
			t.Errorf("token printed: %s", s)
		}
	}
}

package delivery

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vocafuse/recorder/internal/catalog"
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

// tokenSource counts its calls and answers tok-1, tok-2, …
type tokenSource struct {
	mu       sync.Mutex
	calls    int
	lifetime time.Duration
	err      error
	block    chan struct{} // when set, each call waits for it
}

func (s *tokenSource) source() (string, time.Duration, error) {
	s.mu.Lock()
	s.calls++
	n, block, err := s.calls, s.block, s.err
	s.mu.Unlock()
	if block != nil {
		<-block
	}
	if err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("tok-%d-secretvalue", n), s.lifetime, nil
}

func (s *tokenSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func mustGet(t *testing.T, c *Cache, want string) {
	t.Helper()
	if got, err := c.Get(); err != nil || got != want {
		t.Fatalf("Get = %q, %v; want %q", got, err, want)
	}
}

// A 60 s token (the API's shortest) is used until 12 s before it expires, then renewed.
func TestCacheRenewsInsideTheMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{lifetime: 60 * time.Second}
		c := NewCache(src.source)
		mustGet(t, c, "tok-1-secretvalue")
		time.Sleep(47 * time.Second)
		mustGet(t, c, "tok-1-secretvalue")
		time.Sleep(2 * time.Second) // 49 s: inside the 12 s margin
		mustGet(t, c, "tok-2-secretvalue")
		if src.count() != 2 {
			t.Fatalf("%d fetches", src.count())
		}
	})
}

func TestCacheUnknownLifetimeIsSixtySeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{}
		c := NewCache(src.source)
		mustGet(t, c, "tok-1-secretvalue")
		time.Sleep(47 * time.Second)
		mustGet(t, c, "tok-1-secretvalue")
		time.Sleep(2 * time.Second)
		mustGet(t, c, "tok-2-secretvalue")
	})
}

func TestCacheMergesConcurrentFetches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{lifetime: time.Hour, block: make(chan struct{})}
		c := NewCache(src.source)
		var wg sync.WaitGroup
		got := make([]string, 10)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], _ = c.Get()
			}()
		}
		synctest.Wait() // all ten wait for the one fetch
		close(src.block)
		wg.Wait()
		if src.count() != 1 {
			t.Fatalf("%d fetches for 10 concurrent Gets", src.count())
		}
		for _, g := range got {
			if g != "tok-1-secretvalue" {
				t.Fatalf("got %q", g)
			}
		}
	})
}

func TestCacheFetchTimeoutIsNetworkError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{block: make(chan struct{})}
		c := NewCache(src.source)
		start := time.Now()
		_, err := c.Get()
		if ce, ok := err.(*catalog.Error); !ok || ce.Code != catalog.NetworkError || time.Since(start) != FetchTimeout {
			t.Fatalf("err %v after %s", err, time.Since(start))
		}
		close(src.block) // the late answer is dropped
	})
}

func TestCacheSourceFailures(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want catalog.Code
	}{
		{"unreachable", catalog.New(catalog.NetworkError, nil, epoch), catalog.NetworkError},
		{"refused", catalog.Newf(catalog.AuthenticationFailed, map[string]any{"status": 500}, epoch, "HTTP 500"), catalog.AuthenticationFailed},
		{"any other error", errors.New("getToken threw"), catalog.AuthenticationFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := NewCache((&tokenSource{err: tt.err}).source)
				_, err := c.Get()
				if ce, ok := err.(*catalog.Error); !ok || ce.Code != tt.want {
					t.Fatalf("err %v", err)
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		c := NewCache(func() (string, time.Duration, error) { panic("boom") })
		if _, err := c.Get(); err == nil {
			t.Fatal("a panicking source gave a token")
		}
	})
}

// A renewal that fails while the cached token has not yet expired answers that token.
func TestCacheRefreshFailureKeepsAnUnexpiredToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{lifetime: 60 * time.Second}
		c := NewCache(src.source)
		mustGet(t, c, "tok-1-secretvalue")
		src.err = catalog.New(catalog.NetworkError, nil, epoch)
		time.Sleep(50 * time.Second)
		mustGet(t, c, "tok-1-secretvalue")
		time.Sleep(11 * time.Second) // expired
		if _, err := c.Get(); err == nil {
			t.Fatal("an expired token was answered")
		}
	})
}

func TestCacheInvalidateOnlyTheRefusedToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{lifetime: time.Hour}
		c := NewCache(src.source)
		mustGet(t, c, "tok-1-secretvalue")
		c.Invalidate("tok-1-secretvalue")
		mustGet(t, c, "tok-2-secretvalue")
		c.Invalidate("tok-1-secretvalue") // a second upload refused with the old token
		mustGet(t, c, "tok-2-secretvalue")
	})
}

func TestErrorsNeverCarryTheToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &tokenSource{lifetime: 60 * time.Second}
		c := NewCache(src.source)
		mustGet(t, c, "tok-1-secretvalue")
		src.err = errors.New("rejected tok-1-secretvalue")
		time.Sleep(61 * time.Second)
		_, err := c.Get()
		if err == nil || strings.Contains(fmt.Sprintf("%+v", *err.(*catalog.Error)), "tok-1-secretvalue") {
			t.Fatalf("err %v", err)
		}
	})
}

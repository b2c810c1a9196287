package auth

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestPresignedPartURLs(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := NewPartSigner([]byte("token-key"), clock)
	g := PartGrant{Upload: "u1", Owner: "h1", Part: 2, Length: 5242880, Expires: now.Add(time.Hour)}
	q := s.Sign(g)
	got, err := s.Verify("u1", 2, q)
	if err != nil || got.Length != g.Length || got.Owner != "h1" || !got.Expires.Equal(g.Expires) {
		t.Fatalf("a genuine URL: %+v %v", got, err)
	}
	// Every field the URL allows is covered.
	alter := func(name, value string) url.Values {
		c := url.Values{}
		for k, v := range q {
			c[k] = append([]string(nil), v...)
		}
		c.Set(name, value)
		return c
	}
	for what, try := range map[string]func() error{
		"another upload": func() error { _, err := s.Verify("u2", 2, q); return err },
		"another part":   func() error { _, err := s.Verify("u1", 3, q); return err },
		"another owner":  func() error { _, err := s.Verify("u1", 2, alter(ParamOwner, "h2")); return err },
		"another length": func() error { _, err := s.Verify("u1", 2, alter(ParamLength, "5242881")); return err },
		"a later expiry": func() error {
			_, err := s.Verify("u1", 2, alter(ParamExpires, "99999999999"))
			return err
		},
		"no signature": func() error { c := alter(ParamSignature, ""); _, err := s.Verify("u1", 2, c); return err },
		"a repeated parameter": func() error {
			c := alter(ParamLength, "5242880")
			c.Add(ParamLength, "1")
			_, err := s.Verify("u1", 2, c)
			return err
		},
		"another server's key": func() error {
			_, err := NewPartSigner([]byte("other-key"), clock).Verify("u1", 2, q)
			return err
		},
		"the audio URL signer's key": func() error {
			// Same token key, other purpose: the audio signer's key must not sign uploads.
			a := NewURLSigner([]byte("token-key"), clock)
			if a.mac("h1", "u1", q.Get(ParamExpires)) == q.Get(ParamSignature) {
				return nil
			}
			return ErrURLForged
		},
	} {
		if err := try(); !errors.Is(err, ErrURLForged) {
			t.Errorf("%s: %v, want ErrURLForged", what, err)
		}
	}
	now = now.Add(time.Hour)
	if _, err := s.Verify("u1", 2, q); !errors.Is(err, ErrURLExpired) {
		t.Errorf("at its expiry: %v, want ErrURLExpired", err)
	}
}

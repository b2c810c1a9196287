package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// PartSigner signs the presigned upload URLs of VocaFuse's two-step upload: the URL a
// browser PUTs a recording (or one part of it) to, with no Authorization header. Like an
// object store's presigned URL, it carries its own authority: an HMAC over everything it
// allows (the upload session, its owner's handle, the part, the exact byte count and the
// expiry). Changing any of them makes the URL worthless; nothing in it is secret.
type PartSigner struct {
	key []byte
	now func() time.Time
}

// NewPartSigner signs with a key of its own, derived from the token key.
func NewPartSigner(tokenKey []byte, now func() time.Time) *PartSigner {
	return &PartSigner{key: DeriveKey(tokenKey, "vocafuse upload part url v1"), now: now}
}

// The query parameters of a presigned upload URL (besides ParamOwner, ParamExpires and
// ParamSignature, shared with the audio URL).
const ParamLength = "length"

// PartGrant is what one presigned URL allows: PUT Length bytes as part Part (0: the
// whole recording of a single upload) of upload session Upload, owned by the owner whose
// handle is Owner, until Expires.
type PartGrant struct {
	Upload  string
	Owner   string
	Part    int
	Length  int64
	Expires time.Time
}

// The ways a presigned URL is refused.
var (
	ErrURLForged  = errors.New("auth: presigned URL altered or forged")
	ErrURLExpired = errors.New("auth: presigned URL expired")
)

// Sign returns the query that grants g (its Expires is rounded down to the second).
func (s *PartSigner) Sign(g PartGrant) url.Values {
	expires := strconv.FormatInt(g.Expires.Unix(), 10)
	length := strconv.FormatInt(g.Length, 10)
	return url.Values{
		ParamOwner:     {g.Owner},
		ParamLength:    {length},
		ParamExpires:   {expires},
		ParamSignature: {s.mac(g.Upload, g.Owner, strconv.Itoa(g.Part), length, expires)},
	}
}

// Verify checks a presigned URL: upload and part from its path, the rest from its query.
// A signature that does not match (any field changed, a parameter missing or repeated)
// is ErrURLForged; a genuine one past its expiry is ErrURLExpired. The signature is
// checked first, so that an expiry moved forward is a forgery, not an expiry.
func (s *PartSigner) Verify(upload string, part int, q url.Values) (PartGrant, error) {
	one := func(name string) (string, bool) {
		v, ok := q[name]
		return firstOf(v), ok && len(v) == 1
	}
	owner, ok1 := one(ParamOwner)
	length, ok2 := one(ParamLength)
	expires, ok3 := one(ParamExpires)
	signature, ok4 := one(ParamSignature)
	if !ok1 || !ok2 || !ok3 || !ok4 ||
		!hmac.Equal([]byte(signature), []byte(s.mac(upload, owner, strconv.Itoa(part), length, expires))) {
		return PartGrant{}, ErrURLForged
	}
	n, err1 := strconv.ParseInt(length, 10, 64)
	unix, err2 := strconv.ParseInt(expires, 10, 64)
	if err1 != nil || err2 != nil {
		return PartGrant{}, ErrURLForged // signed by no server: Sign writes decimal integers
	}
	g := PartGrant{Upload: upload, Owner: owner, Part: part, Length: n, Expires: time.Unix(unix, 0)}
	if s.now().Unix() >= unix {
		return g, ErrURLExpired
	}
	return g, nil
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *PartSigner) mac(fields ...string) string {
	m := hmac.New(sha256.New, s.key)
	// Newlines separate the fields: a query value is URL-decoded and could hold one, so
	// each field is prefixed with its length as well; no two field lists collide.
	for _, f := range fields {
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f + "\n"))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

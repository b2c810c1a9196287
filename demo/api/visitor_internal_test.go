package api

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vocafuse/recorder/demo/store"
)

// A visitor cookie opens only when the server made it with its own key: not an id of
// the old unsigned format, not an id with another's signature, not a value made under
// another token secret, not a value with anything changed.
func TestVisitorCookieOpensOnlyWhenTheServerMadeIt(t *testing.T) {
	v := newVisitorSigner([]byte("test-signing-key"))
	id, value := v.issue()
	if !regexp.MustCompile(`^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$`).MatchString(value) || !strings.HasPrefix(value, id+".") {
		t.Fatalf("value %q for id %q", value, id)
	}
	if got, ok := v.open(value); !ok || got != id {
		t.Fatalf("open(%q) = %q, %v", value, got, ok)
	}
	otherID, other := v.issue()
	_, foreign := newVisitorSigner([]byte("another-signing-key")).issue()
	_, sig, _ := strings.Cut(other, ".")
	flipped := []byte(value)
	flipped[len(flipped)-1] ^= 1
	for name, bad := range map[string]string{
		"old unsigned format":      id,
		"another id's signature":   id + "." + sig,
		"another secret's value":   foreign,
		"a changed signature":      string(flipped),
		"an upper-case id":         strings.ToUpper(id) + value[32:],
		"no signature":             id + ".",
		"a signature of the label": otherID + "." + v.mac(""),
		"empty":                    "",
	} {
		if got, ok := v.open(bad); ok {
			t.Errorf("%s: %q opened as %q", name, bad, got)
		}
	}
}

// Among several values of the name, only one the server made is taken, and two it
// made that differ give none: the tossed one is never chosen.
func TestChooseVisitor(t *testing.T) {
	v := newVisitorSigner([]byte("test-signing-key"))
	mine, mineValue := v.issue()
	_, theirs := v.issue()
	forged := "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name   string
		values []string
		id     string
		strays bool
	}{
		{"none", nil, "", false},
		{"the server's", []string{mineValue}, mine, false},
		{"unsigned alone", []string{forged}, "", true},
		{"a forged shadow first", []string{forged, mineValue}, mine, true},
		{"a forged shadow after", []string{mineValue, forged}, mine, true},
		{"two the server made", []string{theirs, mineValue}, "", true},
		{"the same twice", []string{mineValue, mineValue}, mine, true},
	} {
		id, strays := v.chooseVisitor(c.values)
		if id != c.id || strays != c.strays {
			t.Errorf("%s: (%q, %v), want (%q, %v)", c.name, id, strays, c.id, c.strays)
		}
	}
}

// Past the global cap, the reserve goes to an upload whose identity and address both
// have none under way; an address at its own cap gets nothing, whatever the identity.
func TestUploadSlotAdmission(t *testing.T) {
	u := newUploadSlots(4, 2, 3) // a reserve of one
	take := func(owner, client string) bool {
		return u.acquire(uploader{store.Owner(owner), client}, nil) != nil
	}
	steps := []struct {
		owner, client string
		want          bool
	}{
		{"a1", "attacker", true}, {"a1", "attacker", true}, {"a1", "attacker", false}, // per identity
		{"a2", "attacker", true}, {"a3", "attacker", false}, // per address: 3
		{"h1", "honest", true},  // the cap: 4
		{"h2", "honest", false}, // past it, the address has one under way
		{"o1", "other", true},   // past it, the reserve: none for the identity or address
		{"o2", "third", false},  // the reserve is used up
	}
	for i, s := range steps {
		if got := take(s.owner, s.client); got != s.want {
			t.Fatalf("step %d (%s from %s): %v, want %v", i, s.owner, s.client, got, s.want)
		}
	}
}

func TestOverQuota(t *testing.T) {
	for _, c := range []struct {
		stored, size, limit int64
		want                bool
	}{{0, 100, 100, false}, {1, 100, 100, true}, {100, 0, 100, false}, {99, 1, 100, false}, {100, 1, 100, true}} {
		if got := overQuota(c.stored, c.size, c.limit); got != c.want {
			t.Errorf("overQuota(%d, %d, %d) = %v", c.stored, c.size, c.limit, got)
		}
	}
}

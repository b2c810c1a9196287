package api

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/internal/catalog"
)

// uploadSlots bounds the uploads under way: in all, per identity and per client
// address. An upload is a goroutine, a connection and a temporary file for as long as
// its body takes, so the number of them must not be the client's to choose. An upload
// past a cap is answered 503 / 5002 with Retry-After before a byte of its body is read.
type uploadSlots struct {
	max, perIdentity, perClient int
	retryAfter                  time.Duration

	mu       sync.Mutex
	total    int
	byOwner  map[store.Owner]int
	byClient map[string]int
	active   map[*uploadSlot]struct{}
}

func newUploadSlots(max, perIdentity, perClient int) *uploadSlots {
	return &uploadSlots{max: max, perIdentity: perIdentity, perClient: perClient, retryAfter: 2 * time.Second,
		byOwner: map[store.Owner]int{}, byClient: map[string]int{}, active: map[*uploadSlot]struct{}{}}
}

// uploader is whom an upload is for (the identity's owner key) and whom it comes from
// (clientKey: the address).
type uploader struct {
	owner  store.Owner
	client string
}

// uploadSlot is one upload under way: its body's pace and the way to cut it.
type uploadSlot struct {
	slots *uploadSlots
	who   uploader
	rc    *http.ResponseController

	mu  sync.Mutex
	cut bool
}

// admits decides whether who may start an upload now. Past the global cap, a reserve
// of a quarter more is kept for an upload whose identity and address both have none
// under way: identities are cheap (an API key mints them, a browser gets a new visitor
// now and then), addresses are not, so a flood of slow bodies from one address, under
// however many identities, holds at most its own cap and never the reserve, while an
// address that waits gets one. The server stays bounded: max + max/4 in all.
func (u *uploadSlots) admits(who uploader) bool {
	switch {
	case u.byOwner[who.owner] >= u.perIdentity, u.byClient[who.client] >= u.perClient, u.total >= u.max+u.max/4:
		return false
	case u.total < u.max:
		return true
	}
	return u.byOwner[who.owner] == 0 && u.byClient[who.client] == 0
}

// acquire takes a slot for who, or returns nil when a cap is reached.
func (u *uploadSlots) acquire(who uploader, rc *http.ResponseController) *uploadSlot {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.admits(who) {
		return nil
	}
	u.total++
	u.byOwner[who.owner]++
	u.byClient[who.client]++
	slot := &uploadSlot{slots: u, who: who, rc: rc}
	u.active[slot] = struct{}{}
	return slot
}

func (slot *uploadSlot) release() {
	u := slot.slots
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.active, slot)
	u.total--
	if u.byOwner[slot.who.owner]--; u.byOwner[slot.who.owner] == 0 {
		delete(u.byOwner, slot.who.owner)
	}
	if u.byClient[slot.who.client]--; u.byClient[slot.who.client] == 0 {
		delete(u.byClient, slot.who.client)
	}
}

// cutAll ends the bodies of every upload under way (at shutdown, once the drain time
// is over): their reads fail at once, and each answers 503 / 5002 and discards its file.
func (u *uploadSlots) cutAll() int {
	u.mu.Lock()
	slots := make([]*uploadSlot, 0, len(u.active))
	for s := range u.active {
		slots = append(slots, s)
	}
	u.mu.Unlock()
	for _, s := range slots {
		s.mu.Lock()
		s.cut = true
		_ = s.rc.SetReadDeadline(time.Unix(1, 0))
		s.mu.Unlock()
	}
	return len(slots)
}

func (slot *uploadSlot) wasCut() bool {
	slot.mu.Lock()
	defer slot.mu.Unlock()
	return slot.cut
}

var errUploadCut = errors.New("upload cut at shutdown")

// pacedBody reads an upload's body against two clocks: an overall deadline, and a
// minimum rate (after a grace for the first bytes, each byte buys 1/rate seconds more).
// A client that sends too slowly finds its read failing with os.ErrDeadlineExceeded.
type pacedBody struct {
	slot     *uploadSlot
	body     interface{ Read([]byte) (int, error) }
	start    time.Time
	grace    time.Duration
	rate     float64 // bytes per second
	deadline time.Time
	n        int64
}

func (p *pacedBody) Read(b []byte) (int, error) {
	d := p.start.Add(p.grace + time.Duration(float64(p.n)/p.rate*float64(time.Second)))
	if d.After(p.deadline) {
		d = p.deadline
	}
	p.slot.mu.Lock()
	if p.slot.cut {
		p.slot.mu.Unlock()
		return 0, errUploadCut
	}
	err := p.slot.rc.SetReadDeadline(d)
	p.slot.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := p.body.Read(b)
	p.n += int64(n)
	return n, err
}

// busy answers 503 / 5002 with Retry-After: too many uploads under way, or a new
// connection past the cap.
func busy(w http.ResponseWriter, retryAfter time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retryAfter/time.Second))))
	w.Header().Set("Connection", "close")
	writeError(w, catalog.ServiceUnavailable, nil)
}

package ingest

import (
	"sync"
	"time"
)

// Throttle slows down addresses that present unknown stream keys (or wrong
// passphrases), over every ingest protocol at once: after n
// recent failures the next attempt waits base·2^(n-1) (at most max) before
// its key is looked up, and after banAfter failures the address is refused
// outright for banFor. An address is forgotten forget after its last
// failure. At most maxEntries addresses are tracked; when full, expired
// entries are pruned and then the stalest one is evicted.
type Throttle struct {
	base, max      time.Duration
	banAfter       int
	banFor, forget time.Duration
	maxEntries     int
	now            func() time.Time

	mu sync.Mutex
	m  map[string]*throttleEntry
}

type throttleEntry struct {
	fails int
	last  time.Time
}

// NewThrottle returns a Throttle: delays start at base and double up to max;
// banAfter failures ban the address for banFor.
func NewThrottle(base, max time.Duration, banAfter int, banFor time.Duration) *Throttle {
	return &Throttle{
		base: base, max: max, banAfter: banAfter, banFor: banFor,
		forget:     10 * time.Minute,
		maxEntries: 4096,
		now:        time.Now,
		m:          map[string]*throttleEntry{},
	}
}

// Check returns how long to wait before looking up the key presented from
// ip, or banned when ip must be refused outright.
func (t *Throttle) Check(ip string) (delay time.Duration, banned bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[ip]
	if e == nil {
		return 0, false
	}
	now := t.now()
	if now.Sub(e.last) > t.forget {
		delete(t.m, ip)
		return 0, false
	}
	if e.fails >= t.banAfter && now.Sub(e.last) < t.banFor {
		return 0, true
	}
	d := t.base << min(e.fails-1, 20)
	if d > t.max || d <= 0 {
		d = t.max
	}
	return d, false
}

// fail records an unknown key presented from ip.
// Fail records a bad key (or passphrase) from ip.
func (t *Throttle) Fail(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e := t.m[ip]
	if e == nil {
		if len(t.m) >= t.maxEntries {
			t.prune(now)
		}
		e = &throttleEntry{}
		t.m[ip] = e
	}
	e.fails++
	e.last = now
}

func (t *Throttle) prune(now time.Time) {
	var stalest string
	var stalestAt time.Time
	for ip, e := range t.m {
		if now.Sub(e.last) > t.forget {
			delete(t.m, ip)
			continue
		}
		if stalest == "" || e.last.Before(stalestAt) {
			stalest, stalestAt = ip, e.last
		}
	}
	if len(t.m) >= t.maxEntries && stalest != "" {
		delete(t.m, stalest)
	}
}

// size is the number of tracked addresses.
// Size is the number of addresses remembered.
func (t *Throttle) Size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

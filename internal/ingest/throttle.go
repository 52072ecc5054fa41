package ingest

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Throttle slows down failed publish attempts (unknown stream keys, wrong
// passphrases) over every ingest protocol at once: RTMP, SRT and WHIP share
// one. It never slows down a valid key: a server looks the key up first and
// asks the throttle only when the attempt failed, then holds the refusal
// for the delay Fail returns before answering.
//
// The state is keyed on the client address and a hash of the attempted key
// (the key itself is not kept). The delay of a failure is
// BaseDelay·2^(n-1), at most MaxDelay, where n is the larger of how often
// this address presented this key and how many distinct failing keys it
// presented: an encoder retrying a stale key after rotate_key backs off on
// its own, a guesser trying many keys backs off too, and other encoders
// behind the same NAT, whose keys are valid, are not touched. Entries are
// forgotten Lifetime after their last failure; at most MaxEntries
// (address, key) pairs are kept, the stalest evicted first, and at most
// MaxHeld refusals are held at once.
type Throttle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu    sync.Mutex
	pairs map[pairKey]*throttleEntry
	addrs map[string]*throttleEntry // fails = distinct failing keys
	held  int                       // refusals being held now (Hold)
}

// ThrottleConfig shapes a Throttle; zero fields take the defaults.
type ThrottleConfig struct {
	BaseDelay  time.Duration // default 500 ms
	MaxDelay   time.Duration // default 8 s
	Lifetime   time.Duration // default 2 min
	MaxEntries int           // default 4096
	// MaxHeld bounds the refusals held at once (each holds a goroutine and
	// a connection); past it a refusal is answered at once. Default 1024.
	MaxHeld int
}

// Throttle defaults.
const (
	DefaultThrottleBaseDelay  = 500 * time.Millisecond
	DefaultThrottleMaxDelay   = 8 * time.Second
	DefaultThrottleLifetime   = 2 * time.Minute
	DefaultThrottleMaxEntries = 4096
	DefaultThrottleMaxHeld    = 1024
)

type pairKey struct {
	addr string
	key  [16]byte // SHA-256 of the attempted key, truncated
}

type throttleEntry struct {
	fails int
	last  time.Time
}

// NewThrottle returns a Throttle.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultThrottleBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultThrottleMaxDelay
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultThrottleLifetime
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultThrottleMaxEntries
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = DefaultThrottleMaxHeld
	}
	return &Throttle{cfg: cfg, now: time.Now, pairs: map[pairKey]*throttleEntry{}, addrs: map[string]*throttleEntry{}}
}

// Fail records a failed attempt with key from addr (an IP address, no
// port) and returns how long to hold its refusal.
func (t *Throttle) Fail(addr, key string) time.Duration {
	sum := sha256.Sum256([]byte(key))
	pk := pairKey{addr: addr}
	copy(pk.key[:], sum[:])

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	p := t.pairs[pk]
	if p != nil && now.Sub(p.last) > t.cfg.Lifetime {
		p.fails = 0
	}
	a := t.addrs[addr]
	if a != nil && now.Sub(a.last) > t.cfg.Lifetime {
		a.fails = 0
	}
	if p == nil {
		if len(t.pairs) >= t.cfg.MaxEntries {
			t.prune(now)
		}
		p = &throttleEntry{}
		t.pairs[pk] = p
	}
	if a == nil {
		a = &throttleEntry{}
		t.addrs[addr] = a
	}
	if p.fails == 0 {
		a.fails++ // a key this address had not failed with lately
	}
	p.fails++
	p.last, a.last = now, now
	n := max(p.fails, a.fails)
	d := t.cfg.BaseDelay << min(n-1, 20)
	if d > t.cfg.MaxDelay || d <= 0 {
		d = t.cfg.MaxDelay
	}
	return d
}

// prune drops expired entries and, when still full, the stalest pair; the
// per-address counts follow the pairs (an address without pairs is
// dropped). Called with t.mu held.
func (t *Throttle) prune(now time.Time) {
	var stalest pairKey
	var stalestAt time.Time
	found := false
	for k, e := range t.pairs {
		if now.Sub(e.last) > t.cfg.Lifetime {
			delete(t.pairs, k)
			continue
		}
		if !found || e.last.Before(stalestAt) {
			stalest, stalestAt, found = k, e.last, true
		}
	}
	if len(t.pairs) >= t.cfg.MaxEntries && found {
		delete(t.pairs, stalest)
	}
	live := make(map[string]bool, len(t.pairs))
	for k := range t.pairs {
		live[k.addr] = true
	}
	for a := range t.addrs {
		if !live[a] {
			delete(t.addrs, a)
		}
	}
}

// Size is the number of (address, key) pairs remembered.
func (t *Throttle) Size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pairs)
}

// Hold records a failed attempt with key from addr (Fail) and waits the
// delay it returns before the caller answers, or until ctx ends (then it
// returns ctx's error: the client is gone, there is nothing to answer).
// When MaxHeld refusals are already held it returns at once.
func (t *Throttle) Hold(ctx context.Context, addr, key string) error {
	d := t.Fail(addr, key)
	t.mu.Lock()
	if t.held >= t.cfg.MaxHeld {
		t.mu.Unlock()
		return ctx.Err()
	}
	t.held++
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.held--
		t.mu.Unlock()
	}()
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

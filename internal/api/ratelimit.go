package api

import (
	"sync"
	"time"
)

// RateLimit is a token bucket of failures: Burst failures are allowed at
// once, then one more every Every. A key whose bucket is empty is refused
// (429) until it refills by one.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// maxLimiterKeys bounds the memory of a limiter; when it is reached, full
// buckets are forgotten, and if that is not enough, all of them.
const maxLimiterKeys = 100_000

type bucket struct {
	tokens float64
	at     time.Time
}

type limiter struct {
	cfg RateLimit
	now func() time.Time

	mu sync.Mutex
	m  map[string]*bucket
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, m: map[string]*bucket{}}
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if l.cfg.Every > 0 {
		b.tokens += float64(now.Sub(b.at)) / float64(l.cfg.Every)
	}
	if b.tokens > float64(l.cfg.Burst) {
		b.tokens = float64(l.cfg.Burst)
	}
	b.at = now
}

// blocked returns how long key must wait, or 0 when it may go on.
func (l *limiter) blocked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		return 0
	}
	now := l.now()
	l.refill(b, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.cfg.Every))
}

// fail takes one token from key's bucket.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.m[key]
	if b == nil {
		if len(l.m) >= maxLimiterKeys {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.cfg.Burst), at: now}
		l.m[key] = b
	}
	l.refill(b, now)
	if b.tokens > 0 {
		b.tokens--
	}
	if b.tokens < 0 {
		b.tokens = 0
	}
}

func (l *limiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.tokens >= float64(l.cfg.Burst) {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxLimiterKeys {
		clear(l.m)
	}
}

// keyedMutex serializes work per key (idempotency keys in flight).
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]bool
}

// tryLock marks key busy; false when it already is.
func (k *keyedMutex) tryLock(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]bool{}
	}
	if k.m[key] {
		return false
	}
	k.m[key] = true
	return true
}

func (k *keyedMutex) unlock(key string) {
	k.mu.Lock()
	delete(k.m, key)
	k.mu.Unlock()
}

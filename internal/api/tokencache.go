package api

import (
	"context"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// tokenCacheTTL bounds how long a token lookup is reused: a revocation made
// on another node takes effect within this time (on this node, at once).
const tokenCacheTTL = time.Second

// tokenCacheMax bounds the cache; past it the cache starts over.
const tokenCacheMax = 10000

// tokenCache keeps recent token lookups by secret hash so that a busy client
// costs one database read per second, not one per request.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]tokenCacheEntry
}

type tokenCacheEntry struct {
	t  *store.APIToken
	at time.Time
}

// lookup returns the token with hash h, from the cache when fresh.
func (c *tokenCache) lookup(ctx context.Context, tokens store.Tokens, h []byte, now time.Time) (*store.APIToken, error) {
	k := string(h)
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < tokenCacheTTL && now.Sub(e.at) >= 0 {
		return e.t, nil
	}
	t, err := tokens.GetByHash(ctx, h)
	if err != nil {
		return nil, err // misses are not cached: a new token works at once
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = map[string]tokenCacheEntry{}
	}
	c.m[k] = tokenCacheEntry{t: t, at: now}
	c.mu.Unlock()
	return t, nil
}

// reset forgets every entry (after a revocation on this node).
func (c *tokenCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

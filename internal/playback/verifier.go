package playback

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Defaults of a Verifier.
const (
	// DefaultCacheSize bounds the verified-token cache (playback.token_cache_size).
	DefaultCacheSize = 100000
	// DefaultKeyTTL is how long a key looked up in the store is trusted:
	// a key revoked on any node is refused within this time plus one store
	// round trip, under one second.
	DefaultKeyTTL = 900 * time.Millisecond
	// maxKeyEntries bounds the key cache (unknown kids are cached too).
	maxKeyEntries = 4096
	// maxBadEntries bounds the negative cache of tokens whose signature
	// did not verify; badTTL is how long such a token is refused from it.
	maxBadEntries = 4096
	badTTL        = 10 * time.Second
)

// KeyGetter is what a Verifier reads of the store.
type KeyGetter interface {
	Get(ctx context.Context, id string) (*store.SigningKey, error)
}

// VerifierConfig configures a Verifier. Keys is required.
type VerifierConfig struct {
	Keys      KeyGetter
	CacheSize int              // verified tokens kept; default DefaultCacheSize; <0 disables the cache
	KeyTTL    time.Duration    // default DefaultKeyTTL
	Now       func() time.Time // default time.Now
}

// Verifier verifies playback tokens: signature (RFC 7515 §5.2) with the
// key named by kid, then exp and nbf (RFC 7519 §4.1.4, §4.1.5) at every
// call. Tokens whose signature verified are cached (bounded) until they
// expire, so a viewer's blocking playlist reloads cost a hash and a map
// lookup; the key of a cached token is re-read from the store at most every
// KeyTTL, so revocation takes effect within KeyTTL on every node.
type Verifier struct {
	keys   KeyGetter
	size   int
	keyTTL time.Duration
	now    func() time.Time

	mu     sync.RWMutex
	tokens map[[32]byte]*verified
	// bad holds the hashes of tokens whose signature did not verify, with
	// when they stop being refused from the cache: a flood of one forged
	// token costs one RSA/ECDSA verification per badTTL, not one per
	// request. A signature that does not verify under a kid's key never
	// will (a kid names one key for ever; revocation only removes it), so
	// the entry can never refuse a token that would have passed.
	bad map[[32]byte]time.Time

	kmu    sync.RWMutex
	keyMap map[string]*keyEntry
}

type verified struct {
	claims Claims
	kid    string
}

type keyEntry struct {
	pub        crypto.PublicKey // nil: unknown or revoked
	fetched    time.Time
	refreshing bool
	err        error // the store failed: retried at the next call
}

// NewVerifier returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("playback: VerifierConfig.Keys is required")
	}
	v := &Verifier{keys: cfg.Keys, size: cfg.CacheSize, keyTTL: cfg.KeyTTL, now: cfg.Now,
		tokens: map[[32]byte]*verified{}, bad: map[[32]byte]time.Time{}, keyMap: map[string]*keyEntry{}}
	if v.size == 0 {
		v.size = DefaultCacheSize
	}
	if v.keyTTL <= 0 {
		v.keyTTL = DefaultKeyTTL
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Revoked forgets kid at once on this node (other nodes notice within
// KeyTTL).
func (v *Verifier) Revoked(kid string) {
	v.kmu.Lock()
	v.keyMap[kid] = &keyEntry{fetched: v.now()}
	v.kmu.Unlock()
}

// Verify returns the claims of a valid token, or an *Error whose Reason
// says why not. It does not check sub or the access rules: the caller does,
// per request.
func (v *Verifier) Verify(ctx context.Context, tok string) (*Claims, error) {
	if len(tok) == 0 || len(tok) > MaxTokenLen {
		return nil, refuse(ReasonMalformed, "token length %d", len(tok))
	}
	now := v.now()
	var buf [MaxTokenLen]byte // hashed from the stack: no allocation per request
	h := sha256.Sum256(buf[:copy(buf[:], tok)])
	v.mu.RLock()
	e := v.tokens[h]
	badUntil, isBad := v.bad[h]
	v.mu.RUnlock()
	if e == nil {
		if isBad && now.Before(badUntil) {
			return nil, refuse(ReasonBadSignature, "signature (cached)")
		}
		t, err := ParseToken(tok)
		if err != nil {
			return nil, err
		}
		// check time before the signature: cheap refusals first
		if err := checkTime(&t.Claims, now); err != nil {
			return nil, err
		}
		pub, err := v.key(ctx, t.Header.Kid, now)
		if err != nil {
			return nil, err
		}
		if err := t.VerifySignature(pub); err != nil {
			if ReasonOf(err) == ReasonBadSignature {
				v.putBad(h, now)
			}
			return nil, err
		}
		e = &verified{claims: t.Claims, kid: t.Header.Kid}
		v.put(h, e, now)
		return &e.claims, nil
	}
	if err := checkTime(&e.claims, now); err != nil {
		return nil, err
	}
	if _, err := v.key(ctx, e.kid, now); err != nil {
		return nil, err
	}
	return &e.claims, nil
}

// clockSkew is the leeway on exp and nbf (RFC 7519 §4.1.4 allows "some
// small leeway").
const clockSkew = 5 * time.Second

func checkTime(c *Claims, now time.Time) error {
	if !now.Before(c.Exp.Add(clockSkew)) {
		return refuse(ReasonExpired, "expired at %s", c.Exp)
	}
	if !c.Nbf.IsZero() && now.Add(clockSkew).Before(c.Nbf) {
		return refuse(ReasonNotYetValid, "valid from %s", c.Nbf)
	}
	return nil
}

// put caches e; when the cache is full, expired entries go first, then
// arbitrary ones (an eighth of the cache), so the cost is amortized.
func (v *Verifier) put(h [32]byte, e *verified, now time.Time) {
	if v.size < 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.tokens) >= v.size {
		for k, x := range v.tokens {
			if !now.Before(x.claims.Exp.Add(clockSkew)) {
				delete(v.tokens, k)
			}
		}
		if n := len(v.tokens) - v.size + 1 + v.size/8; len(v.tokens) >= v.size {
			for k := range v.tokens {
				if n <= 0 {
					break
				}
				delete(v.tokens, k)
				n--
			}
		}
	}
	v.tokens[h] = e
}

// putBad remembers that the token hashed h has a bad signature. When the
// negative cache is full, expired entries go, then all of them: a flood of
// distinct forgeries costs a verification each anyway.
func (v *Verifier) putBad(h [32]byte, now time.Time) {
	if v.size < 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.bad) >= maxBadEntries {
		for k, until := range v.bad {
			if !now.Before(until) {
				delete(v.bad, k)
			}
		}
		if len(v.bad) >= maxBadEntries {
			clear(v.bad)
		}
	}
	v.bad[h] = now.Add(badTTL)
}

// CacheLen is the number of cached verified tokens.
func (v *Verifier) CacheLen() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.tokens)
}

// key returns the public key kid, read from the store at most every
// keyTTL. While one caller re-reads it, the others use the previous answer.
func (v *Verifier) key(ctx context.Context, kid string, now time.Time) (crypto.PublicKey, error) {
	// fast path, shared lock: a fresh answer
	var pub crypto.PublicKey
	ok := false
	v.kmu.RLock()
	if e := v.keyMap[kid]; e != nil && e.err == nil && now.Sub(e.fetched) < v.keyTTL {
		pub, ok = e.pub, true
	}
	v.kmu.RUnlock()
	if ok {
		if pub == nil {
			return nil, refuse(ReasonUnknownKey, "kid %q unknown or revoked", kid)
		}
		return pub, nil
	}
	v.kmu.Lock()
	e := v.keyMap[kid]
	if e != nil && e.err == nil && (now.Sub(e.fetched) < v.keyTTL || e.refreshing) {
		pub := e.pub
		v.kmu.Unlock()
		if pub == nil {
			return nil, refuse(ReasonUnknownKey, "kid %q unknown or revoked", kid)
		}
		return pub, nil
	}
	if e != nil {
		e.refreshing = true
	}
	v.kmu.Unlock()

	ne := &keyEntry{fetched: now}
	k, err := v.keys.Get(ctx, kid)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		ne.err = err
	case k.RevokedAt == nil:
		if ne.pub, err = PublicFromDER(k.PublicKey); err != nil {
			ne.err = err
		}
	}
	v.kmu.Lock()
	if cur := v.keyMap[kid]; cur != nil && cur != e && cur.fetched.After(now) {
		ne = cur // revoked meanwhile (Revoked): keep the newer answer
	} else {
		if len(v.keyMap) >= maxKeyEntries {
			clear(v.keyMap)
		}
		v.keyMap[kid] = ne
	}
	v.kmu.Unlock()
	if ne.err != nil {
		return nil, &Error{Reason: ReasonUnavailable, err: ne.err}
	}
	if ne.pub == nil {
		return nil, refuse(ReasonUnknownKey, "kid %q unknown or revoked", kid)
	}
	return ne.pub, nil
}

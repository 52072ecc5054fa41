package playback

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Policy is what playback needs of a live input.
type Policy struct {
	ID                string
	RequireSignedURLs bool
	AllowedOrigins    []string
}

// PolicySource resolves a live input's policy; ErrNoInput when absent.
type PolicySource func(ctx context.Context, id string) (Policy, error)

// ErrNoInput means no live input has the id.
var ErrNoInput = errors.New("no such live input")

// GateConfig configures a Gate. Verifier and Policies are required.
type GateConfig struct {
	Verifier *Verifier
	Policies PolicySource
	// PolicyTTL is how long a policy read is trusted; default 1 s (a
	// change of require_signed_urls or allowed_origins applies within it).
	PolicyTTL time.Duration
	Geo       *GeoIP // nil: country rules fail closed
	Proxies   Proxies
	Play      *Hook // nil: no play hook
	Logger    *slog.Logger
	// Refused, when set, counts refusals by reason (a metric).
	Refused func(Reason)
	Now     func() time.Time
}

// Gate decides whether a playback request may proceed.
type Gate struct {
	cfg       GateConfig
	geoWarned atomic.Bool

	mu       sync.Mutex
	policies map[string]policyEntry
}

type policyEntry struct {
	p       Policy
	err     error
	fetched time.Time
}

// NewGate returns a Gate.
func NewGate(cfg GateConfig) (*Gate, error) {
	if cfg.Verifier == nil || cfg.Policies == nil {
		return nil, errors.New("playback: GateConfig.Verifier and Policies are required")
	}
	if cfg.PolicyTTL <= 0 {
		cfg.PolicyTTL = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Gate{cfg: cfg, policies: map[string]policyEntry{}}, nil
}

// Verifier is the gate's token verifier.
func (g *Gate) Verifier() *Verifier { return g.cfg.Verifier }

// LooksLikeToken reports whether a path element is a token rather than an
// id (a JWS compact serialization has two dots; ids have none).
func LooksLikeToken(s string) bool { return strings.Count(s, ".") == 2 }

// Result is an allowed request.
type Result struct {
	ID     string // the live input
	Origin string // the request's origin when allowed_origins matched it ("" otherwise)
	// Private: the resource needs a signed token, so responses must not be
	// kept by shared caches (RFC 9111 §5.2.2.7): see CacheControl.
	Private bool
}

// Check authorizes a playback request of r. pathElem is the path element
// naming the live input (an id, or a token in its place); playlist is true
// for playlist requests (the player page included), which start or renew
// a viewer session and may call the play hook. It returns an *Error when
// refused.
func (g *Gate) Check(ctx context.Context, r *http.Request, pathElem string, playlist bool) (Result, error) {
	token, id := "", pathElem
	var claims *Claims
	if LooksLikeToken(pathElem) {
		token = pathElem
		c, err := g.cfg.Verifier.Verify(ctx, token)
		if err != nil {
			return Result{}, g.refused(err)
		}
		claims, id = c, c.Sub
	} else if q := QueryToken(r.URL.RawQuery); q != "" {
		token = q
	}
	pol, err := g.policy(ctx, id)
	if errors.Is(err, ErrNoInput) {
		return Result{ID: id}, nil // the HLS tree answers 404
	}
	if err != nil {
		return Result{}, g.refused(&Error{Reason: ReasonUnavailable, err: err})
	}
	res := Result{ID: id}
	if len(pol.AllowedOrigins) > 0 {
		o := RequestOrigin(r)
		if !OriginAllowed(o, pol.AllowedOrigins) {
			return Result{}, g.refused(refuse(ReasonOrigin, "origin %q", o))
		}
		res.Origin = o
	}
	addr := g.cfg.Proxies.ClientAddr(r)
	if pol.RequireSignedURLs {
		res.Private = true
		if token == "" {
			return Result{}, g.refused(refuse(ReasonMissing, "no token"))
		}
		if claims == nil {
			if claims, err = g.cfg.Verifier.Verify(ctx, token); err != nil {
				return Result{}, g.refused(err)
			}
		}
		if claims.Sub != id {
			return Result{}, g.refused(refuse(ReasonWrongSubject, "sub %q for %q", claims.Sub, id))
		}
		allow, err := Evaluate(claims.Rules, addr, g.country)
		if err != nil {
			return Result{}, g.refused(refuse(ReasonRuleBlocked, "%w", err))
		}
		if !allow {
			return Result{}, g.refused(refuse(ReasonRuleBlocked, "rule blocks %s", addr))
		}
	}
	if g.cfg.Play != nil {
		key := CacheKey(ActionPlay, addr.String(), id)
		d, ok := g.cfg.Play.Cached(key)
		if !ok && playlist {
			d, ok = g.cfg.Play.Admit(ctx, g.playRequest(r, id, addr, claims)), true
		}
		if ok && !d.Allow {
			reason := d.Reason
			if reason == "" {
				reason = "refused by the admission hook"
			}
			return Result{}, g.refused(&Error{Reason: ReasonAdmission, err: errors.New(reason)})
		}
	}
	return res, nil
}

// MarkPrivate marks a response as one of a Private resource; CacheControl
// then keeps shared caches from storing it.
func MarkPrivate(h http.Header) { h.Set("Cache-Control", "private") }

// CacheControl returns the Cache-Control value v for a response with
// headers h: as is, or, when MarkPrivate marked it, with "public" replaced
// by "private" (RFC 9111 §5.2.2.7), so that a segment fetched with one
// viewer's token is not served by a CDN or proxy to anyone without one.
func CacheControl(h http.Header, v string) string {
	if !strings.HasPrefix(h.Get("Cache-Control"), "private") {
		return v
	}
	if rest, ok := strings.CutPrefix(v, "public, "); ok {
		return "private, " + rest
	}
	if v == "public" || v == "" {
		return "private"
	}
	return "private, " + v
}

// QueryToken returns the first token parameter of a raw query string
// (what url.ParseQuery(raw).Get("token") returns for a query that parses)
// without building the whole url.Values: every request of a ?token=
// player carries it, parts included.
func QueryToken(raw string) string {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != "token" {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != "token" {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return "" // as url.ParseQuery, which drops the pair
		}
		return uv
	}
	return ""
}

// HookReason returns the hook's reason of an admission refusal ("" for
// other errors): it is shown to the viewer.
func HookReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason == ReasonAdmission && e.err != nil {
		return e.err.Error()
	}
	return ""
}

func (g *Gate) playRequest(r *http.Request, id string, addr netip.Addr, c *Claims) AdmissionRequest {
	req := AdmissionRequest{Action: ActionPlay, Protocol: "hls", LiveInputID: id, ClientAddr: addr.String(), UserAgent: r.UserAgent()}
	if cc, err := g.cfg.Geo.Country(addr); err == nil {
		req.Country = cc
	}
	q := r.URL.Query()
	q.Del("token")
	if len(q) > 0 {
		req.Query = q
	}
	if c != nil {
		tc := &TokenClaims{Sub: c.Sub, Exp: c.Exp.Unix(), AccessRules: c.Rules}
		if !c.Nbf.IsZero() {
			tc.Nbf = c.Nbf.Unix()
		}
		if !c.Iat.IsZero() {
			tc.Iat = c.Iat.Unix()
		}
		req.Claims = tc
	}
	return req
}

// country is the CountryFunc of the rules; it says once in the log why
// country rules fail without a database.
func (g *Gate) country(a netip.Addr) (string, error) {
	cc, err := g.cfg.Geo.Country(a)
	if errors.Is(err, ErrNoDatabase) && g.geoWarned.CompareAndSwap(false, true) {
		g.cfg.Logger.Warn("a token has a country rule but geoip.database is not set: country rules refuse every request")
	}
	return cc, err
}

func (g *Gate) refused(err error) error {
	if g.cfg.Refused != nil {
		g.cfg.Refused(ReasonOf(err))
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Reason: ReasonUnavailable, err: err}
	}
	return e
}

// policy returns the policy of id, read at most every PolicyTTL.
func (g *Gate) policy(ctx context.Context, id string) (Policy, error) {
	now := g.cfg.Now()
	g.mu.Lock()
	e, ok := g.policies[id]
	g.mu.Unlock()
	if ok && now.Sub(e.fetched) < g.cfg.PolicyTTL {
		return e.p, e.err
	}
	p, err := g.cfg.Policies(ctx, id)
	if err != nil && !errors.Is(err, ErrNoInput) {
		return Policy{}, err // not cached: retried by the next request
	}
	g.mu.Lock()
	if len(g.policies) >= 100000 {
		clear(g.policies)
	}
	g.policies[id] = policyEntry{p: p, err: err, fetched: now}
	g.mu.Unlock()
	return p, err
}

package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Scopes of API tokens. admin implies every other scope; a write scope
// implies its read scope; live_inputs:read implies events:read.
const (
	ScopeAdmin           = "admin"
	ScopeLiveInputsRead  = "live_inputs:read"
	ScopeLiveInputsWrite = "live_inputs:write" // also: stream keys and SRT passphrases are returned
	ScopeTokensRead      = "tokens:read"
	ScopeTokensWrite     = "tokens:write"
	ScopeEventsRead      = "events:read"
	ScopeVideosRead      = "videos:read"    // recordings
	ScopeVideosWrite     = "videos:write"   // change and delete recordings, build downloads
	ScopeWebhooksRead    = "webhooks:read"  // webhook endpoints and their delivery log
	ScopeWebhooksWrite   = "webhooks:write" // create, change, test webhooks, retry deliveries
)

// Scopes lists every scope, in documentation order.
func Scopes() []string {
	return []string{ScopeAdmin, ScopeLiveInputsRead, ScopeLiveInputsWrite, ScopeTokensRead, ScopeTokensWrite, ScopeEventsRead,
		ScopeVideosRead, ScopeVideosWrite, ScopeWebhooksRead, ScopeWebhooksWrite}
}

// implied maps a scope to the scopes it grants besides itself.
func implied(scope string) []string {
	switch scope {
	case ScopeAdmin:
		return Scopes()
	case ScopeLiveInputsWrite:
		return []string{ScopeLiveInputsRead, ScopeEventsRead}
	case ScopeLiveInputsRead:
		return []string{ScopeEventsRead}
	case ScopeTokensWrite:
		return []string{ScopeTokensRead}
	case ScopeVideosWrite:
		return []string{ScopeVideosRead}
	case ScopeWebhooksWrite:
		return []string{ScopeWebhooksRead}
	}
	return nil
}

// principal is the authenticated caller.
type principal struct {
	tok    *store.APIToken
	scopes map[string]bool // effective (with implied ones)
}

func newPrincipal(t *store.APIToken) *principal {
	p := &principal{tok: t, scopes: map[string]bool{}}
	for _, sc := range t.Scopes {
		p.scopes[sc] = true
		for _, i := range implied(sc) {
			p.scopes[i] = true
		}
	}
	return p
}

func (p *principal) has(scope string) bool { return scope == "" || p.scopes[scope] }

// seesSecrets reports whether stream keys and SRT passphrases are returned
// to this caller: tokens with live_inputs:write (or admin), which could set
// a new key anyway with rotate_key.
func (p *principal) seesSecrets() bool { return p.has(ScopeLiveInputsWrite) }

// ClientAddrer finds the client address of a request; playback.Proxies
// (http.trusted_proxies) is the one the daemon uses.
type ClientAddrer interface {
	ClientAddr(r *http.Request) netip.Addr
}

// clientAddr is the client's address, without the port: what s.clientAddrs
// says (forwarding headers of trusted proxies), else the socket peer.
func (s *Server) clientAddr(r *http.Request) string {
	if s.clientAddrs != nil {
		if a := s.clientAddrs.ClientAddr(r); a.IsValid() {
			return a.String()
		}
	}
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// authenticate resolves the bearer token. Failures count against the
// client's address (behind http.trusted_proxies, the forwarded client); a
// failure from an address over its limit gets 429 instead of 401. A valid
// token is never refused: the limit slows down guessing, it must not let
// a neighbour behind the same NAT or proxy lock an operator out.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	addr := s.clientAddr(r)
	fail := func(code, msg string) error {
		if wait := s.addrLim.blocked(addr); wait > 0 {
			return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
				Message: "too many failed authentications from this address; retry later", RetryAfter: wait}
		}
		s.addrLim.fail(addr)
		return &Error{Status: http.StatusUnauthorized, Code: code, Message: msg}
	}
	h := r.Header.Get("Authorization")
	if h == "" && isWebSocketUpgrade(r) {
		// Browsers cannot set headers on a WebSocket: /v1/events also takes
		// the token as ?access_token= (RFC 6750 §2.3), on upgrades only.
		if t := r.URL.Query().Get("access_token"); t != "" {
			h = "Bearer " + t
		} else if t := wsBearer(r); t != "" {
			h = "Bearer " + t
		}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		if h == "" {
			return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing Authorization: Bearer TOKEN"}
		}
		return nil, fail(CodeUnauthorized, "the Authorization header must be Bearer TOKEN")
	}
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 || len(tok) > 256 {
		return nil, fail(CodeUnauthorized, "invalid token")
	}
	t, err := s.tokens.lookup(r.Context(), s.st.Tokens(), HashSecret(tok), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(CodeUnauthorized, "invalid token")
	}
	if err != nil {
		return nil, storeErr(err, "token")
	}
	if t.RevokedAt != nil {
		return nil, fail(CodeTokenRevoked, "this token was revoked")
	}
	s.touchToken(r.Context(), t.ID)
	return newPrincipal(t), nil
}

// touchToken records LastUsedAt at most once a minute per token, so that
// reads do not turn into writes.
func (s *Server) touchToken(ctx context.Context, id string) {
	now := s.now()
	if v, ok := s.touch.Load(id); ok && now.Sub(v.(time.Time)) < time.Minute {
		return
	}
	s.touch.Store(id, now)
	if err := s.st.Tokens().Touch(ctx, id, now.UTC()); err != nil {
		s.log.Warn("cannot record token use", "token", id, "error", err)
	}
}

// authorize checks scope; refusals count against the token.
func (s *Server) authorize(p *principal, scope string) error {
	if wait := s.tokLim.blocked(p.tok.ID); wait > 0 {
		return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
			Message: "too many refused requests with this token; retry later", RetryAfter: wait}
	}
	if p.has(scope) {
		return nil
	}
	s.tokLim.fail(p.tok.ID)
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "this token lacks the scope " + scope,
		Details: map[string]any{"required_scope": scope}}
}

// validScopes checks a requested scope list: known, no duplicates, not
// empty; and only scopes the creator itself holds (no escalation).
func validScopes(p *principal, scopes []string) error {
	if len(scopes) == 0 {
		return fieldErr(CodeValidation, "scopes", "scopes must list at least one of "+strings.Join(Scopes(), ", "))
	}
	seen := map[string]bool{}
	for _, sc := range scopes {
		if !slices.Contains(Scopes(), sc) {
			return fieldErr(CodeValidation, "scopes", "unknown scope "+quote(sc)+"; known: "+strings.Join(Scopes(), ", "))
		}
		if seen[sc] {
			return fieldErr(CodeValidation, "scopes", "duplicate scope "+quote(sc))
		}
		seen[sc] = true
		if !p.has(sc) {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
				Message: "a token can only grant scopes it holds; this one lacks " + sc, Details: map[string]any{"required_scope": sc}}
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s) + `"`
}

// isWebSocketUpgrade reports whether r asks to switch to WebSocket
// (RFC 6455 §4.1).
func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// WebSocket subprotocols of GET /v1/events. A browser that must not put its
// token in a URL offers two subprotocols (RFC 6455 §1.9, §4.1): wsProtocol
// and wsBearerPrefix + TOKEN; the server selects wsProtocol. API tokens are
// base32 after "mf_", valid subprotocol tokens (RFC 7230 §3.2.6).
const (
	wsProtocol     = "mpegflow.events.v1"
	wsBearerPrefix = "bearer."
)

// wsBearer returns the token offered as a "bearer.TOKEN" subprotocol, or "".
func wsBearer(r *http.Request) string {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(p), wsBearerPrefix); ok {
				return t
			}
		}
	}
	return ""
}

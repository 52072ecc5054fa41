package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Names of the bootstrap admin tokens.
const (
	// ConfigAdminTokenName names the token of api.admin_token.
	ConfigAdminTokenName = "admin (api.admin_token)"
	// GeneratedAdminTokenName names the token generated at first start.
	GeneratedAdminTokenName = "admin (generated at first start)"
)

// tokenJSON is the API's token object: metadata only, never the secret.
type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	// Token is the secret, present only in the response that created it.
	Token string `json:"token,omitempty"`
}

func tokenToJSON(t *store.APIToken) tokenJSON {
	sc := t.Scopes
	if sc == nil {
		sc = []string{}
	}
	return tokenJSON{ID: t.ID, Name: t.Name, Prefix: shownPrefix(t.Prefix), Scopes: sc, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// NewToken returns a fresh API token secret: "mf_" + 256 random bits.
func NewToken() string { return newSecret("mf_", 32) }

// shownChars is how many characters of a token lists show (and the store
// keeps besides the hash): enough to tell tokens apart, too few to help
// guess one.
const shownChars = 4

// displayPrefix is the part of a secret stored and shown in lists: "…" and
// its last four characters (the "mf_" start is the same for all tokens).
func displayPrefix(tok string) string {
	r := []rune(tok)
	return "…" + string(r[max(0, len(r)-shownChars):])
}

// shownPrefix masks a stored prefix for display: prefixes stored by
// earlier versions held more characters; at most shownChars are shown.
func shownPrefix(stored string) string {
	if strings.HasPrefix(stored, "…") {
		return stored
	}
	r := []rune(stored)
	if len(r) <= shownChars {
		return string(r) + "…"
	}
	return string(r[:shownChars]) + "…"
}

type tokenCreate struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req tokenCreate
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" || len(req.Name) > maxNameLen || !nameCharsOK(req.Name) {
		return fieldErr(CodeValidation, "name", fmt.Sprintf("name is required: 1-%d characters, no control or bidirectional override characters", maxNameLen))
	}
	if err := validScopes(p, req.Scopes); err != nil {
		return err
	}
	secret := NewToken()
	now := s.now().UTC().Truncate(time.Microsecond)
	t := &store.APIToken{ID: ids.New("tok", now), Name: req.Name, Prefix: displayPrefix(secret), Hash: HashSecret(secret), Scopes: req.Scopes, CreatedAt: now}
	if err := s.st.Tokens().Create(r.Context(), t); err != nil {
		return storeErr(err, "token")
	}
	s.log.Info("api token created", "token", t.ID, "scopes", t.Scopes, "by", p.tok.ID)
	j := tokenToJSON(t)
	j.Token = secret
	w.Header().Set("Location", "/v1/tokens/"+t.ID)
	writeJSON(w, http.StatusCreated, dataResponse{Data: j})
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id := r.PathValue("id")
	if !validID(id) {
		return notFound("token")
	}
	t, err := s.st.Tokens().Get(r.Context(), id)
	if err != nil {
		return storeErr(err, "token")
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: tokenToJSON(t)})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ *principal) error {
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	const scope = "tokens"
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	rows, more, err := s.st.Tokens().List(r.Context(), store.ListOptions{Limit: limit, After: after})
	if err != nil {
		return storeErr(err, "tokens")
	}
	out := make([]tokenJSON, 0, len(rows))
	for _, t := range rows {
		out = append(out, tokenToJSON(t))
	}
	resp := listResponse{Data: out}
	if more && len(rows) > 0 {
		resp.NextCursor = s.cursors.encode(scope, rows[len(rows)-1].ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	if !validID(id) {
		return notFound("token")
	}
	// One revocation at a time: the last-admin check and the revocation
	// must not interleave with another (single node; across nodes the
	// window is a few milliseconds and needs two admins racing).
	s.revokeMu.Lock()
	defer s.revokeMu.Unlock()
	defer s.tokens.reset() // also after a failed revoke: cheap, and never stale
	t, err := s.st.Tokens().Get(r.Context(), id)
	if err != nil {
		return storeErr(err, "token")
	}
	// The rule of creation applies: a token revokes only tokens whose
	// scopes it holds, so only admin revokes admin.
	for _, sc := range t.Scopes {
		if !p.has(sc) {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
				Message: "a token can only revoke tokens whose scopes it holds; this one lacks " + sc, Details: map[string]any{"required_scope": sc}}
		}
	}
	if t.RevokedAt != nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if slices.Contains(t.Scopes, ScopeAdmin) {
		others, err := s.otherLiveAdmins(r.Context(), t.ID)
		if err != nil {
			return err
		}
		if others == 0 {
			return apiErr(http.StatusConflict, CodeConflict, "this is the last admin token: create another admin token first, or change api.admin_token")
		}
	}
	if err := s.st.Tokens().Revoke(r.Context(), id, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return storeErr(err, "token")
	}
	s.log.Info("api token revoked", "token", id, "by", p.tok.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// otherLiveAdmins counts the admin tokens other than id not revoked.
func (s *Server) otherLiveAdmins(ctx context.Context, id string) (int, error) {
	all, err := allTokens(ctx, s.st.Tokens())
	if err != nil {
		return 0, storeErr(err, "tokens")
	}
	n := 0
	for _, o := range all {
		if o.ID != id && o.RevokedAt == nil && slices.Contains(o.Scopes, ScopeAdmin) {
			n++
		}
	}
	return n, nil
}

// Bootstrap is what BootstrapAdmin did.
type Bootstrap struct {
	// Generated is the secret of a token generated now (first start without
	// api.admin_token): show it once to the operator, it is not kept.
	Generated string
	// ConfiguredRevoked: api.admin_token was revoked over the API; it stays
	// refused until the configuration names another token.
	ConfiguredRevoked bool
	// Replaced counts earlier api.admin_token tokens revoked because the
	// configuration now names another one.
	Replaced int
}

// BootstrapAdmin makes sure an admin token exists. With configured (the
// api.admin_token setting) set, its hash is stored as an admin token and the
// tokens of earlier settings are revoked. Without, an admin token is
// generated the first time only (a generated token that exists, even
// revoked, is never replaced: set api.admin_token to regain access).
func BootstrapAdmin(ctx context.Context, tokens store.Tokens, configured string, now time.Time) (Bootstrap, error) {
	var b Bootstrap
	now = now.UTC().Truncate(time.Microsecond)
	all, err := allTokens(ctx, tokens)
	if err != nil {
		return b, err
	}
	if configured != "" {
		h := HashSecret(configured)
		t, err := tokens.GetByHash(ctx, h)
		switch {
		case err == nil:
			b.ConfiguredRevoked = t.RevokedAt != nil
		case errors.Is(err, store.ErrNotFound):
			t = &store.APIToken{ID: ids.New("tok", now), Name: ConfigAdminTokenName, Prefix: displayPrefix(configured), Hash: h, Scopes: []string{ScopeAdmin}, CreatedAt: now}
			if err := tokens.Create(ctx, t); err != nil {
				return b, fmt.Errorf("store api.admin_token: %w", err)
			}
		default:
			return b, fmt.Errorf("look up api.admin_token: %w", err)
		}
		for _, o := range all {
			if o.Name == ConfigAdminTokenName && o.ID != t.ID && o.RevokedAt == nil {
				if err := tokens.Revoke(ctx, o.ID, now); err != nil {
					return b, fmt.Errorf("revoke the previous api.admin_token: %w", err)
				}
				b.Replaced++
			}
		}
		return b, nil
	}
	for _, o := range all {
		if o.Name == GeneratedAdminTokenName {
			return b, nil
		}
	}
	secret := NewToken()
	t := &store.APIToken{ID: ids.New("tok", now), Name: GeneratedAdminTokenName, Prefix: displayPrefix(secret), Hash: HashSecret(secret), Scopes: []string{ScopeAdmin}, CreatedAt: now}
	if err := tokens.Create(ctx, t); err != nil {
		return b, fmt.Errorf("store the generated admin token: %w", err)
	}
	b.Generated = secret
	return b, nil
}

func allTokens(ctx context.Context, tokens store.Tokens) ([]*store.APIToken, error) {
	var out []*store.APIToken
	after := ""
	for {
		rows, more, err := tokens.List(ctx, store.ListOptions{Limit: MaxLimit, After: after})
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, rows...)
		if !more || len(rows) == 0 {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}

package api

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": "ci", "scopes": []string{"live_inputs:read", "tokens:write"}}).want(t, 201, "")
		d := r.data()
		secret := d["token"].(string)
		if !strings.HasPrefix(secret, "mf_") || !strings.HasSuffix(secret, strings.TrimPrefix(d["prefix"].(string), "…")) {
			t.Fatalf("token %v", d)
		}
		id := d["id"].(string)
		e.do("GET", "/v1/live_inputs", secret, nil).want(t, 200, "")
		e.do("POST", "/v1/live_inputs", secret, `{}`).want(t, 403, CodeForbidden)
		// No escalation: a token grants only what it holds.
		e.do("POST", "/v1/tokens", secret, map[string]any{"name": "x", "scopes": []string{"admin"}}).want(t, 403, CodeForbidden)
		e.do("POST", "/v1/tokens", secret, map[string]any{"name": "x", "scopes": []string{"live_inputs:read"}}).want(t, 201, "")
		// Lists show metadata, never the secret.
		l := e.do("GET", "/v1/tokens", e.admin, nil).want(t, 200, "")
		if strings.Contains(string(l.Body), secret) || strings.Contains(string(l.Body), `"token"`) || len(l.list()) != 3 {
			t.Fatalf("token list: %s", l.Body)
		}
		g := e.do("GET", "/v1/tokens/"+id, e.admin, nil).want(t, 200, "").data()
		if g["last_used_at"] == nil {
			t.Fatalf("last_used_at not recorded: %v", g)
		}
		e.do("DELETE", "/v1/tokens/"+id, e.admin, nil).want(t, 204, "")
		e.do("DELETE", "/v1/tokens/"+id, e.admin, nil).want(t, 204, "")
		e.do("GET", "/v1/live_inputs", secret, nil).want(t, 401, CodeTokenRevoked)
		e.do("DELETE", "/v1/tokens/tok_nope", e.admin, nil).want(t, 404, CodeNotFound)
	})
}

func TestAuthFailuresRateLimited(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.do("GET", "/v1/live_inputs", "", nil).want(t, 401, CodeUnauthorized)
		for i := 0; i < 5; i++ {
			e.do("GET", "/v1/live_inputs", "mf_wrongwrongwrongwrong", nil).want(t, 401, CodeUnauthorized)
		}
		r := e.do("GET", "/v1/live_inputs", "mf_wrongwrongwrongwrong", nil).want(t, 429, CodeRateLimited)
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		// The right token is never refused, even from a blocked address.
		e.do("GET", "/v1/live_inputs", e.admin, nil).want(t, 200, "")
		// The OpenAPI document stays public.
		e.do("GET", "/v1/openapi.json", "", nil).want(t, 200, "")
	})
}

func TestForbiddenRateLimitedPerToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ro := e.token(ScopeLiveInputsRead)
		for i := 0; i < 5; i++ {
			e.do("POST", "/v1/tokens", ro, `{"name":"x","scopes":["admin"]}`).want(t, 403, CodeForbidden)
		}
		e.do("GET", "/v1/live_inputs", ro, nil).want(t, 429, CodeRateLimited)
		e.do("GET", "/v1/live_inputs", e.admin, nil).want(t, 200, "")
	})
}

func TestBootstrapAdmin(t *testing.T) {
	ctx := context.Background()
	for _, sf := range storeFactories() {
		t.Run(sf.name, func(t *testing.T) {
			st := sf.open(t)
			b, err := BootstrapAdmin(ctx, st.Tokens(), "", time.Now())
			if err != nil || !strings.HasPrefix(b.Generated, "mf_") {
				t.Fatalf("first start: %+v %v", b, err)
			}
			if b2, err := BootstrapAdmin(ctx, st.Tokens(), "", time.Now()); err != nil || b2.Generated != "" {
				t.Fatalf("second start generated again: %+v %v", b2, err)
			}
			// A configured token is stored; changing it revokes the old one.
			if b, err := BootstrapAdmin(ctx, st.Tokens(), "configured-admin-token-1", time.Now()); err != nil || b.Replaced != 0 {
				t.Fatalf("%+v %v", b, err)
			}
			if b, err := BootstrapAdmin(ctx, st.Tokens(), "configured-admin-token-1", time.Now()); err != nil || b.Replaced != 0 {
				t.Fatalf("restart: %+v %v", b, err)
			}
			if b, err := BootstrapAdmin(ctx, st.Tokens(), "configured-admin-token-2", time.Now()); err != nil || b.Replaced != 1 {
				t.Fatalf("changed: %+v %v", b, err)
			}
			old, err := st.Tokens().GetByHash(ctx, HashSecret("configured-admin-token-1"))
			if err != nil || old.RevokedAt == nil {
				t.Fatalf("old configured token not revoked: %+v %v", old, err)
			}
			e := newEnv(t, st)
			e.do("GET", "/v1/live_inputs", "configured-admin-token-2", nil).want(t, 200, "")
			e.do("GET", "/v1/live_inputs", "configured-admin-token-1", nil).want(t, 401, CodeTokenRevoked)
			e.do("GET", "/v1/live_inputs", b.Generated, nil).want(t, 200, "")
		})
	}
}

package api

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A token revokes only tokens whose scopes it holds; only admin revokes
// admin; the last admin token cannot be revoked over the API.
func TestRevokeFollowsScopes(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		tw := e.token(ScopeTokensWrite, ScopeLiveInputsRead)
		ro := e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": "ro", "scopes": []string{ScopeLiveInputsRead}}).want(t, 201, "").data()["id"].(string)
		vw := e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": "vw", "scopes": []string{ScopeVideosWrite}}).want(t, 201, "").data()["id"].(string)
		adm := e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": "adm2", "scopes": []string{ScopeAdmin}}).want(t, 201, "").data()
		admID, adm2 := adm["id"].(string), adm["token"].(string)
		first := e.do("GET", "/v1/whoami", e.admin, nil).want(t, 200, "").data()
		firstID, _ := first["id"].(string)
		if firstID == "" {
			if tok, ok := first["token"].(map[string]any); ok {
				firstID, _ = tok["id"].(string)
			}
		}
		if firstID == "" {
			t.Fatalf("whoami: %v", first)
		}

		e.do("DELETE", "/v1/tokens/"+admID, tw, nil).want(t, 403, CodeForbidden)
		e.do("DELETE", "/v1/tokens/"+firstID, tw, nil).want(t, 403, CodeForbidden)
		e.do("DELETE", "/v1/tokens/"+vw, tw, nil).want(t, 403, CodeForbidden)
		e.do("DELETE", "/v1/tokens/"+ro, tw, nil).want(t, 204, "")
		e.do("GET", "/v1/live_inputs", e.admin, nil).want(t, 200, "")

		// Admin revokes admin while another one remains, not the last one.
		e.do("DELETE", "/v1/tokens/"+admID, e.admin, nil).want(t, 204, "")
		e.do("DELETE", "/v1/tokens/"+firstID, e.admin, nil).want(t, 409, CodeConflict)
		e.do("GET", "/v1/live_inputs", e.admin, nil).want(t, 200, "")
		e.do("GET", "/v1/live_inputs", adm2, nil).want(t, 401, CodeTokenRevoked)
	})
}

// Lists show at most four characters of any token.
func TestTokenListShowsFourCharacters(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		secret := e.token(ScopeLiveInputsRead)
		l := e.do("GET", "/v1/tokens", e.admin, nil).want(t, 200, "")
		for _, it := range l.list() {
			p := it.(map[string]any)["prefix"].(string)
			shown := strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(p, "…"), "…"), "mf_")
			if utf8.RuneCountInString(shown) > 4 {
				t.Fatalf("prefix %q shows more than 4 characters", p)
			}
		}
		for _, n := range []int{5, 6, 8} {
			if strings.Contains(string(l.Body), secret[len(secret)-n:]) && strings.Contains(string(l.Body), secret[:n+3]) {
				t.Fatalf("list shows %d characters of %q: %s", n, secret, l.Body)
			}
		}
	})
}

type proxiesFunc func(*http.Request) netip.Addr

func (f proxiesFunc) ClientAddr(r *http.Request) netip.Addr { return f(r) }

// The auth-failure limiter counts per client address (through the trusted
// proxy's header) and never refuses a valid token.
func TestAuthLimiterClientAddrAndValidToken(t *testing.T) {
	st := openSQLite(t)
	e := newEnvWith(t, st, func(c *Config) {
		c.ClientAddr = proxiesFunc(func(r *http.Request) netip.Addr {
			a, _ := netip.ParseAddr(r.Header.Get("X-Test-Client"))
			return a
		})
	})
	for i := 0; i < 6; i++ {
		e.do("GET", "/v1/live_inputs", "mf_wrongwrongwrongwrong", nil, "X-Test-Client", "192.0.2.1")
	}
	e.do("GET", "/v1/live_inputs", "mf_wrongwrongwrongwrong", nil, "X-Test-Client", "192.0.2.1").want(t, 429, CodeRateLimited)
	// another client behind the same proxy is not blocked
	e.do("GET", "/v1/live_inputs", "mf_wrongwrongwrongwrong", nil, "X-Test-Client", "192.0.2.2").want(t, 401, CodeUnauthorized)
	// a valid token from the blocked address goes through, every time
	for i := 0; i < 10; i++ {
		e.do("GET", "/v1/live_inputs", "mf_wrongwrongwrongwrong", nil, "X-Test-Client", "192.0.2.1")
		e.do("GET", "/v1/live_inputs", e.admin, nil, "X-Test-Client", "192.0.2.1").want(t, 200, "")
	}
	_ = time.Second
}

// The idempotency table keeps no secret: a replay is the resource without
// it, marked Secret-Omitted and secret_omitted.
func TestIdempotencyStoresNoSecrets(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		adminID := e.do("GET", "/v1/whoami", e.admin, nil).want(t, 200, "").data()["token"].(map[string]any)["id"].(string)
		cases := []struct {
			path, body string
			secret     func(resp) []string
		}{
			{"/v1/tokens", `{"name":"ci","scopes":["live_inputs:read"]}`, func(r resp) []string { return []string{r.data()["token"].(string)} }},
			{"/v1/live_inputs", `{"name":"cam"}`, func(r resp) []string {
				d := r.data()
				return []string{d["rtmp"].(map[string]any)["stream_key"].(string), d["srt"].(map[string]any)["passphrase"].(string)}
			}},
		}
		for _, c := range cases {
			a := e.do("POST", c.path, e.admin, c.body, "Idempotency-Key", "idem-"+c.path).want(t, 201, "")
			secrets := c.secret(a)
			b := e.do("POST", c.path, e.admin, c.body, "Idempotency-Key", "idem-"+c.path).want(t, 201, "")
			if b.Header.Get("Idempotent-Replayed") != "true" || b.Header.Get("Secret-Omitted") != "true" || b.JSON["secret_omitted"] != true {
				t.Fatalf("%s replay not marked: %v %s", c.path, b.Header, b.Body)
			}
			if b.data()["id"] != a.data()["id"] {
				t.Fatalf("%s replay is another resource: %s", c.path, b.Body)
			}
			rec, err := e.st.Idempotency().Get(ctx, adminID+" POST "+c.path, "idem-"+c.path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if s == "" {
					continue
				}
				if strings.Contains(string(b.Body), s) || strings.Contains(string(rec.Body), s) {
					t.Fatalf("%s: secret %q replayed or stored: %s", c.path, s, rec.Body)
				}
			}
		}
	})
}

// Names refuse control characters and bidi overrides.
func TestNamesRefuseBidiOverrides(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		for _, n := range []string{"cam\u202Egpj.exe", "a\u2066b\u2069", "a\u202Ab", "bell\x07"} {
			e.do("POST", "/v1/live_inputs", e.admin, map[string]any{"name": n}).want(t, 400, CodeValidation)
			e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": n, "scopes": []string{ScopeLiveInputsRead}}).want(t, 400, CodeValidation)
		}
		id := e.create(map[string]any{"name": "ok"})["id"].(string)
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"name": "x\u202Ey"}).want(t, 400, CodeValidation)
		e.do("POST", "/v1/live_inputs", e.admin, map[string]any{"name": "Ünïcödé – 日本語 עברית"}).want(t, 201, "")
	})
}

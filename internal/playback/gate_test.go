package playback

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	f := newFixture(t)
	geo, err := OpenGeoIPBytes(testGeoDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	v, _ := NewVerifier(VerifierConfig{Keys: f.keys})
	policies := map[string]Policy{
		"li_open":   {ID: "li_open"},
		"li_signed": {ID: "li_signed", RequireSignedURLs: true},
		"li_origin": {ID: "li_origin", AllowedOrigins: []string{"https://*.example.com"}},
	}
	g, err := NewGate(GateConfig{Verifier: v, Geo: geo, Policies: func(_ context.Context, id string) (Policy, error) {
		p, ok := policies[id]
		if !ok {
			return Policy{}, ErrNoInput
		}
		return p, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_signed", Exp: exp})
	other := mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_open", Exp: exp})
	expired := mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_signed", Exp: time.Now().Add(-time.Hour).Unix()})
	ipBlock := mustSign(t, f.rsa, "rsa1", TokenClaims{Sub: "li_signed", Exp: exp, AccessRules: []Rule{{Type: RuleIPSrc, Action: ActionBlock, IP: []string{"127.0.0.1/32"}}}})
	frBlock := mustSign(t, f.rsa, "rsa1", TokenClaims{Sub: "li_signed", Exp: exp, AccessRules: []Rule{{Type: RuleCountry, Action: ActionBlock, Country: []string{"FR"}}}})
	tests := []struct {
		name, path, elem, origin string
		wantID                   string
		want                     Reason
	}{
		{"open input", "/live/li_open/index.m3u8", "li_open", "", "li_open", ""},
		{"unknown input passes to 404", "/live/li_x/index.m3u8", "li_x", "", "li_x", ""},
		{"signed without token", "/live/li_signed/index.m3u8", "li_signed", "", "", ReasonMissing},
		{"signed with ?token=", "/live/li_signed/seg1.m4s?token=" + good, "li_signed", "", "li_signed", ""},
		{"token in path", "/live/" + good + "/part.m4s", good, "", "li_signed", ""},
		{"token for another input", "/live/li_signed/index.m3u8?token=" + other, "li_signed", "", "", ReasonWrongSubject},
		{"expired", "/live/li_signed/index.m3u8?token=" + expired, "li_signed", "", "", ReasonExpired},
		{"expired in path", "/live/" + expired + "/index.m3u8", expired, "", "", ReasonExpired},
		{"ip rule", "/live/li_signed/index.m3u8?token=" + ipBlock, "li_signed", "", "", ReasonRuleBlocked},
		{"country rule", "/live/li_signed/index.m3u8?token=" + frBlock, "li_signed", "", "", ReasonRuleBlocked},
		{"origin allowed", "/live/li_origin/index.m3u8", "li_origin", "https://www.example.com", "li_origin", ""},
		{"origin refused", "/live/li_origin/index.m3u8", "li_origin", "https://evil.net", "", ReasonOrigin},
		{"no origin refused", "/live/li_origin/index.m3u8", "li_origin", "", "", ReasonOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.RemoteAddr = "127.0.0.1:40000"
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			res, err := g.Check(t.Context(), r, tt.elem, true)
			if tt.want == "" {
				if err != nil || res.ID != tt.wantID {
					t.Fatalf("Check = %+v, %v; want id %s", res, err, tt.wantID)
				}
				return
			}
			if ReasonOf(err) != tt.want {
				t.Fatalf("Check error %v, want %s", err, tt.want)
			}
		})
	}
}

func TestGatePlayHook(t *testing.T) {
	f := newFixture(t)
	v, _ := NewVerifier(VerifierConfig{Keys: f.keys})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{"allow":false,"reason":"sold out"}`))
	}))
	defer srv.Close()
	hook, _ := NewHook(HookConfig{URL: srv.URL, Secret: []byte("k")})
	g, _ := NewGate(GateConfig{Verifier: v, Play: hook, Policies: func(context.Context, string) (Policy, error) {
		return Policy{ID: "li_a"}, nil
	}})
	r := httptest.NewRequest("GET", "/live/li_a/seg.m4s", nil)
	if _, err := g.Check(t.Context(), r, "li_a", false); err != nil || calls.Load() != 0 {
		t.Fatalf("a segment before any playlist: %v, %d calls; want allowed without a call", err, calls.Load())
	}
	for i := range 3 {
		_, err := g.Check(t.Context(), r, "li_a", i == 0)
		if ReasonOf(err) != ReasonAdmission || HookReason(err) != "sold out" {
			t.Fatalf("#%d: %v", i, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d hook calls, want 1", calls.Load())
	}
}

// BenchmarkVerify measures a token check on the hot path: a cache hit
// (hash + map lookup + time checks) against a miss (parse + RSA/ECDSA
// verification), for RS256 and ES256.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	claims := TokenClaims{Sub: "li_a", Exp: time.Now().Add(time.Hour).Unix(),
		AccessRules: []Rule{{Type: RuleIPSrc, Action: ActionAllow, IP: []string{"10.0.0.0/8"}}, {Type: RuleAny, Action: ActionBlock}}}
	for _, alg := range []struct {
		name string
		tok  string
	}{{"RS256", mustSign(b, f.rsa, "rsa1", claims)}, {"ES256", mustSign(b, f.ec, "ec1", claims)}} {
		b.Run(alg.name+"/hit", func(b *testing.B) {
			v, _ := NewVerifier(VerifierConfig{Keys: f.keys})
			if _, err := v.Verify(b.Context(), alg.tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(context.Background(), alg.tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		// a flood of one forged token (a valid token with its last
		// signature bytes changed): refused from the negative cache, or
		// verified each time without it
		forged := alg.tok[:len(alg.tok)-4] + "AAAA"
		b.Run(alg.name+"/forged-cached", func(b *testing.B) {
			v, _ := NewVerifier(VerifierConfig{Keys: f.keys})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(context.Background(), forged); ReasonOf(err) != ReasonBadSignature {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(alg.name+"/forged-uncached", func(b *testing.B) {
			v, _ := NewVerifier(VerifierConfig{Keys: f.keys, CacheSize: -1})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), forged); ReasonOf(err) != ReasonBadSignature {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.name+"/miss", func(b *testing.B) {
			v, _ := NewVerifier(VerifierConfig{Keys: f.keys, CacheSize: -1})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), alg.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGateCheck measures the whole per-request decision for a signed
// input with a cached token: policy (cached), token (cached), sub, two
// access rules, client address; the token in the path or as ?token=.
func BenchmarkGateCheck(b *testing.B) {
	f := newFixture(b)
	v, _ := NewVerifier(VerifierConfig{Keys: f.keys})
	g, _ := NewGate(GateConfig{Verifier: v, Policies: func(context.Context, string) (Policy, error) {
		return Policy{ID: "li_a", RequireSignedURLs: true}, nil
	}})
	tok := mustSign(b, f.ec, "ec1", TokenClaims{Sub: "li_a", Exp: time.Now().Add(time.Hour).Unix(),
		AccessRules: []Rule{{Type: RuleIPSrc, Action: ActionAllow, IP: []string{"127.0.0.0/8"}}, {Type: RuleAny, Action: ActionBlock}}})
	for _, tc := range []struct{ name, path, elem string }{
		{"path", "/live/" + tok + "/source/part12.m4s", tok},
		{"query", "/live/li_a/source/part12.m4s?token=" + tok, "li_a"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", tc.path, nil)
			r.RemoteAddr = "127.0.0.1:5000"
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Check(b.Context(), r, tc.elem, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzQueryToken checks QueryToken against url.ParseQuery on the queries
// that parse.
func FuzzQueryToken(f *testing.F) {
	for _, s := range []string{"token=a.b.c", "x=1&token=a.b.c&token=z", "tok%65n=a%2Eb", "token=a+b", "token=%zz&token=ok", "t=1;token=2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := QueryToken(raw)
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // a pair that does not parse is dropped by both, others may differ in order
		}
		if want := q.Get("token"); got != want {
			t.Fatalf("%q: %q, want %q", raw, got, want)
		}
	})
}

func TestCacheControlPrivate(t *testing.T) {
	h := http.Header{}
	if v := CacheControl(h, "public, max-age=31536000, immutable"); v != "public, max-age=31536000, immutable" {
		t.Fatalf("unmarked: %q", v)
	}
	MarkPrivate(h)
	if v := CacheControl(h, "public, max-age=31536000, immutable"); v != "private, max-age=31536000, immutable" {
		t.Fatalf("marked: %q", v)
	}
	if v := CacheControl(h, "max-age=60"); v != "private, max-age=60" {
		t.Fatalf("marked: %q", v)
	}
}

// BenchmarkPrivateCache: what a signed video request pays for its
// Cache-Control (MarkPrivate in the gate, CacheControl when serving).
func BenchmarkPrivateCache(b *testing.B) {
	b.ReportAllocs()
	h := http.Header{}
	for b.Loop() {
		MarkPrivate(h)
		h.Set("Cache-Control", CacheControl(h, "public, max-age=31536000, immutable"))
	}
}

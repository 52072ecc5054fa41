package playback

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestVerifyTokens(t *testing.T) {
	f := newFixture(t)
	now := time.Unix(1_800_000_000, 0)
	ok := TokenClaims{Sub: "li_a", Exp: now.Add(time.Hour).Unix(), Iat: now.Unix()}
	tamper := func(tok string) string { // flip the payload's sub
		parts := strings.Split(tok, ".")
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		p = []byte(strings.Replace(string(p), "li_a", "li_b", 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(p)
		return strings.Join(parts, ".")
	}
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"rsa1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"li_a","exp":1900000000}`)) + "."
	withRules := ok
	withRules.AccessRules = []Rule{{Type: RuleIPSrc, Action: ActionBlock, IP: []string{"10.0.0.0/8"}}}
	tests := []struct {
		name  string
		token string
		want  Reason // "" = valid
	}{
		{"rs256", mustSign(t, f.rsa, "rsa1", ok), ""},
		{"es256", mustSign(t, f.ec, "ec1", ok), ""},
		{"with rules", mustSign(t, f.ec, "ec1", withRules), ""},
		{"expired", mustSign(t, f.rsa, "rsa1", TokenClaims{Sub: "li_a", Exp: now.Add(-time.Minute).Unix()}), ReasonExpired},
		{"not yet valid", mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_a", Exp: now.Add(time.Hour).Unix(), Nbf: now.Add(time.Minute).Unix()}), ReasonNotYetValid},
		{"no exp", mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_a"}), ReasonMalformed},
		{"tampered", tamper(mustSign(t, f.rsa, "rsa1", ok)), ReasonBadSignature},
		{"unknown kid", mustSign(t, f.rsa, "nope", ok), ReasonUnknownKey},
		{"key of other type", mustSign(t, f.ec, "rsa1", ok), ReasonBadSignature},
		{"alg none", algNone, ReasonMalformed},
		{"garbage", "a.b.c", ReasonMalformed},
		{"crit", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"ec1","crit":["b64"]}`)) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"li_a","exp":1900000000}`)) + ".AAAA", ReasonMalformed},
		{"two parts", "abc.def", ReasonMalformed},
		{"empty", "", ReasonMalformed},
		{"too long", strings.Repeat("a", MaxTokenLen+1), ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(VerifierConfig{Keys: f.keys, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // the second time from the cache
				c, err := v.Verify(t.Context(), tt.token)
				if tt.want == "" {
					if err != nil || c.Sub != "li_a" {
						t.Fatalf("#%d: Verify = %v, %v; want valid", i, c, err)
					}
					continue
				}
				if got := ReasonOf(err); err == nil || got != tt.want {
					t.Fatalf("#%d: Verify error %v (reason %q), want %q", i, err, got, tt.want)
				}
			}
		})
	}
}

func TestVerifierCacheAndRevocation(t *testing.T) {
	f := newFixture(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	v, _ := NewVerifier(VerifierConfig{Keys: f.keys, Now: clock, CacheSize: 2})
	tok := mustSign(t, f.rsa, "rsa1", TokenClaims{Sub: "li_a", Exp: now.Add(time.Hour).Unix()})
	for range 100 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if f.keys.reads != 1 {
		t.Errorf("key read %d times within the key TTL, want 1", f.keys.reads)
	}
	f.keys.revoke("rsa1")
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("revocation seen before the key TTL: %v", err)
	}
	now = now.Add(DefaultKeyTTL)
	if _, err := v.Verify(t.Context(), tok); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("after revocation + TTL: %v, want %s", err, ReasonUnknownKey)
	}
	// the cache is bounded
	for i := range 5 {
		_, _ = v.Verify(t.Context(), mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_a", Exp: now.Add(time.Hour).Unix() + int64(i)}))
	}
	if n := v.CacheLen(); n > 2 {
		t.Errorf("cache holds %d tokens, bound 2", n)
	}
	// Revoked takes effect at once
	tok2 := mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_a", Exp: now.Add(time.Hour).Unix()})
	if _, err := v.Verify(t.Context(), tok2); err != nil {
		t.Fatal(err)
	}
	v.Revoked("ec1")
	if _, err := v.Verify(t.Context(), tok2); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("after Revoked: %v", err)
	}
}

func TestParseTokenCloudflareRules(t *testing.T) {
	f := newFixture(t)
	tok := mustSign(t, f.ec, "ec1", TokenClaims{Sub: "x", Exp: 2_000_000_000})
	// rebuild with camelCase accessRules
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","exp":2000000000.5,"accessRules":[{"type":"ip.geoip.country","country":["us"],"action":"allow"},{"type":"any","action":"block"}]}`))
	pt, err := ParseToken(strings.Join(parts, "."))
	if err != nil {
		t.Fatal(err)
	}
	if len(pt.Claims.Rules) != 2 || pt.Claims.Rules[0].Country[0] != "US" {
		t.Fatalf("rules = %+v", pt.Claims.Rules)
	}
}

// FuzzParseToken: any bytes parse or fail without panicking, and a parsed
// token's claims are consistent.
func FuzzParseToken(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJsaV9hIiwiZXhwIjoxOTAwMDAwMDAwfQ.c2ln")
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4IiwiZXhwIjoxLCJhY2Nlc3NfcnVsZXMiOlt7InR5cGUiOiJhbnkiLCJhY3Rpb24iOiJibG9jayJ9XX0.")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if ReasonOf(err) != ReasonMalformed {
				t.Fatalf("parse error with reason %q", ReasonOf(err))
			}
			return
		}
		if tok.Claims.Sub == "" || tok.Claims.Exp.IsZero() || tok.Header.Kid == "" || len(tok.Claims.Rules) > MaxRules {
			t.Fatalf("accepted an incomplete token: %+v", tok)
		}
	})
}

// TestVerifierNegativeCache checks that a token whose signature does not
// verify is refused from the negative cache after the first verification,
// with the same reason, and that a valid token is unaffected.
func TestVerifierNegativeCache(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	v, _ := NewVerifier(VerifierConfig{Keys: f.keys, Now: func() time.Time { return now }})
	good := mustSign(t, f.ec, "ec1", TokenClaims{Sub: "li_a", Exp: now.Add(time.Hour).Unix()})
	forged := good[:len(good)-4] + "AAAA"
	if forged == good {
		forged = good[:len(good)-4] + "BBBB"
	}
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(t.Context(), forged); ReasonOf(err) != ReasonBadSignature {
			t.Fatalf("#%d: %v", i, err)
		}
	}
	v.mu.RLock()
	n := len(v.bad)
	v.mu.RUnlock()
	if n != 1 {
		t.Fatalf("negative cache has %d entries, want 1", n)
	}
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	// past badTTL the forgery is verified (and refused) again
	now = now.Add(badTTL + time.Second)
	if _, err := v.Verify(t.Context(), forged); ReasonOf(err) != ReasonBadSignature {
		t.Fatal(err)
	}
	// bounded: a flood of distinct forgeries never grows it past maxBadEntries
	for i := 0; i < maxBadEntries+10; i++ {
		var h [32]byte
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		v.putBad(h, now)
	}
	if len(v.bad) > maxBadEntries {
		t.Fatalf("%d entries", len(v.bad))
	}
}

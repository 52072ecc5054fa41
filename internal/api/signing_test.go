package api

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/playback"
)

func TestSigningKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ver, _ := playback.NewVerifier(playback.VerifierConfig{Keys: e.st.SigningKeys(), KeyTTL: time.Nanosecond})
		// generate: the private key once, as base64 PEM and JWK
		d := e.do("POST", "/v1/signing_keys", e.admin, nil).want(t, 201, "").data()
		kid := d["id"].(string)
		if d["algorithm"] != "RS256" || d["generated"] != true || d["pem"] == nil || d["jwk"] == nil || d["created_at"] == nil {
			t.Fatalf("created key %v", d)
		}
		pemB, _ := base64.StdEncoding.DecodeString(d["pem"].(string))
		blk, _ := pem.Decode(pemB)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			t.Fatalf("pem %q", pemB)
		}
		priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		jwkB, _ := base64.StdEncoding.DecodeString(d["jwk"].(string))
		if !strings.Contains(string(jwkB), `"kid":"`+kid+`"`) || !strings.Contains(string(jwkB), `"d":`) {
			t.Fatalf("jwk %s", jwkB)
		}
		tok, err := playback.Sign(priv.(crypto.Signer), kid, playback.TokenClaims{Sub: "li_x", Exp: time.Now().Add(time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ver.Verify(t.Context(), tok); err != nil {
			t.Fatalf("token of the generated key: %v", err)
		}
		// the list never shows the private key
		l := e.do("GET", "/v1/signing_keys", e.admin, nil).want(t, 200, "")
		if strings.Contains(string(l.Body), `"pem"`) || strings.Contains(string(l.Body), `"jwk"`) || len(l.list()) != 1 {
			t.Fatalf("list: %s", l.Body)
		}
		// register an ES256 public key, as PEM and as a JWK object
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
		pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		r := e.do("POST", "/v1/signing_keys", e.admin, map[string]any{"public_key": pubPEM}).want(t, 201, "").data()
		if r["algorithm"] != "ES256" || r["generated"] != false || r["pem"] != nil {
			t.Fatalf("registered %v", r)
		}
		b64 := base64.RawURLEncoding
		jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(ec.X.FillBytes(make([]byte, 32))), "y": b64.EncodeToString(ec.Y.FillBytes(make([]byte, 32)))}
		e.do("POST", "/v1/signing_keys", e.admin, map[string]any{"jwk": jwk}).want(t, 201, "")
		e.do("POST", "/v1/signing_keys", e.admin, map[string]any{"public_key": string(pemB)}).want(t, 400, CodeValidation)
		e.do("POST", "/v1/signing_keys", e.admin, map[string]any{"public_key": "nope"}).want(t, 400, CodeValidation)
		// admin only
		rw := e.token(ScopeLiveInputsWrite)
		e.do("GET", "/v1/signing_keys", rw, nil).want(t, 403, CodeForbidden)
		e.do("POST", "/v1/signing_keys", rw, nil).want(t, 403, CodeForbidden)
		// revoke: its tokens are refused
		e.do("DELETE", "/v1/signing_keys/"+kid, e.admin, nil).want(t, 204, "")
		e.do("DELETE", "/v1/signing_keys/"+kid, e.admin, nil).want(t, 204, "")
		e.do("DELETE", "/v1/signing_keys/key_nope", e.admin, nil).want(t, 404, CodeNotFound)
		if _, err := ver.Verify(t.Context(), tok); playback.ReasonOf(err) != playback.ReasonUnknownKey {
			t.Fatalf("token of a revoked key: %v", err)
		}
	})
}

func TestMintToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		li := e.create(map[string]any{"name": "signed", "require_signed_urls": true})
		id := li["id"].(string)
		ver, _ := playback.NewVerifier(playback.VerifierConfig{Keys: e.st.SigningKeys()})
		tests := []struct {
			name    string
			body    any
			status  int
			wantTTL time.Duration
			rules   int
		}{
			{"default 1 h", nil, 200, time.Hour, 0},
			{"ttl and rules", map[string]any{"ttl_seconds": 120, "access_rules": []any{map[string]any{"type": "ip.src", "action": "block", "ip": []string{"10.0.0.0/8"}}}}, 200, 2 * time.Minute, 1},
			{"camelCase accessRules refused", map[string]any{"accessRules": []any{map[string]any{"type": "any", "action": "allow"}}}, 400, 0, 0},
			{"max 24 h", map[string]any{"ttl_seconds": 86401}, 400, 0, 0},
			{"bad rule", map[string]any{"access_rules": []any{map[string]any{"type": "asn", "action": "allow"}}}, 400, 0, 0},
			{"unknown field", map[string]any{"exp": 1}, 400, 0, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/live_inputs/"+id+"/token", e.admin, tt.body)
				if r.Status != tt.status {
					t.Fatalf("status %d: %s", r.Status, r.Body)
				}
				if tt.status != 200 {
					return
				}
				d := r.data()
				exp, _ := time.Parse(time.RFC3339, d["expires_at"].(string))
				if got := time.Until(exp); got > tt.wantTTL || got < tt.wantTTL-time.Minute {
					t.Fatalf("expires in %v, want %v", got, tt.wantTTL)
				}
				c, err := ver.Verify(t.Context(), d["token"].(string))
				if err != nil || c.Sub != id || len(c.Rules) != tt.rules {
					t.Fatalf("minted token: %+v, %v", c, err)
				}
			})
		}
		e.do("POST", "/v1/live_inputs/li_nope/token", e.admin, nil).want(t, 404, CodeNotFound)
		e.do("POST", "/v1/live_inputs/"+id+"/token", e.token(ScopeLiveInputsRead), nil).want(t, 403, CodeForbidden)
		s := e.do("GET", "/v1/admission_secret", e.admin, nil).want(t, 200, "").data()
		if !strings.HasPrefix(s["secret"].(string), "whsec_") {
			t.Fatalf("secret %v", s)
		}
	})
}

// TestMintKeyRevocation checks that the server's minting key is listed as
// managed, without its private key, and that revoking it refuses the
// tokens it signed and makes the next mint use a new key.
func TestMintKeyRevocation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		li := e.create(map[string]any{"name": "signed", "require_signed_urls": true})
		id := li["id"].(string)
		ver, _ := playback.NewVerifier(playback.VerifierConfig{Keys: e.st.SigningKeys(), KeyTTL: time.Nanosecond})
		mint := func() (string, string) {
			tok := e.do("POST", "/v1/live_inputs/"+id+"/token", e.admin, nil).want(t, 200, "").data()["token"].(string)
			c, err := ver.Verify(t.Context(), tok)
			if err != nil || c.Sub != id {
				t.Fatalf("minted token: %v", err)
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			var h struct{ Kid string }
			_ = json.Unmarshal(hdr, &h)
			return tok, h.Kid
		}
		tok1, kid1 := mint()
		if !strings.HasPrefix(kid1, playback.MintKeyPrefix) {
			t.Fatalf("kid %q", kid1)
		}
		l := e.do("GET", "/v1/signing_keys", e.admin, nil).want(t, 200, "")
		keys := l.list()
		k0, _ := keys[0].(map[string]any)
		if len(keys) != 1 || k0["id"] != kid1 || k0["managed"] != true || k0["algorithm"] != "ES256" || k0["revoked_at"] != nil {
			t.Fatalf("list: %s", l.Body)
		}
		if strings.Contains(string(l.Body), `"pem"`) || strings.Contains(string(l.Body), `"jwk"`) || strings.Contains(string(l.Body), "PRIVATE") {
			t.Fatalf("list shows a private key: %s", l.Body)
		}
		if tok, kid := mint(); kid != kid1 || tok == "" {
			t.Fatalf("second mint used %q", kid)
		}
		e.do("DELETE", "/v1/signing_keys/"+kid1, e.admin, nil).want(t, 204, "")
		if _, err := ver.Verify(t.Context(), tok1); playback.ReasonOf(err) != playback.ReasonUnknownKey {
			t.Fatalf("token of the revoked minting key: %v", err)
		}
		tok2, kid2 := mint()
		if kid2 == kid1 || !strings.HasPrefix(kid2, playback.MintKeyPrefix) {
			t.Fatalf("mint after revocation used %q", kid2)
		}
		if _, kid := mint(); kid != kid2 {
			t.Fatalf("third mint used %q, want %q", kid, kid2)
		}
		// another node (a fresh chain walk) agrees on the successor
		if _, kid, err := playback.MintKey(t.Context(), e.st.SigningKeys()); err != nil || kid != kid2 {
			t.Fatalf("MintKey: %q %v", kid, err)
		}
		if _, err := ver.Verify(t.Context(), tok2); err != nil {
			t.Fatal(err)
		}
		keys = e.do("GET", "/v1/signing_keys", e.admin, nil).want(t, 200, "").list()
		if len(keys) != 2 {
			t.Fatalf("%d keys listed", len(keys))
		}
	})
}

func TestMintVideoToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		videoEnv(t, e)
		ver, _ := playback.NewVerifier(playback.VerifierConfig{Keys: e.st.SigningKeys()})
		d := e.do("POST", "/v1/videos/vid_1/token", e.admin, map[string]any{"ttl_seconds": 60}).want(t, 200, "").data()
		c, err := ver.Verify(t.Context(), d["token"].(string))
		if err != nil || c.Sub != "vid_1" || time.Until(c.Exp) > time.Minute {
			t.Fatalf("video token: %+v %v", c, err)
		}
		e.do("POST", "/v1/videos/vid_nope/token", e.admin, nil).want(t, 404, CodeNotFound)
		e.do("POST", "/v1/videos/vid_1/token", e.admin, map[string]any{"ttl_seconds": 0}).want(t, 400, CodeValidation)
		e.do("POST", "/v1/videos/vid_1/token", e.token(ScopeVideosRead), nil).want(t, 403, CodeForbidden)
		e.do("POST", "/v1/videos/vid_1/token", e.token(ScopeVideosWrite), nil).want(t, 200, "")
	})
}

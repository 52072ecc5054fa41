package playback

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
)

func TestParsePublicKey(t *testing.T) {
	f := newFixture(t)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&f.rsa.PublicKey)
	ecDER, _ := x509.MarshalPKIXPublicKey(&f.ec.PublicKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&f.rsa.PublicKey)})
	privPEM, _ := PrivatePEM(f.rsa)
	privJWK, _ := PrivateJWK(f.rsa, "k")
	var pubJWK map[string]any
	_ = json.Unmarshal(privJWK, &pubJWK)
	for _, k := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		delete(pubJWK, k)
	}
	rsaJWK, _ := json.Marshal(pubJWK)
	ecJWK, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(f.ec.X.FillBytes(make([]byte, 32))), "y": base64.RawURLEncoding.EncodeToString(f.ec.Y.FillBytes(make([]byte, 32)))})
	badPoint, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "x": base64.RawURLEncoding.EncodeToString([]byte{1}), "y": base64.RawURLEncoding.EncodeToString([]byte{2})})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	tests := []struct {
		name    string
		in      []byte
		wantAlg string
		wantDER []byte
	}{
		{"rsa pem", rsaPEM, store.AlgRS256, rsaDER},
		{"rsa pkcs1 pem", pkcs1, store.AlgRS256, rsaDER},
		{"ec pem", ecPEM, store.AlgES256, ecDER},
		{"rsa pem base64", []byte(base64.StdEncoding.EncodeToString(rsaPEM)), store.AlgRS256, rsaDER},
		{"rsa jwk", rsaJWK, store.AlgRS256, rsaDER},
		{"ec jwk", ecJWK, store.AlgES256, ecDER},
		{"ec jwk base64url", []byte(base64.RawURLEncoding.EncodeToString(ecJWK)), store.AlgES256, ecDER},
		{"private pem refused", privPEM, "", nil},
		{"private jwk refused", privJWK, "", nil},
		{"point off the curve", badPoint, "", nil},
		{"rsa-1024 refused", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}), "", nil},
		{"p-384 refused", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384DER}), "", nil},
		{"garbage", []byte("hello"), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alg, der, err := ParsePublicKey(tt.in)
			if tt.wantAlg == "" {
				if err == nil {
					t.Fatalf("accepted (%s)", alg)
				}
				return
			}
			if err != nil || alg != tt.wantAlg || string(der) != string(tt.wantDER) {
				t.Fatalf("ParsePublicKey = %s, %v", alg, err)
			}
		})
	}
}

// FuzzParsePublicKey: PEM/JWK import never panics; an accepted key
// round-trips through its stored DER.
func FuzzParsePublicKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag"}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Add([]byte("eyJrdHkiOiJFQyJ9"))
	f.Fuzz(func(t *testing.T, b []byte) {
		alg, der, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		if alg != store.AlgRS256 && alg != store.AlgES256 {
			t.Fatalf("alg %q", alg)
		}
		if _, err := PublicFromDER(der); err != nil {
			t.Fatalf("stored DER does not parse: %v", err)
		}
	})
}

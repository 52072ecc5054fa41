package playback

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// MaxKeyLen bounds a public key accepted for registration (PEM or JWK).
const MaxKeyLen = 16 << 10

// GeneratedKeyBits is the size of the RSA keys the server generates.
const GeneratedKeyBits = 2048

// GenerateRSA returns a fresh RSA-2048 key pair for RS256.
func GenerateRSA() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, GeneratedKeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate rsa key: %w", err)
	}
	return k, nil
}

// PrivatePEM encodes a private key as PKCS #8 PEM ("PRIVATE KEY").
func PrivatePEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// jwk is a JSON Web Key (RFC 7517 §4; RSA members RFC 7518 §6.3, EC
// members §6.2).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	// RSA
	N  string `json:"n,omitempty"`
	E  string `json:"e,omitempty"`
	D  string `json:"d,omitempty"`
	P  string `json:"p,omitempty"`
	Q  string `json:"q,omitempty"`
	DP string `json:"dp,omitempty"`
	DQ string `json:"dq,omitempty"`
	QI string `json:"qi,omitempty"`
	// EC
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

func bigB64(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }

// PrivateJWK encodes an RSA private key as a JWK (RFC 7517 §4, RFC 7518
// §6.3.2) with kid and alg RS256.
func PrivateJWK(k *rsa.PrivateKey, kid string) ([]byte, error) {
	k.Precompute()
	if len(k.Primes) != 2 {
		return nil, errors.New("encode jwk: multi-prime key")
	}
	j := jwk{Kty: "RSA", Kid: kid, Alg: "RS256", Use: "sig",
		N: bigB64(k.N), E: bigB64(big.NewInt(int64(k.E))), D: bigB64(k.D),
		P: bigB64(k.Primes[0]), Q: bigB64(k.Primes[1]),
		DP: bigB64(k.Precomputed.Dp), DQ: bigB64(k.Precomputed.Dq), QI: bigB64(k.Precomputed.Qinv)}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode jwk: %w", err)
	}
	return b, nil
}

// ParsePublicKey imports a public key from a PEM block ("PUBLIC KEY", PKIX;
// or "RSA PUBLIC KEY", PKCS #1), from a JWK (RFC 7517 §4), or from either
// of them base64-encoded (standard or URL alphabet). Only RSA keys of
// 2048-8192 bits (RS256) and P-256 keys (ES256) are accepted. A private key
// (PEM or JWK) is refused rather than silently reduced to its public half.
// It returns the algorithm and the PKIX DER to store.
func ParsePublicKey(b []byte) (alg string, der []byte, err error) {
	if len(b) == 0 || len(b) > MaxKeyLen {
		return "", nil, errors.New("key: empty or too large")
	}
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, "-----") && !strings.HasPrefix(s, "{") {
		dec, derr := base64.StdEncoding.DecodeString(s)
		if derr != nil {
			dec, derr = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		}
		if derr != nil {
			return "", nil, errors.New("key: neither PEM, JWK, nor base64 of one")
		}
		s = strings.TrimSpace(string(dec))
	}
	var pub crypto.PublicKey
	switch {
	case strings.HasPrefix(s, "-----"):
		blk, _ := pem.Decode([]byte(s))
		if blk == nil {
			return "", nil, errors.New("key: invalid PEM")
		}
		switch blk.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		default:
			return "", nil, fmt.Errorf("key: PEM type %q; send the PUBLIC KEY only", blk.Type)
		}
		if err != nil {
			return "", nil, fmt.Errorf("key: %w", err)
		}
	case strings.HasPrefix(s, "{"):
		if pub, err = parseJWK([]byte(s)); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, errors.New("key: neither PEM nor JWK")
	}
	return checkPublic(pub)
}

// checkPublic returns the algorithm and PKIX DER of an acceptable key.
func checkPublic(pub crypto.PublicKey) (string, []byte, error) {
	alg := ""
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return "", nil, fmt.Errorf("key: RSA keys must have 2048-8192 bits, not %d", n)
		}
		alg = store.AlgRS256
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", nil, errors.New("key: EC keys must be on P-256 (ES256)")
		}
		alg = store.AlgES256
	default:
		return "", nil, fmt.Errorf("key: unsupported key type %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", nil, fmt.Errorf("key: %w", err)
	}
	return alg, der, nil
}

// parseJWK imports a public JWK (RFC 7517 §4; RFC 7518 §6.2.1, §6.3.1).
func parseJWK(b []byte) (crypto.PublicKey, error) {
	var j jwk
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("key: jwk: %w", err)
	}
	if j.D != "" {
		return nil, errors.New("key: the JWK holds a private key; send the public members only")
	}
	dec := func(name, v string) (*big.Int, error) {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
		if err != nil || len(raw) == 0 {
			return nil, fmt.Errorf("key: jwk member %s is not base64url", name)
		}
		return new(big.Int).SetBytes(raw), nil
	}
	switch j.Kty {
	case "RSA":
		if j.Alg != "" && j.Alg != "RS256" {
			return nil, fmt.Errorf("key: jwk alg %q with kty RSA", j.Alg)
		}
		n, err := dec("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := dec("e", j.E)
		if err != nil {
			return nil, err
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("key: jwk exponent out of range")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		if j.Crv != "P-256" || (j.Alg != "" && j.Alg != "ES256") {
			return nil, errors.New("key: EC JWKs must be crv P-256, alg ES256")
		}
		x, err := dec("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := dec("y", j.Y)
		if err != nil {
			return nil, err
		}
		if x.BitLen() > 256 || y.BitLen() > 256 {
			return nil, errors.New("key: EC point out of range")
		}
		// Validate the point through the uncompressed encoding (SEC 1 §2.3.3).
		raw := make([]byte, 65)
		raw[0] = 4
		x.FillBytes(raw[1:33])
		y.FillBytes(raw[33:])
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("key: EC point: %w", err)
		}
		return pk, nil
	}
	return nil, fmt.Errorf("key: jwk kty %q; RSA or EC", j.Kty)
}

// PublicFromDER parses stored PKIX DER.
func PublicFromDER(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("stored key: %w", err)
	}
	return pub, nil
}

// Names of the secrets kept in store.SigningKeys.
const (
	secretMintKey   = "mint_key"  // PKCS #8 DER of the server's ES256 key
	secretAdmission = "admission" // HMAC-SHA256 key of admission hooks
)

// SecretStore is the part of store.SigningKeys that keeps named secrets.
type SecretStore interface {
	Secret(ctx context.Context, name string, candidate []byte) ([]byte, error)
}

// MintStore is what MintKey needs of store.SigningKeys.
type MintStore interface {
	SecretStore
	Get(ctx context.Context, id string) (*store.SigningKey, error)
	Create(ctx context.Context, k *store.SigningKey) error
}

// MintKeyPrefix starts the kid of every server-managed minting key; ids
// of keys created or registered over the API never start with it.
const MintKeyPrefix = "mint_"

// maxMintChain bounds the walk over revoked minting keys.
const maxMintChain = 10000

// MintKey returns the server's current ES256 minting key and its kid,
// "mint_" + the hex of 8 bytes of the SHA-256 of its public key. Tokens it
// signs are minted by POST /v1/live_inputs/ID/token. The private key is a
// secret shared through the store (created by the first node that needs
// it); its public half is a signing key row (Generated, listed by
// GET /v1/signing_keys), so the verifier finds it like any other key and
// DELETE /v1/signing_keys/KID revokes it. The key after a revoked one is
// the secret "mint_key:after:KID", so every node agrees on the successor;
// MintKey walks that chain to the first key not revoked.
func MintKey(ctx context.Context, st MintStore) (*ecdsa.PrivateKey, string, error) {
	name := secretMintKey
	for range maxMintChain {
		ek, kid, pub, err := mintSecret(ctx, st, name)
		if err != nil {
			return nil, "", err
		}
		k, err := st.Get(ctx, kid)
		if errors.Is(err, store.ErrNotFound) {
			k = &store.SigningKey{ID: kid, Algorithm: store.AlgES256, PublicKey: pub, Generated: true,
				CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
			if err = st.Create(ctx, k); errors.Is(err, store.ErrConflict) {
				k, err = st.Get(ctx, kid) // created by another node meanwhile
			}
		}
		if err != nil {
			return nil, "", fmt.Errorf("mint key: %w", err)
		}
		if k.RevokedAt == nil {
			return ek, kid, nil
		}
		name = secretMintKey + ":after:" + kid
	}
	return nil, "", errors.New("mint key: too many revoked minting keys")
}

// mintSecret returns the minting key stored as the secret name (created
// now when there is none), its kid and its PKIX public key.
func mintSecret(ctx context.Context, st SecretStore, name string) (*ecdsa.PrivateKey, string, []byte, error) {
	cand, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", nil, fmt.Errorf("mint key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cand)
	if err != nil {
		return nil, "", nil, fmt.Errorf("mint key: %w", err)
	}
	der, err = st.Secret(ctx, name, der)
	if err != nil {
		return nil, "", nil, fmt.Errorf("mint key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, "", nil, fmt.Errorf("mint key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, "", nil, fmt.Errorf("mint key: stored key is %T", k)
	}
	pub, err := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	if err != nil {
		return nil, "", nil, fmt.Errorf("mint key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return ek, MintKeyPrefix + hex.EncodeToString(sum[:8]), pub, nil
}

// AdmissionKey returns the HMAC-SHA256 key of admission hook requests (32
// random bytes, created once, shared through the store).
func AdmissionKey(ctx context.Context, st SecretStore) ([]byte, error) {
	cand := make([]byte, 32)
	if _, err := rand.Read(cand); err != nil {
		return nil, fmt.Errorf("admission key: %w", err)
	}
	k, err := st.Secret(ctx, secretAdmission, cand)
	if err != nil {
		return nil, fmt.Errorf("admission key: %w", err)
	}
	return k, nil
}

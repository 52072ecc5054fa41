// Package playback authorizes viewers and publishers: playback tokens (JWTs
// signed with RS256 or ES256 keys), their access rules, allowed origins,
// the client address behind trusted proxies, country lookup in a MaxMind
// database, and admission hooks in the operator's own service.
//
// Tokens follow RFC 7519 (JWT) in the JWS compact serialization of RFC 7515
// §7.1, with the algorithms of RFC 7518 §3.3 (RS256) and §3.4 (ES256). The
// claims are Cloudflare Stream's, so that their users' signing code ports
// over: sub, exp (required), nbf, iat, access_rules (or accessRules).
package playback

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// MaxTokenLen bounds the tokens parsed: 4 KiB (ten rules of a few CIDRs and
// an RSA-4096 signature fit well below).
const MaxTokenLen = 4096

// Reason is why a token or a request was refused: a short, stable code for
// the response body and the metric label, with no detail that helps forge.
type Reason string

// Reasons of refusal.
const (
	ReasonMissing      Reason = "token_required"    // no token where one is required
	ReasonMalformed    Reason = "token_malformed"   // not a JWT this server accepts
	ReasonBadSignature Reason = "token_signature"   // the signature does not verify
	ReasonUnknownKey   Reason = "token_unknown_key" // no such kid, or it was revoked
	ReasonExpired      Reason = "token_expired"     // exp passed (RFC 7519 §4.1.4)
	ReasonNotYetValid  Reason = "token_not_yet_valid"
	ReasonWrongSubject Reason = "token_wrong_subject" // sub names another live input
	ReasonRuleBlocked  Reason = "access_rule_blocked"
	ReasonOrigin       Reason = "origin_not_allowed"
	ReasonAdmission    Reason = "admission_denied"
	ReasonUnavailable  Reason = "verification_unavailable" // the key store could not be read
)

// Error is a refusal; Reason is safe to show to the client.
type Error struct {
	Reason Reason
	err    error // internal detail, for logs only
}

func (e *Error) Error() string {
	if e.err != nil {
		return string(e.Reason) + ": " + e.err.Error()
	}
	return string(e.Reason)
}

func (e *Error) Unwrap() error { return e.err }

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the Reason of err, or ReasonUnavailable for other errors.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonUnavailable
}

// Header is the JOSE header of a token (RFC 7515 §4.1).
type Header struct {
	Alg string `json:"alg"`           // RS256 | ES256
	Kid string `json:"kid"`           // signing key id (RFC 7515 §4.1.4); required
	Typ string `json:"typ,omitempty"` // "JWT" when present (RFC 7519 §5.1)
	// Crit lists extensions the recipient must understand (RFC 7515
	// §4.1.11); this server understands none, so a token with crit is
	// refused.
	Crit []string `json:"crit,omitempty"`
}

// Claims are the claims of a playback token (RFC 7519 §4.1).
type Claims struct {
	Sub string // the live input id
	Exp time.Time
	Nbf time.Time // zero = none
	Iat time.Time // zero = none
	// Rules are the access rules, first match wins, no match allows.
	Rules []Rule
}

// Token is a parsed, not yet verified token.
type Token struct {
	Header       Header
	Claims       Claims
	signingInput []byte // header.payload, what the signature covers
	signature    []byte
}

// rawClaims is the JSON of the claims; unknown claims are ignored (RFC 7519
// §4: "claims that are not understood MUST be ignored").
type rawClaims struct {
	Sub          string          `json:"sub"`
	Exp          json.Number     `json:"exp"`
	Nbf          json.Number     `json:"nbf"`
	Iat          json.Number     `json:"iat"`
	AccessRules  json.RawMessage `json:"access_rules"`
	AccessRules2 json.RawMessage `json:"accessRules"` // Cloudflare's spelling
}

// ParseToken splits and decodes a compact JWS (RFC 7515 §7.1) without
// verifying its signature. It checks the shape only: three base64url parts,
// a header with alg RS256 or ES256 and a kid, claims with sub and exp, and
// valid access rules.
func ParseToken(s string) (*Token, error) {
	if len(s) == 0 || len(s) > MaxTokenLen {
		return nil, refuse(ReasonMalformed, "token length %d", len(s))
	}
	h, rest, ok := strings.Cut(s, ".")
	if !ok {
		return nil, refuse(ReasonMalformed, "not three parts")
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, refuse(ReasonMalformed, "not three parts")
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, refuse(ReasonMalformed, "header: %w", err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, refuse(ReasonMalformed, "payload: %w", err)
	}
	sb, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, refuse(ReasonMalformed, "signature: %w", err)
	}
	t := &Token{signingInput: []byte(s[:len(h)+1+len(p)]), signature: sb}
	if err := strictJSON(hb, &t.Header); err != nil {
		return nil, refuse(ReasonMalformed, "header: %w", err)
	}
	if t.Header.Alg != "RS256" && t.Header.Alg != "ES256" {
		return nil, refuse(ReasonMalformed, "alg %q", t.Header.Alg)
	}
	if t.Header.Crit != nil {
		return nil, refuse(ReasonMalformed, "crit header parameter")
	}
	if t.Header.Kid == "" || len(t.Header.Kid) > 128 {
		return nil, refuse(ReasonMalformed, "kid missing")
	}
	var rc rawClaims
	if err := strictJSON(pb, &rc); err != nil {
		return nil, refuse(ReasonMalformed, "claims: %w", err)
	}
	if rc.Sub == "" {
		return nil, refuse(ReasonMalformed, "sub missing")
	}
	t.Claims.Sub = rc.Sub
	if t.Claims.Exp, err = numericDate(rc.Exp); err != nil || t.Claims.Exp.Unix() <= 0 {
		return nil, refuse(ReasonMalformed, "exp missing or invalid")
	}
	if t.Claims.Nbf, err = numericDate(rc.Nbf); err != nil {
		return nil, refuse(ReasonMalformed, "nbf: %w", err)
	}
	if t.Claims.Iat, err = numericDate(rc.Iat); err != nil {
		return nil, refuse(ReasonMalformed, "iat: %w", err)
	}
	rules := rc.AccessRules
	if len(rules) == 0 || string(rules) == "null" {
		rules = rc.AccessRules2
	}
	if len(rules) > 0 && string(rules) != "null" {
		if t.Claims.Rules, err = ParseRules(rules); err != nil {
			return nil, refuse(ReasonMalformed, "access_rules: %w", err)
		}
	}
	return t, nil
}

// strictJSON decodes one JSON object into v, numbers as json.Number.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// numericDate decodes a NumericDate (RFC 7519 §2): seconds since the epoch,
// possibly fractional. An absent value is the zero time.
func numericDate(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("not a NumericDate: %q", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// VerifySignature checks t's signature with pub (RFC 7518 §3.3 RS256:
// RSASSA-PKCS1-v1_5 SHA-256; §3.4 ES256: P-256, the signature being R||S,
// 32 bytes each). The key's algorithm must be the header's.
func (t *Token) VerifySignature(pub crypto.PublicKey) error {
	digest := sha256.Sum256(t.signingInput)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if t.Header.Alg != "RS256" {
			return refuse(ReasonBadSignature, "alg %s with an RSA key", t.Header.Alg)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], t.signature); err != nil {
			return refuse(ReasonBadSignature, "rsa: %w", err)
		}
		return nil
	case *ecdsa.PublicKey:
		if t.Header.Alg != "ES256" || len(t.signature) != 64 {
			return refuse(ReasonBadSignature, "alg %s / %d-byte signature with an EC key", t.Header.Alg, len(t.signature))
		}
		r := new(big.Int).SetBytes(t.signature[:32])
		s := new(big.Int).SetBytes(t.signature[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return refuse(ReasonBadSignature, "ecdsa verification failed")
		}
		return nil
	}
	return refuse(ReasonBadSignature, "unsupported key type %T", pub)
}

// TokenClaims are the claims Sign writes.
type TokenClaims struct {
	Sub         string `json:"sub"`
	Exp         int64  `json:"exp"`
	Nbf         int64  `json:"nbf,omitempty"`
	Iat         int64  `json:"iat,omitempty"`
	AccessRules []Rule `json:"access_rules,omitempty"`
}

// Sign returns the compact JWS (RFC 7515 §7.1) of claims, signed with priv
// (an *rsa.PrivateKey for RS256 or a P-256 *ecdsa.PrivateKey for ES256)
// under key id kid.
func Sign(priv crypto.Signer, kid string, claims TokenClaims) (string, error) {
	alg := ""
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		alg = "RS256"
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize != 256 {
			return "", errors.New("sign: ES256 needs a P-256 key")
		}
		alg = "ES256"
	default:
		return "", fmt.Errorf("sign: unsupported key %T", priv)
	}
	hb, err := json.Marshal(Header{Alg: alg, Kid: kid, Typ: "JWT"})
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, digest[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

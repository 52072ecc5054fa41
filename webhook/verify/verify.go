// Package verify checks the signatures of MpegFlow webhooks. It implements
// the receiving side of the Standard Webhooks specification
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
// "Verifying webhook authenticity"), so any Standard Webhooks library
// verifies MpegFlow deliveries too, and this package verifies any Standard
// Webhooks sender's.
//
// A delivery carries three headers:
//
//	webhook-id:        the event id (stable across retries; de-duplicate on it)
//	webhook-timestamp: Unix seconds of this attempt
//	webhook-signature: space-separated "v1,BASE64" signatures
//
// where each signature is HMAC-SHA256 keyed with the secret (the base64
// after "whsec_") over "ID.TIMESTAMP.BODY". Several signatures appear while
// a secret is being rotated: one of them matching is enough.
//
// Usage in an http.Handler:
//
//	v, err := verify.New(os.Getenv("MPEGFLOW_WEBHOOK_SECRET"))
//	...
//	body, _ := io.ReadAll(r.Body)
//	if err := v.Verify(r.Header, body); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//
// The package imports only the standard library.
package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every secret (Standard Webhooks, "Symmetric" keys).
const SecretPrefix = "whsec_"

// DefaultTolerance is how far the webhook-timestamp may be from the
// receiver's clock, either way, when Verifier.Tolerance is 0: 5 minutes, as
// the specification recommends against replay.
const DefaultTolerance = 5 * time.Minute

// Header names (Standard Webhooks, "Webhook headers").
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Limits on untrusted header values.
const (
	maxSignatureHeader = 8 << 10
	maxIDLen           = 256
)

// Errors of Verify (test with errors.Is).
var (
	ErrMissingHeader = errors.New("verify: missing webhook header")
	ErrInvalidHeader = errors.New("verify: malformed webhook header")
	ErrTimestamp     = errors.New("verify: timestamp outside the tolerance")
	ErrNoMatch       = errors.New("verify: no matching signature")
	ErrInvalidSecret = errors.New("verify: secret must be whsec_ followed by base64")
)

// Verifier checks deliveries against one or more secrets (several during a
// rotation on the receiver's side). Safe for concurrent use once built.
type Verifier struct {
	keys [][]byte
	// Tolerance bounds |now - webhook-timestamp|; 0 = DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// DecodeSecret returns the HMAC key of a "whsec_BASE64" secret. The prefix
// is optional, as in the reference libraries.
func DecodeSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(k) == 0 {
		return nil, ErrInvalidSecret
	}
	return k, nil
}

// New returns a Verifier accepting a signature made with any of secrets.
func New(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, ErrInvalidSecret
	}
	v := &Verifier{}
	for _, s := range secrets {
		k, err := DecodeSecret(s)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// Verify checks the headers of a delivery against body, the raw request
// body (read it whole before parsing it). It returns nil, or an error
// wrapping ErrMissingHeader, ErrInvalidHeader, ErrTimestamp or ErrNoMatch.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyValues(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body)
}

// VerifyValues is Verify with the three header values given directly.
func (v *Verifier) VerifyValues(id, timestamp, signatures string, body []byte) error {
	if id == "" || timestamp == "" || signatures == "" {
		return ErrMissingHeader
	}
	if len(id) > maxIDLen || strings.ContainsAny(id, ".\r\n") {
		return fmt.Errorf("%w: webhook-id", ErrInvalidHeader)
	}
	ts, err := ParseTimestamp(timestamp)
	if err != nil {
		return err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	if d := now().Sub(ts); d > tol || d < -tol {
		return ErrTimestamp
	}
	sigs, err := ParseSignatureHeader(signatures)
	if err != nil {
		return err
	}
	for _, k := range v.keys {
		want := mac(k, id, timestamp, body)
		for _, s := range sigs {
			if hmac.Equal(s, want) { // constant time
				return nil
			}
		}
	}
	return ErrNoMatch
}

// ParseTimestamp parses webhook-timestamp: decimal Unix seconds.
func ParseTimestamp(s string) (time.Time, error) {
	if len(s) == 0 || len(s) > 12 || strings.TrimLeft(s, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("%w: webhook-timestamp", ErrInvalidHeader)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: webhook-timestamp", ErrInvalidHeader)
	}
	return time.Unix(n, 0), nil
}

// ParseSignatureHeader returns the v1 signatures (32-byte HMAC-SHA256
// values) of a webhook-signature header: space-separated "VERSION,BASE64"
// entries. Entries of other versions (e.g. v1a, asymmetric) are skipped;
// the header is refused when it holds no v1 entry or a malformed one.
func ParseSignatureHeader(h string) ([][]byte, error) {
	if len(h) > maxSignatureHeader {
		return nil, fmt.Errorf("%w: webhook-signature too long", ErrInvalidHeader)
	}
	var out [][]byte
	for _, f := range strings.Fields(h) {
		ver, sig, ok := strings.Cut(f, ",")
		if !ok {
			return nil, fmt.Errorf("%w: webhook-signature entry without a version", ErrInvalidHeader)
		}
		if ver != "v1" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("%w: webhook-signature entry is not a base64 HMAC-SHA256", ErrInvalidHeader)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: webhook-signature has no v1 entry", ErrInvalidHeader)
	}
	return out, nil
}

// Sign returns the "v1,BASE64" signature of a delivery made with secret:
// HMAC-SHA256(key, id + "." + unix seconds + "." + body).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	k, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(k, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

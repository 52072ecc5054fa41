package store

import (
	"context"
	"time"
)

// Algorithms of playback signing keys (RFC 7518 §3.1).
const (
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3)
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256 (RFC 7518 §3.4)
)

// SigningKey is the public half of a key that signs playback tokens (JWTs,
// RFC 7519). The private half is never stored: keys created by the server
// hand theirs to the caller once; registered keys never had one here.
type SigningKey struct {
	ID        string     // the JWS "kid" (RFC 7515 §4.1.4), "sk_..."
	Algorithm string     // AlgRS256 | AlgES256
	PublicKey []byte     // PKIX (SubjectPublicKeyInfo) DER
	Generated bool       // true when the server generated the pair
	CreatedAt time.Time  //
	RevokedAt *time.Time // non-nil once revoked: every token it signed is refused
}

// SigningKeys persists playback signing keys and the secrets of signed
// playback (the server's own minting key, the admission hook secret).
type SigningKeys interface {
	// Create inserts k; ErrConflict when the id exists.
	Create(ctx context.Context, k *SigningKey) error
	// Get returns the key id (revoked ones too) or ErrNotFound.
	Get(ctx context.Context, id string) (*SigningKey, error)
	// List returns up to opts.Limit keys after opts.After ordered by id,
	// revoked ones included, and whether more follow. Name and Enabled are
	// ignored.
	List(ctx context.Context, opts ListOptions) ([]*SigningKey, bool, error)
	// Revoke sets RevokedAt (the first time only); ErrNotFound.
	Revoke(ctx context.Context, id string, at time.Time) error
	// Secret returns the secret stored under name, storing candidate first
	// when there is none: every node sharing the database gets the same
	// value (the first writer wins).
	Secret(ctx context.Context, name string, candidate []byte) ([]byte, error)
}

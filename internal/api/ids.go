package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// crockford is Crockford's base32 alphabet in lower case: sortable, no
// look-alike letters.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// newID returns prefix + 26 characters: 48 bits of milliseconds since the
// Unix epoch then 80 random bits (the ULID layout), so ids sort by creation
// time and lists ordered by id page in creation order.
func newID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return prefix + b32.EncodeToString(b[:])
}

// newSecret returns prefix + the base32 of n random bytes.
func newSecret(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + b32.EncodeToString(b)
}

// NewStreamKey returns a stream key: "sk_" + 128 random bits (26 base32
// characters).
func NewStreamKey() string { return newSecret("sk_", 16) }

// NewSRTPassphrase returns an SRT passphrase: 32 base32 characters (160 bits),
// within SRT's 10-79 character range.
func NewSRTPassphrase() string { return newSecret("", 20) }

// HashSecret is the SHA-256 under which stream keys and API tokens are
// stored and looked up.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// NewSessionID returns a publisher session id, "ses_" + 26 characters.
func NewSessionID(now time.Time) string { return newID("ses_", now) }

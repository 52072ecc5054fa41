package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"time"

	"github.com/mpegflow/mpegflow/internal/ids"
)

// crockford is Crockford's base32 alphabet in lower case: sortable, no
// look-alike letters.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

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
func NewSessionID(now time.Time) string { return ids.New("ses", now) }

// idPrefixes are the id prefixes of the API's resources by OpenAPI schema:
// every id the server generates is prefix + "_" + 26 characters (package
// ids). A schema with an "id" that is not a generated id is listed in
// notGeneratedIDs (ids_test.go) instead.
func idPrefixes() map[string]string {
	return map[string]string{
		"LiveInput": "li", "Output": "out", "Session": "ses", "Token": "tok", "SigningKey": "key",
		"Video": "vid", "DirectUpload": "vid", "Webhook": "whk", "WebhookDelivery": "whd", "Event": "evt",
	}
}

// idRule describes the ids of prefix in the OpenAPI document.
func idRule(prefix string) string {
	return "`" + prefix + "_` + 26 characters of lower-case Crockford base32 (milliseconds then random bits: ids sort by creation time); see Ids in docs/api.md."
}

// idStr is the OpenAPI schema of an id of prefix.
func idStr(prefix string) obj { return str(idRule(prefix)) }

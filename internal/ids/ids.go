// Package ids makes the ids of MpegFlow's resources, by one rule for all
// of them: a lower-case prefix naming the resource, "_", then 26
// characters of lower-case Crockford base32 (https://www.crockford.com/base32.html)
// holding 128 bits. A generated id (New) takes the ULID layout
// (https://github.com/ulid/spec): 48 bits of milliseconds since the Unix
// epoch then 80 random bits, so ids sort by creation time and a list
// ordered by id pages in creation order. An id that must come out the
// same wherever it is computed (Derived) holds the first 128 bits of a
// SHA-256 instead. Ids stored before this rule keep working: nothing
// parses an id's characters, they are only compared.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// Alphabet is Crockford's base32 alphabet in lower case: no look-alike
// letters (i, l, o, u are left out), and it sorts as the bytes it encodes.
const Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// Len is the length of an id after its prefix and "_".
const Len = 26

var enc = base32.NewEncoding(Alphabet).WithPadding(base32.NoPadding)

// New returns prefix + "_" + 26 characters: the milliseconds of now then
// 80 random bits.
func New(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return prefix + "_" + enc.EncodeToString(b[:])
}

// Derived returns prefix + "_" + 26 characters of the SHA-256 of parts
// (each followed by a NUL byte): the same parts give the same id.
func Derived(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "_" + enc.EncodeToString(h.Sum(nil)[:16])
}

// Valid reports whether s is an id of the rule with the given prefix.
func Valid(prefix, s string) bool {
	if len(s) != len(prefix)+1+Len || s[:len(prefix)] != prefix || s[len(prefix)] != '_' {
		return false
	}
	for i := len(prefix) + 1; i < len(s); i++ {
		if !validChar(s[i]) {
			return false
		}
	}
	return true
}

func validChar(c byte) bool {
	for i := 0; i < len(Alphabet); i++ {
		if Alphabet[i] == c {
			return true
		}
	}
	return false
}

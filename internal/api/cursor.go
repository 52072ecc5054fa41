package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Cursors are opaque to clients: base64url (no padding) of
//
//	version (1 byte, 1) | filter digest (8 bytes) | after id | MAC (12 bytes)
//
// where the filter digest binds the cursor to the list and filters it was
// issued for, and the MAC is HMAC-SHA-256 truncated to 96 bits under the
// server's cursor key. A cursor that was edited, truncated, or replayed
// against another list or filter is refused with 400 invalid_cursor.
const (
	cursorVersion = 1
	cursorMACLen  = 12
	cursorDigLen  = 8
	maxCursorLen  = 512 // encoded characters
	maxIDLen      = 128
)

// cursorCodec encodes and verifies cursors under one key.
type cursorCodec struct{ key []byte }

func filterDigest(scope string) []byte {
	d := sha256.Sum256([]byte(scope))
	return d[:cursorDigLen]
}

func (c cursorCodec) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(msg)
	return m.Sum(nil)[:cursorMACLen]
}

// encode returns the cursor continuing after id within the list scope (the
// list's name and its filters).
func (c cursorCodec) encode(scope, after string) string {
	msg := make([]byte, 0, 1+cursorDigLen+len(after)+cursorMACLen)
	msg = append(msg, cursorVersion)
	msg = append(msg, filterDigest(scope)...)
	msg = append(msg, after...)
	msg = append(msg, c.mac(msg)...)
	return base64.RawURLEncoding.EncodeToString(msg)
}

// decode verifies s and returns the id to continue after. "" decodes to "".
func (c cursorCodec) decode(scope, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	bad := func(msg string) error {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidCursor, Message: msg, Details: map[string]any{"parameter": "cursor"}}
	}
	if len(s) > maxCursorLen {
		return "", bad("cursor is too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", bad("cursor is not one this server issued")
	}
	if len(b) < 1+cursorDigLen+1+cursorMACLen || b[0] != cursorVersion {
		return "", bad("cursor is not one this server issued")
	}
	msg, sum := b[:len(b)-cursorMACLen], b[len(b)-cursorMACLen:]
	if !hmac.Equal(sum, c.mac(msg)) {
		return "", bad("cursor is not one this server issued")
	}
	if !hmac.Equal(msg[1:1+cursorDigLen], filterDigest(scope)) {
		return "", bad("cursor belongs to another list or other filters; pass the same filters as the first page")
	}
	id := string(msg[1+cursorDigLen:])
	if !validID(id) {
		return "", bad("cursor is not one this server issued")
	}
	return id, nil
}

// validID reports whether id is a plausible resource id: 1..128 characters
// of [A-Za-z0-9_.-]. Static live inputs use the ids of the config file,
// which conf restricts to this set.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// CursorKey derives the list cursor key (Config.CursorKey) from the hash
// of the oldest API token: secret, and the same on every node sharing the
// database and across restarts (tokens are revoked, never deleted).
func CursorKey(ctx context.Context, tokens store.Tokens) ([]byte, error) {
	rows, _, err := tokens.List(ctx, store.ListOptions{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	h := sha256.New()
	h.Write([]byte("mpegflow list cursor key v1\x00"))
	if len(rows) > 0 {
		h.Write(rows[0].Hash)
	}
	return h.Sum(nil), nil
}

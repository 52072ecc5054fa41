package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mpegflow/mpegflow/internal/store"
)

// pgUniqueViolation is the SQLSTATE of a unique constraint violation.
const pgUniqueViolation = "23505"

// mapErr turns driver errors into the store sentinels: a unique violation
// into store.ErrConflict, no rows into store.ErrNotFound. The driver error
// stays in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgUniqueViolation {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// utc returns t truncated to the microsecond (what timestamptz keeps) in
// UTC.
func utc(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// utcPtr is utc of an optional time.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

// encodeMeta encodes a free JSON object; nil is {}.
func encodeMeta(m map[string]any) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode meta: %w", err)
	}
	return string(b), nil
}

// decodeMeta decodes a JSON object. Numbers decode as json.Number, so that
// integers beyond 2^53 keep every digit.
func decodeMeta(b []byte) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode meta: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// encodeStrings encodes a string list as a JSON array; nil is [].
func encodeStrings(v []string) (string, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeStrings decodes encodeStrings; never nil.
func decodeStrings(b []byte) ([]string, error) {
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode string list: %w", err)
	}
	if v == nil {
		v = []string{}
	}
	return v, nil
}

// fold is the case folding of the name filter; it is stored in name_fold.
// It must stay the same as store/sqlite's.
func fold(s string) string { return strings.ToLower(s) }

// containsPattern returns the LIKE pattern (with ESCAPE '\') matching
// strings that contain s literally.
func containsPattern(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('%')
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('%')
	return b.String()
}

// checkLimit validates ListOptions.Limit.
func checkLimit(limit int) error {
	if limit < 1 || limit > 1000 {
		return fmt.Errorf("limit %d out of range 1..1000", limit)
	}
	return nil
}

// nonNilBytes returns b, or an empty slice when b is nil.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nullBytes returns nil (SQL NULL) for an empty b.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

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

// decodeMeta decodes encodeMeta. Numbers decode as json.Number, so that
// integers beyond 2^53 keep every digit.
func decodeMeta(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
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

// placeholders returns n placeholders separated by commas, for an IN list.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

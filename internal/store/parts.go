package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// EncodeParts encodes a segment's part layout for a text column, compactly
// ([[offset, size, duration_us, independent 0|1], ...]); nil is "" (not
// known). Both stores use it, so the column reads the same in either.
func EncodeParts(ps []SegmentPart) string {
	if ps == nil {
		return ""
	}
	rows := make([][4]int64, len(ps))
	for i, p := range ps {
		ind := int64(0)
		if p.Independent {
			ind = 1
		}
		rows[i] = [4]int64{p.Offset, p.Size, int64(p.Duration / time.Microsecond), ind}
	}
	b, _ := json.Marshal(rows) // integers only: cannot fail
	return string(b)
}

// DecodeParts decodes EncodeParts; "" is nil.
func DecodeParts(s string) ([]SegmentPart, error) {
	if s == "" {
		return nil, nil
	}
	var rows [][4]int64
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, fmt.Errorf("decode segment parts: %w", err)
	}
	ps := make([]SegmentPart, len(rows))
	for i, r := range rows {
		ps[i] = SegmentPart{Offset: r[0], Size: r[1], Duration: time.Duration(r[2]) * time.Microsecond, Independent: r[3] == 1}
	}
	return ps, nil
}

// Package jsontime is the one timestamp format of MpegFlow's API, events
// and webhooks: RFC 3339 (§5.6) in UTC with exactly three fractional digits,
// e.g. "2025-01-02T15:04:05.123Z". Every renderer of a time for clients
// uses Time, so no resource drifts to seconds, microseconds or offsets.
package jsontime

import (
	"fmt"
	"time"
)

// Layout is the format of every timestamp clients see.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// Time is a time.Time that marshals as Layout in UTC (truncated to the
// millisecond) and unmarshals any RFC 3339 time.
type Time time.Time

// Of returns t as a Time.
func Of(t time.Time) Time { return Time(t) }

// Ptr returns t as a *Time; nil stays nil.
func Ptr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	v := Time(*t)
	return &v
}

// Format renders t as Layout in UTC.
func Format(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(Layout) }

// Std returns the time.Time.
func (t Time) Std() time.Time { return time.Time(t) }

// String is Format.
func (t Time) String() string { return Format(time.Time(t)) }

// MarshalJSON renders Format as a JSON string.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(Layout)+2)
	b = append(b, '"')
	b = append(b, Format(time.Time(t))...)
	return append(b, '"'), nil
}

// UnmarshalJSON reads an RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("jsontime: %s is not an RFC 3339 string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return fmt.Errorf("jsontime: %w", err)
	}
	*t = Time(v)
	return nil
}

package jsontime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC), `"2025-01-02T15:04:05.000Z"`},
		{time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.UTC), `"2025-01-02T15:04:05.123Z"`},
		{time.Date(2025, 1, 2, 16, 4, 5, 100000000, berlin), `"2025-01-02T15:04:05.100Z"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Of(tt.in))
		if err != nil || string(b) != tt.want {
			t.Errorf("%v: %s %v, want %s", tt.in, b, err, tt.want)
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil || !back.Std().Equal(tt.in.Truncate(time.Millisecond)) {
			t.Errorf("round trip of %s: %v %v", b, back, err)
		}
	}
	if b, _ := json.Marshal(struct{ T *Time }{Ptr(nil)}); string(b) != `{"T":null}` {
		t.Errorf("nil: %s", b)
	}
	var bad Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Error("accepted a non-RFC 3339 string")
	}
}

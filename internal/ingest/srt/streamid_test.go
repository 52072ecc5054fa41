package srt

import (
	"errors"
	"strings"
	"testing"
)

func TestParseStreamID(t *testing.T) {
	tests := []struct {
		in      string
		key     string
		wantErr error
	}{
		{in: "abc123", key: "abc123"},
		{in: "publish:abc123", key: "abc123"},
		{in: "publish:", key: ""},
		{in: "", key: ""},
		{in: "#!::r=abc123,m=publish", key: "abc123"},
		{in: "#!::m=publish,r=abc123", key: "abc123"},
		{in: "#!::r=abc123", key: "abc123"},
		{in: "#!::u=alice,r=abc123,m=publish,s=xyz,t=stream", key: "abc123"},
		{in: "#!::m=publish", key: ""},
		{in: "#!::", key: ""},
		{in: "%23%21%3A%3Ar%3Dabc123%2Cm%3Dpublish", key: "abc123"},
		{in: "publish%3Aabc123", key: "abc123"},
		// only some characters encoded, as shell examples write it
		{in: "%23!::r=abc123,m=publish", key: "abc123"},
		{in: "%23%21::r=abc123", key: "abc123"},
		{in: "#!::r=abc%5F123,m=publish", key: "abc_123"},
		{in: "%23!::r=abc%zz", key: "abc%zz"},
		{in: "publish%3aabc", key: "abc"},
		// a bare key is never altered
		{in: "key%41", key: "key%41"},
		{in: "abc%20123", key: "abc%20123"}, // bare keys are never decoded
		{in: "#!::r=abc123,m=request", wantErr: ErrNotPublish},
		{in: "#!::r=abc123,m=bidirectional", wantErr: ErrNotPublish},
		{in: "read:abc123", wantErr: ErrNotPublish},
		{in: "request:abc123", wantErr: ErrNotPublish},
		{in: "#!::r=a,r=b", wantErr: ErrBadStreamID},
		{in: "#!::r=a,m=publish,m=publish", wantErr: ErrBadStreamID},
		{in: "#!::r", wantErr: ErrBadStreamID},
		{in: "#!::=x", wantErr: ErrBadStreamID},
		{in: "#!:{r=abc}", wantErr: ErrBadStreamID},
		{in: "abc\x00", wantErr: ErrBadStreamID},
		{in: strings.Repeat("k", 513), wantErr: ErrBadStreamID},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseStreamID(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.Key != tc.key {
				t.Fatalf("key %q, want %q", got.Key, tc.key)
			}
		})
	}
}

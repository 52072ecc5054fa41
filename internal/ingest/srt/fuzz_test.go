package srt

import (
	"errors"
	"strings"
	"testing"
)

// FuzzStreamID: the stream id parser never panics, accepts only what it
// can explain, and a key it returns is a substring of its (decoded) input.
func FuzzStreamID(f *testing.F) {
	for _, s := range []string{"abc", "publish:abc", "#!::r=abc,m=publish", "#!::m=request,r=x", "read:x", "#!::r=a,r=b", "%23%21%3A%3Ar%3Dk", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseStreamID(s)
		if err != nil {
			if !errors.Is(err, ErrBadStreamID) && !errors.Is(err, ErrNotPublish) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if id.Key != "" && !strings.Contains(s, id.Key) && !strings.Contains(decodeEncoded(s), id.Key) {
			t.Fatalf("key %q not in %q", id.Key, s)
		}
		if strings.ContainsAny(id.Key, "\x00\n") {
			t.Fatalf("control character in key %q", id.Key)
		}
	})
}

package playback

import (
	"net/http/httptest"
	"testing"
)

func TestOriginAllowed(t *testing.T) {
	allowed := []string{"https://example.com", "https://*.example.org", "http://localhost:8080"}
	tests := []struct {
		origin string
		want   bool
	}{
		{"https://example.com", true},
		{"HTTPS://Example.COM", true},
		{"https://example.com:443", true},
		{"http://example.com", false},
		{"https://example.com.evil.net", false},
		{"https://a.example.org", true},
		{"https://a.b.example.org", true},
		{"https://example.org", false},
		{"https://evilexample.org", false},
		{"http://a.example.org", false},
		{"http://localhost:8080", true},
		{"http://localhost:8081", false},
		{"", false},
		{"null", false},
	}
	for _, tt := range tests {
		if got := OriginAllowed(tt.origin, allowed); got != tt.want {
			t.Errorf("OriginAllowed(%q) = %v, want %v", tt.origin, got, tt.want)
		}
	}
	if !OriginAllowed("", []string{"*"}) {
		t.Error(`"*" must allow requests without an origin`)
	}
}

func TestRequestOrigin(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Referer", "https://Example.com/page?x=1")
	if got := RequestOrigin(r); got != "https://example.com" {
		t.Fatalf("from Referer: %q", got)
	}
	r.Header.Set("Origin", "https://other.net")
	if got := RequestOrigin(r); got != "https://other.net" {
		t.Fatalf("Origin first: %q", got)
	}
}

// FuzzOriginAllowed: matching never panics, and an origin matches a
// non-wildcard pattern only when they are equal up to case and default
// port.
func FuzzOriginAllowed(f *testing.F) {
	f.Add("https://a.example.org", "https://*.example.org")
	f.Add("https://example.com:443", "https://example.com")
	f.Add("https://x.example.org:8443", "https://*.example.org:8443")
	f.Add("null", "*")
	f.Fuzz(func(t *testing.T, origin, pattern string) {
		got := OriginAllowed(origin, []string{pattern})
		if got && pattern != "*" {
			if _, ok := normOrigin(origin); !ok {
				t.Fatalf("invalid origin %q matched %q", origin, pattern)
			}
		}
	})
}

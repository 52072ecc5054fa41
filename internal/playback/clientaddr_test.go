package playback

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, fwd, want string
		p                            Proxies
	}{
		{"socket peer", "192.0.2.1:5000", "", "", "192.0.2.1", proxies},
		{"untrusted peer's XFF ignored", "192.0.2.1:5000", "203.0.113.9", "", "192.0.2.1", proxies},
		{"no proxies configured", "10.0.0.1:5000", "203.0.113.9", "", "10.0.0.1", Proxies{}},
		{"trusted XFF", "10.0.0.1:5000", "203.0.113.9", "", "203.0.113.9", proxies},
		{"XFF chain skips trusted hops", "10.0.0.1:5000", "198.51.100.1, 203.0.113.9, 10.0.0.2", "", "203.0.113.9", proxies},
		{"XFF spoofed leftmost ignored", "10.0.0.1:5000", "1.1.1.1, 203.0.113.9", "", "203.0.113.9", proxies},
		{"Forwarded preferred", "[::1]:5000", "198.51.100.1", `for=192.0.2.60;proto=http;by=203.0.113.43`, "192.0.2.60", proxies},
		{"Forwarded v6 quoted", "10.0.0.1:1", "", `for="[2001:db8:cafe::17]:4711"`, "2001:db8:cafe::17", proxies},
		{"Forwarded unknown stops", "10.0.0.1:1", "", `for=unknown`, "10.0.0.1", proxies},
		{"Forwarded list", "10.0.0.1:1", "", `for=192.0.2.43, for="10.0.0.9"`, "192.0.2.43", proxies},
		{"garbage XFF", "10.0.0.1:1", "not an ip", "", "10.0.0.1", proxies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.fwd != "" {
				r.Header.Set("Forwarded", tt.fwd)
			}
			if got := tt.p.ClientAddr(r); got != netip.MustParseAddr(tt.want) {
				t.Fatalf("ClientAddr = %v, want %s", got, tt.want)
			}
		})
	}
}

// FuzzForwarded: Forwarded and X-Forwarded-For parsing never panics and
// yields only valid or invalid addresses, at most 64.
func FuzzForwarded(f *testing.F) {
	f.Add(`for=192.0.2.60;proto=http;by=203.0.113.43`)
	f.Add(`for="[2001:db8:cafe::17]:4711", for=unknown`)
	f.Add(`for="\"quoted\";x", for=_hidden`)
	f.Add(`198.51.100.1, 203.0.113.9`)
	f.Fuzz(func(t *testing.T, s string) {
		if n := len(ParseForwarded(s)); n > 64 {
			t.Fatalf("%d hops", n)
		}
		if n := len(ParseXFF(s)); n > 64 {
			t.Fatalf("%d hops", n)
		}
	})
}

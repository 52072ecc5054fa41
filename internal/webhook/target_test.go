package webhook

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/mpegflow/mpegflow/internal/netguard"
)

// fakeResolver answers from a table.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckTarget(t *testing.T) {
	r := fakeResolver{"public.example": {"93.184.216.34"}, "mixed.example": {"93.184.216.34", "10.0.0.1"}, "v6.example": {"fd00::1"}}
	tests := []struct {
		url     string
		private bool
		want    error
	}{
		{"https://public.example/hook", false, nil},
		{"http://public.example:8080/hook?x=1", false, nil},
		{"https://93.184.216.34/", false, nil},
		{"ftp://public.example/", false, ErrInvalidURL},
		{"https://user:pw@public.example/", false, ErrInvalidURL},
		{"https://public.example/#frag", false, ErrInvalidURL},
		{"/relative", false, ErrInvalidURL},
		{"https://public.example:0/", false, ErrInvalidURL},
		{"https://public.example:99999/", false, ErrInvalidURL},
		{"https://nowhere.example/", false, ErrInvalidURL},
		{"http://127.0.0.1:9/", false, ErrForbiddenTarget},
		{"http://[::1]/", false, ErrForbiddenTarget},
		{"http://localhost/", false, ErrForbiddenTarget},
		{"http://169.254.169.254/latest/meta-data", false, ErrForbiddenTarget},
		{"http://10.1.2.3/", false, ErrForbiddenTarget},
		{"http://192.168.1.1/", false, ErrForbiddenTarget},
		{"http://100.64.0.1/", false, ErrForbiddenTarget},
		{"http://224.0.0.1/", false, ErrForbiddenTarget},
		{"http://0.0.0.0/", false, ErrForbiddenTarget},
		{"http://[::ffff:127.0.0.1]/", false, ErrForbiddenTarget},
		{"https://mixed.example/", false, ErrForbiddenTarget},
		{"https://v6.example/", false, ErrForbiddenTarget},
		{"http://[::127.0.0.1]/", false, ErrForbiddenTarget},
		{"http://[2002:7f00:1::]/", false, ErrForbiddenTarget},
		{"http://[64:ff9b::7f00:1]/", false, ErrForbiddenTarget},
		{"http://[fec0::1]/", false, ErrForbiddenTarget},
		{"http://198.18.0.1/", false, ErrForbiddenTarget},
		{"http://240.0.0.1/", false, ErrForbiddenTarget},
		{"http://127.0.0.1:9/", true, nil},
		{"http://localhost/", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckTarget(t.Context(), netguard.New(netguard.Config{Resolver: r, AllowPrivate: tt.private}), tt.url)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CheckTarget = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzCheckTarget: URL validation of untrusted input never panics, and an
// accepted URL is http(s) with a host and no credentials.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{"https://public.example/hook", "http://127.0.0.1:8080/x", "http://[::1]:80/", "https://a@b/", "javascript:alert(1)", "http://%zz/", "http://0x7f.1/"} {
		f.Add(s)
	}
	g := netguard.New(netguard.Config{Resolver: fakeResolver{"public.example": {"93.184.216.34"}}})
	f.Fuzz(func(t *testing.T, raw string) {
		err := CheckTarget(context.Background(), g, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) && !errors.Is(err, ErrForbiddenTarget) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		u, err := ParseURL(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && netguard.Special(a) {
			t.Fatalf("accepted forbidden %q", raw)
		}
	})
}

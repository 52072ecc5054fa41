package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestSpecial(t *testing.T) {
	bad := []string{
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "0.1.2.3",
		"192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1",
		"239.255.255.250", "240.0.0.1", "255.255.255.255", "192.88.99.1", "192.31.196.1", "192.52.193.1", "192.175.48.1",
		"::", "::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:7f00:1", "64:ff9b::7f00:1",
		"64:ff9b::8.8.8.8", "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:0808:0808::1", "fec0::1", "fc00::1", "fd12:3456::1",
		"fe80::1", "ff02::1", "100::1", "2001::1", "2001:db8::1", "2001:2::1", "3fff::1", "5f00::1", "2620:4f:8000::1",
	}
	good := []string{"8.8.8.8", "1.1.1.1", "93.184.215.14", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::1"}
	for _, s := range bad {
		if !Special(netip.MustParseAddr(s)) {
			t.Errorf("%s not refused", s)
		}
	}
	for _, s := range good {
		if Special(netip.MustParseAddr(s)) {
			t.Errorf("%s refused", s)
		}
	}
	if !Special(netip.Addr{}) || !Special(netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("invalid or zoned address allowed")
	}
}

func TestGuardRefusesOwnAddresses(t *testing.T) {
	g := New(Config{InterfaceAddrs: func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("8.8.4.4"), Mask: net.CIDRMask(24, 32)}}, nil
	}})
	if err := g.Check(netip.MustParseAddr("8.8.4.4")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("own address: %v", err)
	}
	if err := g.Check(netip.MustParseAddr("::ffff:8.8.4.4")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("own address, mapped: %v", err)
	}
	if err := g.Check(netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Fatal(err)
	}
	if err := New(Config{AllowPrivate: true}).Check(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	g := New(Config{Resolver: fakeResolver{
		"public.example":  {netip.MustParseAddr("93.184.215.14")},
		"rebind.example":  {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.1")},
		"nat64.example":   {netip.MustParseAddr("64:ff9b::a9fe:a9fe")},
		"hookhost.intern": {netip.MustParseAddr("10.0.0.9")},
	}, TrustedHosts: []string{"hookhost.intern"}})
	for raw, ok := range map[string]bool{
		"https://public.example/x": true, "https://rebind.example/": false, "http://nat64.example/": false,
		"http://localhost:8080/": false, "http://a.localhost/": false, "http://[::127.0.0.1]/": false,
		"http://198.18.0.1/": false, "http://8.8.8.8/": true, "http://hookhost.intern/": true,
	} {
		if err := g.CheckURL(t.Context(), raw); (err == nil) != ok {
			t.Errorf("CheckURL(%s) = %v", raw, err)
		}
	}
}

// The dial-time check refuses loopback, which a redirect from an allowed
// host could point at; the allow-private switch lets it through.
func TestDialRefusesAtConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	c := &http.Client{Transport: New(Config{}).Transport()}
	if _, err := c.Get(srv.URL); !errors.Is(err, ErrForbidden) {
		t.Fatalf("loopback dial: %v", err)
	}
	c = &http.Client{Transport: New(Config{AllowPrivate: true}).Transport()}
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// a trusted host is dialed unchecked
	c = &http.Client{Transport: New(Config{TrustedHosts: []string{"127.0.0.1"}}).Transport()}
	res, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

// FuzzSpecial: the classifier never panics, is stable across the textual
// forms of one address, and judges an IPv4-mapped address as its IPv4.
func FuzzSpecial(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::1.2.3.4", "fec0::1", "8.8.8.8", "2606:4700::1", "fe80::1%lo"} {
		a := netip.MustParseAddr(s)
		b, _ := a.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a netip.Addr
		if err := a.UnmarshalBinary(b); err != nil {
			return
		}
		got := Special(a)
		if a.IsValid() {
			if p, err := netip.ParseAddr(a.String()); err == nil && Special(p) != got {
				t.Fatalf("%s: text form judged differently", a)
			}
			if a.Is4() && Special(netip.AddrFrom16(a.As16())) != got {
				t.Fatalf("%s: mapped form judged differently", a)
			}
			if !got && (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified()) {
				t.Fatalf("%s allowed", a)
			}
		}
	})
}

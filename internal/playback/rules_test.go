package playback

import (
	"errors"
	"net/netip"
	"testing"
)

func TestEvaluate(t *testing.T) {
	geo, err := OpenGeoIPBytes(testGeoDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	var noDB *GeoIP
	tests := []struct {
		name    string
		rules   string
		addr    string
		geo     *GeoIP
		want    bool
		wantErr bool
	}{
		{"no rules allow", `[]`, "1.2.3.4", geo, true, false},
		{"ip block", `[{"type":"ip.src","action":"block","ip":["127.0.0.0/8"]}]`, "127.0.0.1", geo, false, false},
		{"ip block other", `[{"type":"ip.src","action":"block","ip":["127.0.0.0/8"]}]`, "10.0.0.1", geo, true, false},
		{"ip allow then any block", `[{"type":"ip.src","action":"allow","ip":["10.0.0.0/8","2001:db8::/32"]},{"type":"any","action":"block"}]`, "2001:db8::1", geo, true, false},
		{"ip allow then any block, outside", `[{"type":"ip.src","action":"allow","ip":["10.0.0.0/8"]},{"type":"any","action":"block"}]`, "192.0.2.1", geo, false, false},
		{"v4-mapped v6 client", `[{"type":"ip.src","action":"block","ip":["192.0.2.7"]}]`, "::ffff:192.0.2.7", geo, false, false},
		{"country allow US", `[{"type":"ip.geoip.country","action":"allow","country":["US"]},{"type":"any","action":"block"}]`, "10.1.2.3", geo, true, false},
		{"country allow US, DE client", `[{"type":"ip.geoip.country","action":"allow","country":["us"]},{"type":"any","action":"block"}]`, "10.2.2.3", geo, false, false},
		{"country block FR loopback", `[{"type":"ip.geoip.country","action":"block","country":["FR"]}]`, "127.0.0.1", geo, false, false},
		{"country not in db", `[{"type":"ip.geoip.country","action":"block","country":["US"]}]`, "192.0.2.1", geo, true, false},
		{"country without db fails closed", `[{"type":"ip.geoip.country","action":"allow","country":["US"]}]`, "10.1.2.3", noDB, false, true},
		{"first match wins", `[{"type":"any","action":"allow"},{"type":"any","action":"block"}]`, "1.1.1.1", geo, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseRules([]byte(tt.rules))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Evaluate(rules, netip.MustParseAddr(tt.addr), tt.geo.Country)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Evaluate = %v, %v; want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoCountry) {
				t.Fatalf("error %v is not ErrNoCountry", err)
			}
		})
	}
}

func TestParseRulesInvalid(t *testing.T) {
	for _, s := range []string{
		`{}`, `[{"type":"ip.src","action":"allow"}]`, `[{"type":"ip.src","action":"allow","ip":["nope"]}]`,
		`[{"type":"any","action":"maybe"}]`, `[{"type":"asn","action":"allow"}]`,
		`[{"type":"ip.geoip.country","action":"allow","country":["USA"]}]`,
		`[{"type":"ip.geoip.country","action":"allow","country":["1A"]}]`,
		`[` + repeatRule(11) + `]`,
	} {
		if _, err := ParseRules([]byte(s)); err == nil {
			t.Errorf("ParseRules(%s) accepted", s)
		}
	}
}

func repeatRule(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += ","
		}
		s += `{"type":"any","action":"allow"}`
	}
	return s
}

// FuzzRules: any rule JSON parses or fails; parsed rules evaluate without
// panicking against any address, with and without a database.
func FuzzRules(f *testing.F) {
	f.Add([]byte(`[{"type":"ip.src","action":"allow","ip":["10.0.0.0/8"]},{"type":"any","action":"block"}]`), []byte{10, 1, 2, 3})
	f.Add([]byte(`[{"type":"ip.geoip.country","action":"block","country":["US"]}]`), []byte{127, 0, 0, 1})
	f.Add([]byte(`[{"type":"ip.src","action":"block","ip":["2001:db8::/32"]}]`), make([]byte, 16))
	f.Fuzz(func(t *testing.T, rulesJSON, ip []byte) {
		rules, err := ParseRules(rulesJSON)
		if err != nil {
			return
		}
		if len(rules) > MaxRules {
			t.Fatalf("%d rules accepted", len(rules))
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		var noDB *GeoIP
		_, _ = Evaluate(rules, addr, noDB.Country)
		_, _ = Evaluate(rules, addr, func(netip.Addr) (string, error) { return "US", nil })
	})
}

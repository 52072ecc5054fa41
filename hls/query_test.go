package hls

import (
	"strings"
	"testing"
)

func TestParseDirectives(t *testing.T) {
	for _, tc := range []struct {
		in    string
		msn   int64
		part  int64
		skip  skipMode
		carry string
		err   bool
	}{
		{"", -1, -1, skipNone, "", false},
		{"_HLS_msn=5", 5, -1, skipNone, "", false},
		{"_HLS_msn=5&_HLS_part=2", 5, 2, skipNone, "", false},
		{"token=abc&_HLS_msn=5&x=1", 5, -1, skipNone, "token=abc&x=1", false},
		{"_HLS_skip=YES", -1, -1, skipYes, "", false},
		{"_HLS_skip=v2&t=1", -1, -1, skipV2, "t=1", false},
		{"_HLS_skip=no", 0, 0, 0, "", true},
		{"_HLS_part=1", 0, 0, 0, "", true},
		{"_HLS_msn=-1", 0, 0, 0, "", true},
		{"_HLS_msn=+1", 0, 0, 0, "", true},
		{"_HLS_msn=1&_HLS_msn=2", 0, 0, 0, "", true},
		{"_HLS_msn=99999999999999999999999", 0, 0, 0, "", true},
		{"_HLS_other=1&a=b", -1, -1, skipNone, "a=b", false},
		{"%5FHLS_msn=3", 3, -1, skipNone, "", false},
		{`t="x`, -1, -1, skipNone, "t=%22x", false},
	} {
		d, err := parseDirectives(tc.in)
		if (err != nil) != tc.err {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if tc.err {
			continue
		}
		if d.msn != tc.msn || d.part != tc.part || d.skip != tc.skip || d.carry != tc.carry {
			t.Fatalf("%q: got %+v", tc.in, d)
		}
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{"", "_HLS_msn=5&_HLS_part=2", "token=a&_HLS_skip=YES", "_HLS_skip=v2", "%5FHLS_msn=1", "a=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDirectives(s)
		if err != nil {
			return
		}
		if d.part >= 0 && d.msn < 0 {
			t.Fatal("part without msn accepted")
		}
		if strings.ContainsAny(d.carry, "\"\r\n ") {
			t.Fatalf("unsafe carry %q", d.carry)
		}
		for _, kv := range strings.Split(d.carry, "&") {
			if strings.HasPrefix(kv, "_HLS_") {
				t.Fatalf("directive carried: %q", d.carry)
			}
		}
	})
}

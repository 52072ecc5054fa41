package ids

import (
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	a, b := New("li", t0), New("li", t0.Add(time.Millisecond))
	if !Valid("li", a) || !Valid("li", b) || a == New("li", t0) {
		t.Fatalf("ids %q %q", a, b)
	}
	if a >= b {
		t.Fatalf("ids do not sort by time: %q >= %q", a, b)
	}
	if len(a) != len("li_")+Len || strings.ToLower(a) != a {
		t.Fatalf("shape of %q", a)
	}
}

func TestDerived(t *testing.T) {
	a := Derived("evt", "evt_x", "whk_y", "node")
	if !Valid("evt", a) || a != Derived("evt", "evt_x", "whk_y", "node") || a == Derived("evt", "evt_x", "whk_ynode") {
		t.Fatalf("derived %q", a)
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		prefix, s string
		ok        bool
	}{
		{"li", "li_01hv7c4k3p5q6r7s8t9v0w1x2y", true},
		{"li", "li_01hv7c4k3p5q6r7s8t9v0w1x2", false},   // 25
		{"li", "li_01hv7c4k3p5q6r7s8t9v0w1x2yz", false}, // 27
		{"li", "li_01hv7c4k3p5q6r7s8t9v0w1x2u", false},  // u is not in the alphabet
		{"li", "li_01HV7C4K3P5Q6R7S8T9V0W1X2Y", false},  // upper case
		{"vid", "li_01hv7c4k3p5q6r7s8t9v0w1x2y", false},
		{"li", "demo", false},
	} {
		if Valid(tc.prefix, tc.s) != tc.ok {
			t.Errorf("Valid(%q, %q) != %v", tc.prefix, tc.s, tc.ok)
		}
	}
}

package rtmp

import (
	"os"
	"testing"

	"github.com/mpegflow/mpegflow/internal/stream"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkHEVC(t *testing.T, c stream.Codec, units []*stream.Unit) {
	t.Helper()
	h, ok := c.(stream.H265)
	if !ok {
		t.Fatalf("codec = %#v, want H265", c)
	}
	if h.VPS[0]>>1&0x3f != 32 || h.SPS[0]>>1&0x3f != 33 || h.PPS[0]>>1&0x3f != 34 {
		t.Fatalf("parameter sets have wrong NAL unit types")
	}
	keys := 0
	for _, u := range units {
		if len(u.NALUs) == 0 {
			t.Fatal("unit without NAL units")
		}
		if u.Key {
			keys++
		}
	}
	if len(units) < 50 || keys < 2 {
		t.Fatalf("units %d keys %d, want >= 50 and >= 2", len(units), keys)
	}
	t.Logf("HEVC units %d keys %d", len(units), keys)
}

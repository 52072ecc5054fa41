package audio

import "testing"

func TestOpusSamples(t *testing.T) {
	for _, tt := range []struct {
		p    []byte
		want int
	}{
		{[]byte{0xfc}, 960},            // CELT FB 20 ms, 1 frame
		{[]byte{0x78 | 1}, 1920},       // hybrid 20 ms, 2 frames
		{[]byte{0x08 | 3, 3}, 3 * 960}, // SILK 20 ms, 3 frames
		{[]byte{0x18 | 3, 0x3f}, 0},    // 63 × 60 ms: invalid
		{nil, 0},
	} {
		if got := opusSamples(tt.p); got != tt.want {
			t.Errorf("opusSamples(%x) = %d, want %d", tt.p, got, tt.want)
		}
	}
}

func TestOggPage(t *testing.T) {
	w := newOggOpusWriter(1)
	h := w.headers(2)
	// CRC of the first page must make the whole-page CRC check out
	// (computed with the CRC field zeroed).
	first := h[:27+1+19]
	crc := uint32(first[22]) | uint32(first[23])<<8 | uint32(first[24])<<16 | uint32(first[25])<<24
	c := append([]byte(nil), first...)
	c[22], c[23], c[24], c[25] = 0, 0, 0, 0
	if got := w.crc.sum(c); got != crc || crc == 0 {
		t.Fatalf("crc %08x, want %08x", got, crc)
	}
	if _, err := w.page(make([]byte, 255*255), 0, 0); err == nil {
		t.Fatal("oversized packet accepted")
	}
	p, _ := w.page(make([]byte, 510), 960, 0)
	if p[26] != 3 || p[27] != 255 || p[28] != 255 || p[29] != 0 {
		t.Fatalf("lacing %v", p[26:30])
	}
}

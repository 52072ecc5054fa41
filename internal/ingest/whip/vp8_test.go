package whip

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp/codecs"
)

// vp8TestKeyFrame is a synthetic VP8 key frame of w x h: a frame tag with
// P=0, the start code and the size, then filler.
func vp8TestKeyFrame(w, h, n int) []byte {
	f := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)}
	for i := len(f); i < n; i++ {
		f = append(f, byte(i))
	}
	return f
}

func vp8TestInterFrame(n int) []byte {
	f := make([]byte, n)
	f[0] = 0x01 // P=1
	for i := 1; i < n; i++ {
		f[i] = byte(i * 7)
	}
	return f
}

func TestVP8DepacketizeRoundTrip(t *testing.T) {
	for _, pictureID := range []bool{false, true} {
		p := &codecs.VP8Payloader{EnablePictureID: pictureID}
		d := &vp8Depacketizer{}
		frames := [][]byte{vp8TestKeyFrame(640, 360, 3000), vp8TestInterFrame(900), vp8TestInterFrame(40)}
		for i, f := range frames {
			pkts := p.Payload(500, f)
			if len(pkts) < 1 {
				t.Fatal("no packets")
			}
			var got []*accessUnit
			for j, pl := range pkts {
				aus, err := d.push(pl, uint32(i*3000), j == len(pkts)-1)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, aus...)
			}
			if len(got) != 1 || !bytes.Equal(got[0].NALUs[0], f) || got[0].TS != uint32(i*3000) || got[0].Key != (i == 0) {
				t.Fatalf("picture id %v frame %d: got %d units", pictureID, i, len(got))
			}
		}
	}
}

func TestVP8DepacketizeLoss(t *testing.T) {
	p := &codecs.VP8Payloader{EnablePictureID: true}
	d := &vp8Depacketizer{}
	pkts := p.Payload(300, vp8TestKeyFrame(320, 240, 1000))
	if len(pkts) < 3 {
		t.Fatalf("%d packets", len(pkts))
	}
	if _, err := d.push(pkts[0], 1, false); err != nil {
		t.Fatal(err)
	}
	d.reset() // a gap
	if _, err := d.push(pkts[2], 1, false); !errors.Is(err, errFragment) {
		t.Fatalf("middle packet after loss: err %v", err)
	}
	// a new frame starts cleanly
	next := p.Payload(1200, vp8TestInterFrame(100))
	aus, err := d.push(next[0], 2, true)
	if err != nil || len(aus) != 1 || aus[0].Key {
		t.Fatalf("aus %v err %v", aus, err)
	}
	// a frame whose marker was lost is emitted when the timestamp moves on
	if _, err := d.push(next[0], 3, false); err != nil {
		t.Fatal(err)
	}
	aus, err = d.push(next[0], 4, true)
	if err != nil || len(aus) != 2 || aus[0].TS != 3 || aus[1].TS != 4 {
		t.Fatalf("aus %d err %v", len(aus), err)
	}
}

func TestVP8Descriptor(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		size  int
		start bool
		err   bool
	}{
		{"minimal start", []byte{0x10, 0xaa}, 1, true, false},
		{"extended 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x02, 0xaa}, 4, true, false},
		{"extended 7-bit picture id, tl0, tid", []byte{0x80, 0xe0, 0x05, 0x01, 0x40, 0xaa}, 5, false, false},
		{"empty", nil, 0, false, true},
		{"x without ext byte", []byte{0x80}, 0, false, true},
		{"picture id truncated", []byte{0x80, 0x80}, 0, false, true},
		{"15-bit picture id truncated", []byte{0x80, 0x80, 0x80}, 0, false, true},
		{"tl0 truncated", []byte{0x80, 0x40}, 0, false, true},
	}
	for _, tt := range tests {
		d, err := parseVP8Descriptor(tt.in)
		if (err != nil) != tt.err {
			t.Fatalf("%s: err %v", tt.name, err)
		}
		if err == nil && (d.size != tt.size || d.start != tt.start) {
			t.Fatalf("%s: %+v", tt.name, d)
		}
	}
}

func TestVP8KeyFrame(t *testing.T) {
	if key, w, h := vp8KeyFrame(vp8TestKeyFrame(1280, 720, 20)); !key || w != 1280 || h != 720 {
		t.Fatalf("key %v %dx%d", key, w, h)
	}
	if key, _, _ := vp8KeyFrame(vp8TestInterFrame(20)); key {
		t.Fatal("inter frame taken for a key frame")
	}
	bad := vp8TestKeyFrame(16, 16, 20)
	bad[4] = 0
	if key, _, _ := vp8KeyFrame(bad); key {
		t.Fatal("key frame without start code accepted")
	}
	if key, _, _ := vp8KeyFrame([]byte{0}); key {
		t.Fatal("short frame accepted")
	}
}

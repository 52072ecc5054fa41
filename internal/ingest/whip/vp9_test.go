package whip

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// vp9Key is the start of a VP9 profile 0 key frame of 320x240: frame
// marker 2, profile 0, show_existing 0, KEY_FRAME, show_frame 1,
// error_resilient 0, sync code 49 83 42, color space BT.601 (1), limited
// range, width-1 = 319, height-1 = 239.
var vp9Key = []byte{0x82, 0x49, 0x83, 0x42, 0x20, 0x13, 0xf0, 0x0e, 0xf0, 0x00, 0xaa, 0xbb}

func TestVP9KeyFrame(t *testing.T) {
	key, w, h := vp9KeyFrame(vp9Key)
	if !key || w != 320 || h != 240 {
		t.Fatalf("key %v %dx%d, want key 320x240", key, w, h)
	}
	inter := []byte{0x86, 0x00, 0x00} // frame_type 1
	if key, _, _ := vp9KeyFrame(inter); key {
		t.Fatal("inter frame taken for a key frame")
	}
	if key, _, _ := vp9KeyFrame(vp9Key[:6]); key {
		t.Fatal("truncated key frame accepted")
	}
}

func TestParseVP9Descriptor(t *testing.T) {
	tests := []struct {
		name  string
		p     []byte
		size  int
		begin bool
		end   bool
		inter bool
		sid   int
		bad   bool
	}{
		{"minimal B E", []byte{0x0c, 1}, 1, true, true, false, 0, false},
		{"picture id 15 bits, non-flexible layers", []byte{0xa8, 0x80, 0x01, 0x02, 0x07, 1}, 5, true, false, false, 1, false},
		{"flexible, inter, two p_diff", []byte{0xd4, 0x05, 0x03, 0x02, 1}, 4, false, true, true, 0, false},
		{"flexible, p_diff never ends", []byte{0x50, 0x03, 0x03, 0x03, 0x03}, 0, false, false, true, 0, true},
		{"ss with sizes and one picture group", []byte{0x8a, 0x01, 0x18, 0x01, 0x40, 0x00, 0xf0, 0x01, 0x04, 0x01, 0xaa}, 10, true, false, false, 0, false},
		{"ss truncated", []byte{0x0a, 0x18, 0x01}, 0, false, false, false, 0, true},
		{"empty", nil, 0, false, false, false, 0, true},
		{"picture id truncated", []byte{0x80}, 0, false, false, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseVP9Descriptor(tt.p)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.size != tt.size || d.begin != tt.begin || d.end != tt.end || d.inter != tt.inter || d.sid != tt.sid {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

func TestVP9Depacketizer(t *testing.T) {
	var d vp9Depacketizer
	// a key frame in two packets, then an inter frame in one
	aus, err := d.push(append([]byte{0x08}, vp9Key[:5]...), 100, false)
	if err != nil || len(aus) != 0 {
		t.Fatalf("first packet: %v %v", aus, err)
	}
	aus, err = d.push(append([]byte{0x04}, vp9Key[5:]...), 100, true)
	if err != nil || len(aus) != 1 || !aus[0].Key || !bytes.Equal(aus[0].NALUs[0], vp9Key) || aus[0].TS != 100 {
		t.Fatalf("key picture: %+v %v", aus, err)
	}
	aus, err = d.push([]byte{0x4c, 0x86, 0, 0}, 200, true)
	if err != nil || len(aus) != 1 || aus[0].Key {
		t.Fatalf("inter picture: %+v %v", aus, err)
	}
	// a middle packet without its start is dropped
	if _, err := d.push([]byte{0x04, 1, 2}, 300, true); err == nil {
		t.Fatal("fragment without start accepted")
	}
	// two spatial layers of one picture become a superframe
	l0 := append([]byte(nil), vp9Key...)
	l1 := []byte{0x86, 0x01, 0x02}
	if aus, _ := d.push(append([]byte{0x2c, 0x00, 0x00}, l0...), 400, false); len(aus) != 0 {
		t.Fatal("picture ended before its marker")
	}
	aus, err = d.push(append([]byte{0x6c, 0x02, 0x00}, l1...), 400, true)
	if err != nil || len(aus) != 1 || !aus[0].Key {
		t.Fatalf("layered picture: %+v %v", aus, err)
	}
	sf := aus[0].NALUs[0]
	want := append(append(append([]byte(nil), l0...), l1...), 0xc1, byte(len(l0)), byte(len(l1)), 0xc1)
	if !bytes.Equal(sf, want) {
		t.Fatalf("superframe % x, want % x", sf, want)
	}
	// a picture whose marker was lost ends at the next timestamp
	d.push([]byte{0x0c, 0x86, 0, 0}, 500, false)
	aus, _ = d.push([]byte{0x0c, 0x86, 0, 1}, 600, true)
	if len(aus) != 2 || aus[0].TS != 500 || aus[1].TS != 600 {
		t.Fatalf("marker lost: %+v", aus)
	}
}

// FuzzVP9Depacketize feeds arbitrary RTP payloads (split at 0xff 0xfe 0xfd
// markers) through the reorder buffer and the VP9 depacketizer, and
// arbitrary frames through the key frame parser.
func FuzzVP9Depacketize(f *testing.F) {
	f.Add(append(append([]byte{0x08}, vp9Key[:5]...), append([]byte{0xff, 0xfe, 0xfd, 0x04}, vp9Key[5:]...)...))
	f.Add([]byte{0xa8, 0x80, 0x01, 0x02, 0x07, 0x82, 0x49, 0xff, 0xfe, 0xfd, 0xd4, 0x05, 0x03, 0x02, 1})
	f.Add([]byte{0x8a, 0x01, 0x18, 0x01, 0x40, 0x00, 0xf0, 0x01, 0x04, 0x01, 0xaa, 0xff, 0xfe, 0xfd, 0x6c, 0x02, 0x00, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if key, w, h := vp9KeyFrame(data); key && (w <= 0 || h <= 0) {
			t.Fatal("key frame without a size")
		}
		d := &vp9Depacketizer{}
		b := newReorderBuffer(time.Millisecond)
		now := time.Unix(0, 0)
		seq := uint16(0)
		for i, payload := range splitFuzz(data) {
			seq += uint16(1 + i%3)
			p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(i / 3), Marker: i%2 == 1}, Payload: payload}
			now = now.Add(time.Millisecond)
			for _, o := range b.push(p, now) {
				if o.Lost {
					d.reset()
				}
				aus, _ := d.push(o.P.Payload, o.P.Timestamp, o.P.Marker)
				for _, au := range aus {
					if au == nil || len(au.NALUs) != 1 || len(au.NALUs[0]) == 0 {
						t.Fatalf("bad unit %+v", au)
					}
					if len(au.NALUs[0]) > maxAccessUnitSize+64 {
						t.Fatal("unit larger than the limit")
					}
				}
			}
		}
	})
}

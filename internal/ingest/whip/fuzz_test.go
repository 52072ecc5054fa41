package whip

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzOffer feeds arbitrary SDP text to the offer validation and codec
// selection; it must never panic and must return a plan or an error.
func FuzzOffer(f *testing.F) {
	f.Add(minimalOffer)
	f.Add(vp8Offer)
	f.Fuzz(func(t *testing.T, s string) {
		for _, vp8 := range []bool{false, true} {
			plan, err := parseOffer(s, vp8)
			if err == nil && plan.Video == nil && plan.Audio == nil {
				t.Fatal("no error and no codec")
			}
			if err == nil && !vp8 && plan.Video != nil && (plan.Video.Mime == mimeVP8 || plan.Video.Mime == mimeVP9) {
				t.Fatal("vp8/vp9 chosen while not allowed")
			}
		}
	})
}

// FuzzDepacketize feeds arbitrary RTP payloads (split at 0xff 0xfe 0xfd
// markers) through the reorder buffer and the H.264, H.265, AV1 and VP8
// depacketizers.
func FuzzDepacketize(f *testing.F) {
	f.Add(byte(0), []byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce, 0xff, 0xfe, 0xfd, 0x7c, 0x85, 1, 0xff, 0xfe, 0xfd, 0x7c, 0x45, 2})
	f.Add(byte(1), []byte{0x62, 0x01, 0x93, 1, 0xff, 0xfe, 0xfd, 0x62, 0x01, 0x53, 2})
	f.Add(byte(2), []byte{0x18, 0x0a, 0x0b, 0, 0, 0, 0x24, 0x4f, 0x7e, 0x7f, 0, 0x68, 0x83})
	f.Add(byte(3), []byte{0x90, 0x80, 0x81, 0x02, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0xff, 0xfe, 0xfd, 0x80, 0x80, 0x81, 0x02, 0x55})
	f.Add(byte(3), []byte{0x80, 0xe0, 0x05, 0x01, 0x40, 0xaa, 0xff, 0xfe, 0xfd, 0x10, 0x01, 0xff, 0xfe, 0xfd, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		var d videoDepacketizer
		switch codec % 4 {
		case 3:
			d = &vp8Depacketizer{}
		case 0:
			d = newNALDepacketizer(codecH264)
		case 1:
			d = newNALDepacketizer(codecH265)
		default:
			d = &av1Depacketizer{}
		}
		b := newReorderBuffer(time.Millisecond)
		now := time.Unix(0, 0)
		seq := uint16(0)
		for i, payload := range splitFuzz(data) {
			seq += uint16(1 + i%3) // some gaps and reordering
			p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(i / 3), Marker: i%2 == 1}, Payload: payload}
			now = now.Add(time.Millisecond)
			for _, o := range b.push(p, now) {
				if o.Lost {
					d.reset()
				}
				aus, _ := d.push(o.P.Payload, o.P.Timestamp, o.P.Marker)
				for _, au := range aus {
					if au == nil {
						t.Fatal("nil access unit")
					}
					if codec%4 == 3 {
						if len(au.NALUs) != 1 {
							t.Fatal("vp8 unit is not one frame")
						}
						if key, w, h := vp8KeyFrame(au.NALUs[0]); key && (w < 0 || h < 0) {
							t.Fatal("negative vp8 size")
						}
					}
					for _, n := range au.NALUs {
						if len(n) == 0 {
							t.Fatal("empty nal unit in access unit")
						}
					}
				}
			}
		}
	})
}

func splitFuzz(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0xff && b[i+1] == 0xfe && b[i+2] == 0xfd {
			out = append(out, b[start:i])
			start = i + 3
			i += 2
		}
	}
	return append(out, b[start:])
}

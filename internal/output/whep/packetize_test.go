package whep

import (
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

func TestPacketizeH264(t *testing.T) {
	p := newPacketizer(stream.H264{SPS: []byte{0x67, 0x42, 0xc0, 0x1f}, PPS: []byte{0x68, 0xce}})
	big := make([]byte, 5000)
	big[0] = 0x65
	pk := p.packetize(&stream.Unit{PTS: time.Second, Key: true, NALUs: [][]byte{{0x09, 0xf0}, big}})
	if len(pk) < 5 {
		t.Fatalf("%d packets for a 5000-byte IDR", len(pk))
	}
	if pk[0].Payload[0]&0x1f != 24 {
		t.Fatalf("first packet type %d, want STAP-A with SPS and PPS", pk[0].Payload[0]&0x1f)
	}
	for i, x := range pk {
		if x.Marker != (i == len(pk)-1) || x.Timestamp != 90000 || len(x.Payload) > mtu {
			t.Fatalf("packet %d: marker %v ts %d size %d", i, x.Marker, x.Timestamp, len(x.Payload))
		}
		if i > 0 && x.SequenceNumber != pk[i-1].SequenceNumber+1 {
			t.Fatal("sequence numbers not consecutive")
		}
	}
	next := p.packetize(&stream.Unit{PTS: time.Second + time.Second/30, NALUs: [][]byte{{0x41, 1}}})
	if next[0].Timestamp != 93000 {
		t.Fatalf("ts %d, want 93000", next[0].Timestamp)
	}
	// a reconnect restarts PTS at 0: the timeline continues one frame on
	re := p.packetize(&stream.Unit{PTS: 0, Key: true, Discontinuity: true, NALUs: [][]byte{{0x65, 1}}})
	if re[0].Timestamp != 96000 {
		t.Fatalf("ts after a discontinuity %d, want 96000", re[0].Timestamp)
	}
	if got := p.packetize(&stream.Unit{PTS: time.Second / 30, NALUs: [][]byte{{0x41, 1}}}); got[0].Timestamp != 99000 {
		t.Fatalf("ts %d, want 99000", got[0].Timestamp)
	}
}

func TestPacketizeOpus(t *testing.T) {
	p := newPacketizer(stream.Opus{ChannelCount: 2})
	a := p.packetize(&stream.Unit{PTS: 20 * time.Millisecond, Data: []byte{1, 2, 3}})
	if len(a) != 1 || a[0].Timestamp != 960 || a[0].Marker {
		t.Fatalf("opus packet %+v", a[0].Header)
	}
	if p.packetize(&stream.Unit{PTS: time.Second}) != nil {
		t.Fatal("empty unit packetized")
	}
}

func TestSPSBFrames(t *testing.T) {
	for _, tc := range []struct {
		name          string
		sps           []byte
		bframes, know bool
	}{
		// x264 baseline 320x240 (profile_idc 66)
		{"baseline", []byte{0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x20}, false, true},
		{"garbage", []byte{0x67, 0xff}, false, false},
		{"not h264", nil, false, false},
	} {
		var c stream.Codec = stream.H264{SPS: tc.sps}
		if tc.sps == nil {
			c = stream.Opus{}
		}
		if b, k := spsBFrames(c); b != tc.bframes || k != tc.know {
			t.Errorf("%s: bframes %v known %v", tc.name, b, k)
		}
	}
}

package whip

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
)

type pkt struct {
	payload []byte
	ts      uint32
	marker  bool
}

func TestNALDepacketizer(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xe0, 0x1f}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	idr := []byte{0x65, 0x88, 1, 2, 3, 4, 5, 6}
	slice := []byte{0x41, 0x9a, 7, 8}
	stapA := append([]byte{0x78, 0, 4}, sps...)
	stapA = append(append(stapA, 0, 4), pps...)
	tests := []struct {
		name  string
		codec nalCodec
		pkts  []pkt
		want  [][][]byte // access units
		keys  []bool
		errs  int
	}{
		{"single nal with marker", codecH264, []pkt{{slice, 1, true}}, [][][]byte{{slice}}, []bool{false}, 0},
		{"stap-a then fu-a idr", codecH264, []pkt{
			{stapA, 10, false},
			{[]byte{0x7c, 0x85, 0x88, 1, 2}, 10, false},
			{[]byte{0x7c, 0x05, 3, 4}, 10, false},
			{[]byte{0x7c, 0x45, 5, 6}, 10, true},
		}, [][][]byte{{sps, pps, idr}}, []bool{true}, 0},
		// without markers the decoder returns a unit when the next
		// timestamp arrives, and holds that packet's data
		{"timestamp change ends a unit without marker", codecH264, []pkt{
			{slice, 1, false}, {slice, 2, true}, {slice, 3, true},
		}, [][][]byte{{slice}, {slice}}, []bool{false, false}, 0},
		{"fu-a without start", codecH264, []pkt{{[]byte{0x7c, 0x45, 5, 6}, 1, true}, {slice, 2, true}}, [][][]byte{{slice}}, []bool{false}, 1},
		// RFC 6184 §5.8 forbids it; the decoder takes it as a whole NAL unit
		{"fu-a start and end in one", codecH264, []pkt{{[]byte{0x7c, 0xc5, 5, 6}, 1, true}}, [][][]byte{{{0x65, 5, 6}}}, []bool{true}, 0},
		{"stap-a bad size", codecH264, []pkt{{[]byte{0x78, 0, 9, 1}, 1, true}}, nil, nil, 1},
		{"unsupported mtap", codecH264, []pkt{{[]byte{0x7a, 0, 0}, 1, true}}, nil, nil, 1},
		{"empty payload", codecH264, []pkt{{nil, 1, true}}, nil, nil, 1},
		{"h265 fu idr", codecH265, []pkt{
			{[]byte{0x62, 0x01, 0x93, 0xaf, 1}, 5, false},
			{[]byte{0x62, 0x01, 0x53, 2}, 5, true},
		}, [][][]byte{{{0x26, 0x01, 0xaf, 1, 2}}}, []bool{true}, 0},
		{"h265 ap", codecH265, []pkt{{[]byte{0x60, 0x01, 0, 3, 0x40, 0x01, 9, 0, 3, 0x42, 0x01, 8}, 5, true}},
			[][][]byte{{{0x40, 0x01, 9}, {0x42, 0x01, 8}}}, []bool{false}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newNALDepacketizer(tt.codec)
			var got []*accessUnit
			errs := 0
			for _, p := range tt.pkts {
				aus, err := d.push(p.payload, p.ts, p.marker)
				if err != nil {
					errs++
				}
				got = append(got, aus...)
			}
			if errs != tt.errs {
				t.Errorf("errors %d, want %d", errs, tt.errs)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d access units, want %d", len(got), len(tt.want))
			}
			for i, au := range got {
				if au.Key != tt.keys[i] {
					t.Errorf("unit %d key %v", i, au.Key)
				}
				if len(au.NALUs) != len(tt.want[i]) {
					t.Fatalf("unit %d: %d nalus, want %d", i, len(au.NALUs), len(tt.want[i]))
				}
				for j := range au.NALUs {
					if !bytes.Equal(au.NALUs[j], tt.want[i][j]) {
						t.Errorf("unit %d nalu %d = %x, want %x", i, j, au.NALUs[j], tt.want[i][j])
					}
				}
			}
		})
	}
}

func TestReorderBuffer(t *testing.T) {
	t0 := time.Unix(0, 0)
	p := func(seq uint16) *rtp.Packet { return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}} }
	tests := []struct {
		name string
		seqs []uint16
		at   []time.Duration
		want []uint16
		lost []uint16 // sequence numbers flagged Lost
	}{
		{"in order across wrap", []uint16{65534, 65535, 0, 1}, nil, []uint16{65534, 65535, 0, 1}, nil},
		{"swap", []uint16{1, 3, 2, 4}, nil, []uint16{1, 2, 3, 4}, nil},
		{"duplicate and late", []uint16{1, 2, 2, 1, 3}, nil, []uint16{1, 2, 3}, nil},
		{"gap given up after the wait", []uint16{1, 3, 4, 5}, []time.Duration{0, 10, 20, 200}, []uint16{1, 3, 4, 5}, []uint16{3}},
		{"gap filled in time", []uint16{1, 3, 2}, []time.Duration{0, 10, 100}, []uint16{1, 2, 3}, nil},
		{"far jump restarts", []uint16{1, 2000}, nil, []uint16{1, 2000}, []uint16{2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newReorderBuffer(150 * time.Millisecond)
			var got, lost []uint16
			for i, s := range tt.seqs {
				now := t0
				if tt.at != nil {
					now = t0.Add(tt.at[i] * time.Millisecond)
				}
				for _, o := range b.push(p(s), now) {
					got = append(got, o.P.SequenceNumber)
					if o.Lost {
						lost = append(lost, o.P.SequenceNumber)
					}
				}
			}
			if !equalU16(got, tt.want) || !equalU16(lost, tt.lost) {
				t.Fatalf("got %v lost %v, want %v lost %v", got, lost, tt.want, tt.lost)
			}
		})
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

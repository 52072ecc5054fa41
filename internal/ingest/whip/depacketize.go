package whip

import (
	"errors"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"
)

// Depacketizer errors; a packet that fails drops the access unit in progress.
var (
	errFragment = errors.New("fragmentation unit out of sequence")
	errTooLarge = errors.New("access unit too large")
)

// maxAccessUnitSize bounds one access unit (AV1, VP8, VP9; the H.264 and
// H.265 decoders have their own bound, 8 MiB).
const maxAccessUnitSize = 8 << 20

// nalCodec selects the payload format of a nalDepacketizer.
type nalCodec int

const (
	codecH264 nalCodec = iota // RFC 6184
	codecH265                 // RFC 7798
)

// accessUnit is one depacketized video frame.
type accessUnit struct {
	TS    uint32   // RTP timestamp
	NALUs [][]byte // without start codes
	Key   bool     // contains an IDR (H.264) or IRAP (H.265) picture
}

// nalDecoder is gortsplib's rtph264.Decoder or rtph265.Decoder.
type nalDecoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

// nalDepacketizer turns H.264 (RFC 6184 §5.6-5.8: single NAL unit, STAP-A,
// FU-A) or H.265 (RFC 7798 §4.4: single NAL unit, AP, FU) RTP payloads into
// access units with gortsplib's decoders (fuzzed upstream, and cheaper:
// see BenchmarkDepacketizeH264*). An access unit ends at a packet with the
// marker bit (RFC 6184 §5.1) or, for senders that set none, when the
// timestamp changes; in that case the decoder returns the previous unit and
// keeps the new packet's data until the next change or marker. Packets
// must be given in sequence order; call reset after a sequence gap.
type nalDepacketizer struct {
	codec    nalCodec
	dec      nalDecoder
	pkt      rtp.Packet // reused: the decoders keep payloads, not packets
	buffered bool       // the decoder holds NAL units of bufTS
	bufTS    uint32
}

func newNALDepacketizer(c nalCodec) *nalDepacketizer {
	d := &nalDepacketizer{codec: c}
	d.reset()
	return d
}

// reset drops the access unit in progress (after packet loss).
func (d *nalDepacketizer) reset() {
	d.buffered = false
	if d.codec == codecH265 {
		dec := &rtph265.Decoder{}
		_ = dec.Init() // fails only for MaxDONDiff != 0
		d.dec = dec
		return
	}
	dec := &rtph264.Decoder{PacketizationMode: 1}
	_ = dec.Init() // fails only for packetization-mode 2
	d.dec = dec
}

// push adds one RTP payload and returns the access unit it completed, if
// any. A payload error drops the unit in progress. The unit's NAL units may
// point into payload: it must not be reused (pion allocates every packet's
// buffer afresh).
func (d *nalDepacketizer) push(payload []byte, ts uint32, marker bool) ([]*accessUnit, error) {
	// the decoders want consecutive sequence numbers; the caller resets
	// after a gap
	d.pkt.SequenceNumber++
	d.pkt.Version, d.pkt.Marker, d.pkt.Timestamp, d.pkt.Payload = 2, marker, ts, payload
	prevTS, had := d.bufTS, d.buffered
	nalus, err := d.dec.Decode(&d.pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded), errors.Is(err, rtph265.ErrMorePacketsNeeded):
		d.buffered, d.bufTS = true, ts
		return nil, nil
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious), errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious):
		d.reset()
		return nil, errFragment
	case err != nil:
		d.reset()
		return nil, err
	}
	au := &accessUnit{TS: ts, NALUs: nalus}
	if had && prevTS != ts {
		au.TS = prevTS // the timestamp moved on: this packet is held
		d.buffered, d.bufTS = true, ts
	} else {
		d.buffered = false
	}
	for _, n := range nalus {
		au.Key = au.Key || d.isKey(n)
	}
	return []*accessUnit{au}, nil
}

func (d *nalDepacketizer) isKey(n []byte) bool {
	if len(n) == 0 {
		return false
	}
	if d.codec == codecH265 {
		t := (n[0] >> 1) & 0x3f
		return t >= 16 && t <= 23
	}
	return n[0]&0x1f == 5
}

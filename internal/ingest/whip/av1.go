package whip

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/pion/rtp/codecs"
)

// av1Depacketizer turns AV1 RTP payloads (the AOM "RTP Payload Format For
// AV1" §4: aggregation header, OBU elements, fragmentation via Z/Y) into
// temporal units of OBUs without size fields. It has the same contract as
// nalDepacketizer: in-order packets, reset after a gap.
type av1Depacketizer struct {
	d    codecs.AV1Depacketizer
	ts   uint32
	buf  []byte
	busy bool
}

func (d *av1Depacketizer) reset() {
	d.d = codecs.AV1Depacketizer{}
	d.buf, d.busy = nil, false
}

func (d *av1Depacketizer) push(payload []byte, ts uint32, marker bool) ([]*accessUnit, error) {
	var done []*accessUnit
	if d.busy && ts != d.ts {
		if au, _ := d.flush(); au != nil {
			done = append(done, au)
		}
	}
	if !d.busy {
		d.ts, d.busy = ts, true
	}
	b, err := d.d.Unmarshal(payload)
	if err != nil {
		d.reset()
		return done, fmt.Errorf("av1 payload: %w", err)
	}
	if len(d.buf)+len(b) > maxAccessUnitSize {
		d.reset()
		return done, errTooLarge
	}
	d.buf = append(d.buf, b...)
	if marker {
		au, err := d.flush()
		if au != nil {
			done = append(done, au)
		}
		return done, err
	}
	return done, nil
}

func (d *av1Depacketizer) flush() (*accessUnit, error) {
	buf, ts := d.buf, d.ts
	d.buf, d.busy = nil, false
	if len(buf) == 0 {
		return nil, nil
	}
	var bs av1.Bitstream
	if err := bs.Unmarshal(buf); err != nil {
		return nil, fmt.Errorf("av1 temporal unit: %w", err)
	}
	obus := make([][]byte, 0, len(bs))
	for _, o := range bs {
		var h av1.OBUHeader
		if h.Unmarshal(o) == nil && (h.Type == 2 /* temporal delimiter */ || h.Type == 15 /* padding */) {
			continue
		}
		obus = append(obus, o)
	}
	return &accessUnit{TS: ts, NALUs: obus, Key: av1.IsRandomAccess2(obus)}, nil
}

// av1SequenceHeader returns the sequence header OBU (AV1 spec §5.5) of obus.
func av1SequenceHeader(obus [][]byte) []byte {
	for _, o := range obus {
		var h av1.OBUHeader
		if h.Unmarshal(o) == nil && h.Type == av1.OBUTypeSequenceHeader {
			var sh av1.SequenceHeader
			if sh.Unmarshal(o) == nil {
				return o
			}
		}
	}
	return nil
}

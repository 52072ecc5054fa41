package whip

import (
	"errors"
	"fmt"
)

// Depacketizer errors; a packet that fails drops the access unit in progress.
var (
	errShortPacket   = errors.New("rtp payload too short")
	errUnsupportedNU = errors.New("unsupported nal unit type")
	errFragment      = errors.New("fragmentation unit out of sequence")
	errTooLarge      = errors.New("access unit too large")
)

// Limits on one access unit.
const (
	maxAccessUnitSize  = 8 << 20
	maxAccessUnitNALUs = 1024
)

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

// nalDepacketizer turns H.264 (RFC 6184 §5.6-5.8, packetization-mode 1:
// single NAL unit, STAP-A, FU-A) or H.265 (RFC 7798 §4.4: single NAL unit,
// AP, FU) RTP payloads into access units. An access unit ends at a packet
// with the marker bit (RFC 6184 §5.1) or when the timestamp changes. Packets
// must be given in sequence order; call reset after a sequence gap.
type nalDepacketizer struct {
	codec nalCodec
	ts    uint32
	nalus [][]byte
	size  int
	frag  []byte // fragmentation unit in progress, nil if none
	fragd bool   // frag is active
}

func newNALDepacketizer(c nalCodec) *nalDepacketizer { return &nalDepacketizer{codec: c} }

// reset drops the access unit in progress (after packet loss).
func (d *nalDepacketizer) reset() {
	d.nalus, d.size, d.frag, d.fragd = nil, 0, nil, false
}

// push adds one RTP payload. It returns the access units it completed: the
// previous one when ts moved on without a marker, and the current one when
// marker is set. A payload error drops the unit in progress.
func (d *nalDepacketizer) push(payload []byte, ts uint32, marker bool) ([]*accessUnit, error) {
	var done []*accessUnit
	if len(d.nalus) > 0 && ts != d.ts {
		done = append(done, d.flush())
	}
	if len(d.nalus) == 0 && !d.fragd {
		d.ts = ts
	} else if ts != d.ts {
		d.reset() // fragment of an older timestamp never finished
		d.ts = ts
	}
	var err error
	if d.codec == codecH265 {
		err = d.pushH265(payload)
	} else {
		err = d.pushH264(payload)
	}
	if err != nil {
		d.reset()
		return done, err
	}
	if marker && !d.fragd && len(d.nalus) > 0 {
		done = append(done, d.flush())
	}
	return done, nil
}

func (d *nalDepacketizer) flush() *accessUnit {
	au := &accessUnit{TS: d.ts, NALUs: d.nalus}
	for _, n := range d.nalus {
		if d.isKey(n) {
			au.Key = true
		}
	}
	d.nalus, d.size = nil, 0
	return au
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

func (d *nalDepacketizer) add(n []byte) error {
	if len(n) == 0 {
		return nil
	}
	if d.size+len(n) > maxAccessUnitSize || len(d.nalus) >= maxAccessUnitNALUs {
		return errTooLarge
	}
	d.size += len(n)
	d.nalus = append(d.nalus, n)
	return nil
}

// pushH264 handles one H.264 payload (RFC 6184 §5.6 single NAL unit,
// §5.7.1 STAP-A, §5.8 FU-A).
func (d *nalDepacketizer) pushH264(p []byte) error {
	if len(p) < 1 {
		return errShortPacket
	}
	typ := p[0] & 0x1f
	switch {
	case typ >= 1 && typ <= 23:
		if d.fragd {
			return errFragment
		}
		return d.add(clone(p))
	case typ == 24: // STAP-A
		if d.fragd {
			return errFragment
		}
		return d.aggregate(p[1:])
	case typ == 28: // FU-A
		if len(p) < 2 {
			return errShortPacket
		}
		start, end := p[1]&0x80 != 0, p[1]&0x40 != 0
		if start {
			if d.fragd {
				return errFragment
			}
			if start && end {
				return fmt.Errorf("%w: start and end bits both set", errFragment)
			}
			d.frag = append(make([]byte, 0, 2*len(p)), (p[0]&0xe0)|(p[1]&0x1f))
			d.fragd = true
		} else if !d.fragd {
			return errFragment
		}
		return d.fragment(p[2:], end)
	default:
		return fmt.Errorf("%w: h264 type %d", errUnsupportedNU, typ)
	}
}

// pushH265 handles one H.265 payload (RFC 7798 §4.4.1 single NAL unit,
// §4.4.2 AP, §4.4.3 FU). PACI (type 50) is not supported.
func (d *nalDepacketizer) pushH265(p []byte) error {
	if len(p) < 2 {
		return errShortPacket
	}
	typ := (p[0] >> 1) & 0x3f
	switch {
	case typ < 48:
		if d.fragd {
			return errFragment
		}
		return d.add(clone(p))
	case typ == 48: // AP
		if d.fragd {
			return errFragment
		}
		return d.aggregate(p[2:])
	case typ == 49: // FU
		if len(p) < 3 {
			return errShortPacket
		}
		start, end := p[2]&0x80 != 0, p[2]&0x40 != 0
		if start {
			if d.fragd {
				return errFragment
			}
			if end {
				return fmt.Errorf("%w: start and end bits both set", errFragment)
			}
			d.frag = append(make([]byte, 0, 2*len(p)), (p[0]&0x81)|((p[2]&0x3f)<<1), p[1])
			d.fragd = true
		} else if !d.fragd {
			return errFragment
		}
		return d.fragment(p[3:], end)
	default:
		return fmt.Errorf("%w: h265 type %d", errUnsupportedNU, typ)
	}
}

// aggregate splits the 16-bit-size-prefixed NAL units of a STAP-A or AP
// (RFC 6184 §5.7.1, RFC 7798 §4.4.2; no DONL: sprop-max-don-diff is 0).
func (d *nalDepacketizer) aggregate(p []byte) error {
	if len(p) == 0 {
		return errShortPacket
	}
	for len(p) > 0 {
		if len(p) < 2 {
			return errShortPacket
		}
		n := int(p[0])<<8 | int(p[1])
		p = p[2:]
		if n == 0 || n > len(p) {
			return fmt.Errorf("%w: aggregated nal unit size %d of %d", errShortPacket, n, len(p))
		}
		if err := d.add(clone(p[:n])); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (d *nalDepacketizer) fragment(p []byte, end bool) error {
	if d.size+len(d.frag)+len(p) > maxAccessUnitSize {
		return errTooLarge
	}
	d.frag = append(d.frag, p...)
	if !end {
		return nil
	}
	n := d.frag
	d.frag, d.fragd = nil, false
	return d.add(n)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

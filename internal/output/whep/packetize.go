package whep

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// mtu is the RTP payload budget of one packet: 1200 bytes keeps an SRTP
// packet with its UDP/IP headers under the 1280-byte IPv6 minimum MTU
// (RFC 8200 §5) and clear of any tunnel overhead.
const mtu = 1200

var annexB = []byte{0, 0, 0, 1}

// packetizer turns the access units of one hub track into RTP packets
// (RFC 3550 §5.1) once, for every viewer: payload per RFC 6184 (H.264),
// RFC 7798 (H.265), RFC 7741 (VP8) or RFC 7587 (Opus); the marker bit on
// the last packet of a video frame; timestamps from PTS in the codec's
// clock, kept continuous across a publisher's reconnect. SSRC and payload
// type are each viewer's, and so are sequence numbers (see session.write).
type packetizer struct {
	clock uint32
	codec stream.Codec
	pay   rtp.Payloader
	seq   uint16
	// ts of a unit is its PTS in clock ticks plus offset; offset changes at
	// a discontinuity so that the viewer's timeline keeps going forward
	offset  int64
	lastTS  uint32
	have    bool
	lastDur uint32
	buf     []byte
}

func newPacketizer(c stream.Codec) *packetizer {
	p := &packetizer{codec: c, clock: 90000}
	switch c.(type) {
	case stream.H264:
		p.pay = &codecs.H264Payloader{}
		p.lastDur = 3000
	case stream.H265:
		p.pay = &codecs.H265Payloader{}
		p.lastDur = 3000
	case stream.VP8:
		p.pay = &codecs.VP8Payloader{EnablePictureID: true}
		p.lastDur = 3000
	case stream.Opus:
		p.pay = &codecs.OpusPayloader{}
		p.clock = 48000
		p.lastDur = 960
	default:
		return nil
	}
	return p
}

// ticks is d in clock ticks, rounded (1/30 s is 3000 ticks at 90 kHz,
// not 2999), without overflow for streams of any length.
func ticks(d time.Duration, clock uint32) int64 {
	s, rem := int64(d/time.Second), int64(d%time.Second)
	return s*int64(clock) + (rem*int64(clock)+int64(time.Second)/2)/int64(time.Second)
}

// packetize returns the RTP packets of u; nil when u has nothing to send.
func (p *packetizer) packetize(u *stream.Unit) []*rtp.Packet {
	if u.Codec != nil {
		p.codec = u.Codec
	}
	payload := p.payload(u)
	if len(payload) == 0 {
		return nil
	}
	pts := ticks(u.PTS, p.clock)
	ts := uint32(pts + p.offset)
	if p.have {
		d := int32(ts - p.lastTS)
		// a reconnect, or a jump of more than 10 s either way: continue
		// one frame after the last timestamp sent
		if u.Discontinuity || d < -int32(p.clock) || d > 10*int32(p.clock) {
			p.offset = int64(p.lastTS+p.lastDur) - pts
			ts = uint32(pts + p.offset)
		} else if d > 0 && uint32(d) < p.clock {
			p.lastDur = uint32(d)
		}
	}
	p.lastTS, p.have = ts, true
	parts := p.pay.Payload(mtu, payload)
	pkts := make([]*rtp.Packet, len(parts))
	for i, part := range parts {
		pkts[i] = &rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         i == len(parts)-1 && p.clock == 90000,
				SequenceNumber: p.seq,
				Timestamp:      ts,
			},
			Payload: part,
		}
		p.seq++
	}
	return pkts
}

// payload is the payloader's input for u: Annex B for H.264 and H.265,
// with the parameter sets before every key frame so a viewer can start at
// any of them (RFC 6184 §8.4 recommends them in band), AUDs left out; the
// frame or packet as is for VP8 and Opus.
func (p *packetizer) payload(u *stream.Unit) []byte {
	switch c := p.codec.(type) {
	case stream.H264:
		b := p.buf[:0]
		if u.Key && !hasNALU(u.NALUs, 7, h264Type) {
			b = appendNALU(b, c.SPS)
			b = appendNALU(b, c.PPS)
		}
		for _, n := range u.NALUs {
			if len(n) == 0 || h264Type(n) == 9 {
				continue
			}
			b = appendNALU(b, n)
		}
		p.buf = b
		return b
	case stream.H265:
		b := p.buf[:0]
		if u.Key && !hasNALU(u.NALUs, 33, h265Type) {
			b = appendNALU(b, c.VPS)
			b = appendNALU(b, c.SPS)
			b = appendNALU(b, c.PPS)
		}
		for _, n := range u.NALUs {
			if len(n) == 0 || h265Type(n) == 35 {
				continue
			}
			b = appendNALU(b, n)
		}
		p.buf = b
		return b
	case stream.VP8:
		if len(u.NALUs) == 0 {
			return nil
		}
		return u.NALUs[0]
	case stream.Opus:
		return u.Data
	}
	return nil
}

func h264Type(n []byte) byte { return n[0] & 0x1f }
func h265Type(n []byte) byte { return (n[0] >> 1) & 0x3f }

func hasNALU(ns [][]byte, typ byte, of func([]byte) byte) bool {
	for _, n := range ns {
		if len(n) > 0 && of(n) == typ {
			return true
		}
	}
	return false
}

func appendNALU(b, n []byte) []byte {
	if len(n) == 0 {
		return b
	}
	return append(append(b, annexB...), n...)
}

package whip

import "errors"

// errVP8Descriptor is a VP8 payload descriptor that is truncated.
var errVP8Descriptor = errors.New("vp8 payload descriptor truncated")

// vp8Descriptor is the part of the VP8 payload descriptor (RFC 7741 §4.2)
// that frame assembly needs.
type vp8Descriptor struct {
	start bool  // S: first packet of a partition
	pid   uint8 // partition index
	size  int   // descriptor length: the VP8 payload follows it
}

// parseVP8Descriptor reads the VP8 payload descriptor at the start of an
// RTP payload (RFC 7741 §4.2: X|R|N|S|R|PID, the optional I|L|T|K byte,
// PictureID of 7 or 15 bits, TL0PICIDX, TID|Y|KEYIDX).
func parseVP8Descriptor(p []byte) (vp8Descriptor, error) {
	var d vp8Descriptor
	if len(p) < 1 {
		return d, errVP8Descriptor
	}
	d.start = p[0]&0x10 != 0
	d.pid = p[0] & 0x07
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return d, errVP8Descriptor
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: PictureID, M bit selects 15 bits
			if len(p) <= i {
				return d, errVP8Descriptor
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID|Y|KEYIDX
			i++
		}
	}
	if i > len(p) {
		return d, errVP8Descriptor
	}
	d.size = i
	return d, nil
}

// vp8KeyFrame reports whether frame is a VP8 key frame with a valid start
// code, and its size (RFC 6386 §9.1: the frame tag's P bit is 0 for key
// frames, followed after the 3-byte tag by the start code 9d 01 2a and the
// 14-bit width and height).
func vp8KeyFrame(frame []byte) (key bool, width, height int) {
	if len(frame) < 10 || frame[0]&0x01 != 0 {
		return false, 0, 0
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return false, 0, 0
	}
	width = int(frame[6]) | int(frame[7]&0x3f)<<8
	height = int(frame[8]) | int(frame[9]&0x3f)<<8
	return true, width, height
}

// vp8Depacketizer is kept rather than gortsplib's rtpvp8, which refuses
// packets with a partition index other than 0 (RFC 7741 §4.2 allows them).
//
// vp8Depacketizer turns VP8 RTP payloads (RFC 7741) into frames: a frame
// starts at a packet with S=1 and partition index 0 and ends at the marker
// bit (RFC 7741 §4.1) or when the timestamp changes. A frame is given as
// one accessUnit whose only element of NALUs is the VP8 frame. Packets must
// be given in sequence order; call reset after a sequence gap, after which
// packets are dropped until the next frame start.
type vp8Depacketizer struct {
	ts     uint32
	frame  []byte
	active bool
}

func (d *vp8Depacketizer) reset() { d.frame, d.active = nil, false }

// push adds one RTP payload and returns the frames it completed.
func (d *vp8Depacketizer) push(payload []byte, ts uint32, marker bool) ([]*accessUnit, error) {
	var done []*accessUnit
	desc, err := parseVP8Descriptor(payload)
	if err != nil {
		d.reset()
		return nil, err
	}
	data := payload[desc.size:]
	if d.active && ts != d.ts {
		done = d.appendFlush(done) // previous frame lost its marker
	}
	if desc.start && desc.pid == 0 {
		d.reset()
		d.ts, d.active = ts, true
	} else if !d.active {
		return done, errFragment // middle of a frame whose start was lost
	}
	if len(d.frame)+len(data) > maxAccessUnitSize {
		d.reset()
		return done, errTooLarge
	}
	d.frame = append(d.frame, data...)
	if marker {
		done = d.appendFlush(done)
	}
	return done, nil
}

// appendFlush ends the frame in progress and appends it to done unless it
// is empty.
func (d *vp8Depacketizer) appendFlush(done []*accessUnit) []*accessUnit {
	frame := d.frame
	d.reset()
	if len(frame) == 0 {
		return done
	}
	key, _, _ := vp8KeyFrame(frame)
	return append(done, &accessUnit{TS: d.ts, NALUs: [][]byte{frame}, Key: key})
}

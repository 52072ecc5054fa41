package whip

import "errors"

// errVP9Descriptor is a VP9 payload descriptor that is truncated or
// inconsistent.
var errVP9Descriptor = errors.New("vp9 payload descriptor malformed")

// vp9Descriptor is the part of the VP9 payload descriptor (RFC 9628 §4.2)
// that frame assembly needs.
type vp9Descriptor struct {
	begin bool // B: first packet of a layer frame
	end   bool // E: last packet of a layer frame
	inter bool // P: inter-picture predicted
	sid   int  // spatial layer (0 without layer indices)
	size  int  // descriptor length: the VP9 payload follows it
}

// parseVP9Descriptor reads the VP9 payload descriptor at the start of an
// RTP payload (RFC 9628 §4.2): I|P|L|F|B|E|V|Z, the picture ID (7 or 15
// bits, I), the layer indices TID|U|SID|D (L) followed by TL0PICIDX in
// non-flexible mode (F=0), up to three P_DIFF|N bytes in flexible mode
// with P=1, and the scalability structure (V, §4.2.1): N_S|Y|G, with Y
// a 16-bit width and height per spatial layer, with G N_G and per picture
// TID|U|R and R P_DIFF bytes.
func parseVP9Descriptor(p []byte) (vp9Descriptor, error) {
	var d vp9Descriptor
	if len(p) < 1 {
		return d, errVP9Descriptor
	}
	b := p[0]
	d.inter = b&0x40 != 0
	d.begin = b&0x08 != 0
	d.end = b&0x04 != 0
	i := 1
	need := func(n int) bool { return len(p)-i >= n }
	if b&0x80 != 0 { // I: picture ID, M selects 15 bits
		if !need(1) {
			return d, errVP9Descriptor
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	flexible := b&0x10 != 0
	if b&0x20 != 0 { // L: layer indices
		if !need(1) {
			return d, errVP9Descriptor
		}
		d.sid = int(p[i]>>1) & 0x07
		i++
		if !flexible {
			i++ // TL0PICIDX
		}
	}
	if flexible && d.inter { // P_DIFF, N: another follows; at most 3
		for n := 0; ; n++ {
			if n == 3 || !need(1) {
				return d, errVP9Descriptor
			}
			more := p[i]&0x01 != 0
			i++
			if !more {
				break
			}
		}
	}
	if b&0x02 != 0 { // V: scalability structure
		if !need(1) {
			return d, errVP9Descriptor
		}
		ss := p[i]
		i++
		layers := int(ss>>5) + 1
		if ss&0x10 != 0 { // Y: WIDTH, HEIGHT per layer
			i += 4 * layers
		}
		if ss&0x08 != 0 { // G: N_G pictures
			if !need(1) {
				return d, errVP9Descriptor
			}
			ng := int(p[i])
			i++
			for range ng {
				if !need(1) {
					return d, errVP9Descriptor
				}
				r := int(p[i]>>2) & 0x03
				i += 1 + r
			}
		}
	}
	if i > len(p) {
		return d, errVP9Descriptor
	}
	d.size = i
	return d, nil
}

// vp9KeyFrame reports whether frame starts with a VP9 key frame and its
// size, from the uncompressed header (VP9 bitstream specification §6.2:
// frame_marker, profile, show_existing_frame, frame_type 0 = KEY_FRAME,
// show_frame, error_resilient_mode, frame_sync_code 49 83 42,
// color_config, frame_width_minus_1 and frame_height_minus_1 of 16 bits).
// Of a superframe (Annex B) it reads the first frame, which is the key
// frame when there is one.
func vp9KeyFrame(frame []byte) (key bool, width, height int) {
	r := bitReader{b: frame}
	if r.bits(2) != 2 { // frame_marker
		return false, 0, 0
	}
	profile := r.bits(1) | r.bits(1)<<1
	if profile == 3 {
		r.bits(1) // reserved_zero
	}
	if r.bits(1) == 1 { // show_existing_frame
		return false, 0, 0
	}
	if r.bits(1) != 0 { // frame_type: NON_KEY_FRAME
		return false, 0, 0
	}
	r.bits(2) // show_frame, error_resilient_mode
	if r.bits(24) != 0x498342 {
		return false, 0, 0
	}
	if profile >= 2 {
		r.bits(1) // ten_or_twelve_bit
	}
	if r.bits(3) != 7 { // color_space != CS_RGB
		r.bits(1) // color_range
		if profile == 1 || profile == 3 {
			r.bits(3) // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 || profile == 3 {
		r.bits(1) // reserved_zero
	}
	width = r.bits(16) + 1
	height = r.bits(16) + 1
	if r.short {
		return false, 0, 0
	}
	return true, width, height
}

// bitReader reads big-endian bits; past the end it reads zeros and sets
// short.
type bitReader struct {
	b     []byte
	pos   int
	short bool
}

func (r *bitReader) bits(n int) int {
	v := 0
	for range n {
		bit := 0
		if r.pos < 8*len(r.b) {
			bit = int(r.b[r.pos/8]>>(7-r.pos%8)) & 1
		} else {
			r.short = true
		}
		r.pos++
		v = v<<1 | bit
	}
	return v
}

// maxVP9Layers bounds the layer frames of one picture (a superframe index
// holds at most 8 frames, VP9 specification Annex B).
const maxVP9Layers = 8

// vp9Depacketizer is kept rather than gortsplib's rtpvp9, which returns
// each layer frame alone and does not assemble a picture's spatial layers
// into a superframe.
//
// vp9Depacketizer turns VP9 RTP payloads (RFC 9628) into pictures: a layer
// frame starts at a packet with B=1 and ends at one with E=1; a picture
// ends at the marker bit (RFC 9628 §4.1, last packet of the picture) or
// when the timestamp changes. A picture of one frame is given as is; one
// of several spatial layer frames becomes a superframe (VP9 specification
// Annex B) so that a decoder takes it as one unit. Either is one
// accessUnit whose only element of NALUs is the VP9 data; it is a key unit
// when its first frame is a key frame (not inter-picture predicted, on the
// base layer). Packets must be given in sequence order; call reset after a
// sequence gap, after which packets are dropped until the next frame
// start.
type vp9Depacketizer struct {
	ts     uint32
	frames [][]byte // completed layer frames of the picture
	frame  []byte   // the layer frame in progress
	inPic  bool     // a picture is being collected
	inFrm  bool     // a layer frame is in progress
	total  int
}

func (d *vp9Depacketizer) reset() {
	d.frames, d.frame, d.inPic, d.inFrm, d.total = nil, nil, false, false, 0
}

// push adds one RTP payload and returns the pictures it completed.
func (d *vp9Depacketizer) push(payload []byte, ts uint32, marker bool) ([]*accessUnit, error) {
	var done []*accessUnit
	desc, err := parseVP9Descriptor(payload)
	if err != nil {
		d.reset()
		return nil, err
	}
	data := payload[desc.size:]
	if d.inPic && ts != d.ts {
		done = d.appendFlush(done) // previous picture lost its marker
	}
	if desc.begin {
		if d.inFrm { // the previous frame lost its end
			d.reset()
		}
		if !d.inPic {
			d.ts, d.inPic = ts, true
		}
		d.inFrm = true
		d.frame = nil
	} else if !d.inFrm {
		return done, errFragment // middle of a frame whose start was lost
	}
	if d.total+len(data) > maxAccessUnitSize {
		d.reset()
		return done, errTooLarge
	}
	d.total += len(data)
	d.frame = append(d.frame, data...)
	if desc.end {
		if len(d.frame) > 0 && len(d.frames) < maxVP9Layers {
			d.frames = append(d.frames, d.frame)
		}
		d.frame, d.inFrm = nil, false
	}
	if marker {
		done = d.appendFlush(done)
	}
	return done, nil
}

// appendFlush ends the picture in progress and appends it to done unless it
// has no complete frame.
func (d *vp9Depacketizer) appendFlush(done []*accessUnit) []*accessUnit {
	frames, ts := d.frames, d.ts
	d.reset()
	if len(frames) == 0 {
		return done
	}
	data := frames[0]
	if len(frames) > 1 {
		data = vp9Superframe(frames)
	}
	key, _, _ := vp9KeyFrame(data)
	return append(done, &accessUnit{TS: ts, NALUs: [][]byte{data}, Key: key})
}

// vp9Superframe joins frames (2 to 8) into a superframe: the frames, then
// the index (VP9 specification Annex B): a marker byte 110 mm nnn (bytes
// per size minus 1, frames minus 1), each size little-endian, the marker
// byte again.
func vp9Superframe(frames [][]byte) []byte {
	n, largest := 0, 0
	for _, f := range frames {
		n += len(f)
		largest = max(largest, len(f))
	}
	mag := 1
	for largest>>(8*mag) != 0 && mag < 4 {
		mag++
	}
	marker := byte(0xc0 | (mag-1)<<3 | (len(frames) - 1))
	out := make([]byte, 0, n+2+mag*len(frames))
	for _, f := range frames {
		out = append(out, f...)
	}
	out = append(out, marker)
	for _, f := range frames {
		for b := range mag {
			out = append(out, byte(len(f)>>(8*b)))
		}
	}
	return append(out, marker)
}

package mpegts

import (
	"bytes"
	"encoding/binary"
)

// MPEG-TS constants (ISO/IEC 13818-1).
const (
	tsPacketSize = 188  // §2.4.3.2
	tsSync       = 0x47 // sync_byte
	pidPAT       = 0x0000
	pidNull      = 0x1FFF
	maxSection   = 1021    // §2.4.4.4, §2.4.4.9: section_length of PAT and PMT sections
	maxPESSize   = 8 << 20 // bound on one reassembled PES packet (one access unit)
	maxPIDs      = 64      // PIDs whose continuity is tracked
)

// Stream types of the PMT (ISO/IEC 13818-1 Table 2-34, and the
// registrations they point to).
const (
	streamTypeAACADTS = 0x0F // ISO/IEC 13818-7 Audio with ADTS transport syntax
	streamTypeH264    = 0x1B // ITU-T H.264 | ISO/IEC 14496-10
	streamTypeH265    = 0x24 // ITU-T H.265 | ISO/IEC 23008-2
	streamTypePrivate = 0x06 // PES private data: Opus when registered as "Opus" (see opusInTS)
)

// tsPacket is one parsed transport stream packet header (§2.4.3.2) and the
// parts of its adaptation field (§2.4.3.4) MpegFlow uses.
type tsPacket struct {
	pid           uint16
	tei           bool // transport_error_indicator
	pusi          bool // payload_unit_start_indicator
	scrambled     bool // transport_scrambling_control != 0
	hasPayload    bool
	cc            uint8
	discontinuity bool // discontinuity_indicator
	randomAccess  bool // random_access_indicator
	hasPCR        bool
	pcr           int64 // PCR base, 90 kHz, 33 bits
	// stuffed: the adaptation field carries stuffing bytes before a
	// payload, which a muxer does when a PES packet's last bytes do not
	// fill the packet (see esTrack.stuffEnds)
	stuffed bool
	payload []byte
}

// parseTSPacket parses one 188-byte packet that starts with the sync byte.
// ok is false when the adaptation field is malformed.
func parseTSPacket(b []byte) (p tsPacket, ok bool) {
	p.tei = b[1]&0x80 != 0
	p.pusi = b[1]&0x40 != 0
	p.pid = binary.BigEndian.Uint16(b[1:3]) & 0x1FFF
	p.scrambled = b[3]&0xC0 != 0
	afc := (b[3] >> 4) & 0x3
	p.cc = b[3] & 0x0F
	p.hasPayload = afc&1 != 0
	pos := 4
	if afc&2 != 0 {
		afLen := int(b[4])
		pos = 5 + afLen
		if pos > tsPacketSize || (afc == 3 && afLen > 182) {
			return p, false
		}
		if afLen > 0 {
			flags := b[5]
			p.discontinuity = flags&0x80 != 0
			p.randomAccess = flags&0x40 != 0
			if flags&0x10 != 0 {
				if afLen < 7 {
					return p, false
				}
				p.hasPCR = true
				p.pcr = int64(b[6])<<25 | int64(b[7])<<17 | int64(b[8])<<9 | int64(b[9])<<1 | int64(b[10])>>7
			}
		}
		p.stuffed = afc == 3 && afLen > adaptationFieldUsed(b[4:5+afLen])
	}
	if p.hasPayload {
		p.payload = b[pos:]
	}
	return p, true
}

// adaptationFieldUsed returns how many bytes of adaptation field af (its
// length byte first) its flagged fields take (§2.4.3.4); the rest is
// stuffing. A field that claims more than af holds counts as all of it.
func adaptationFieldUsed(af []byte) int {
	n := len(af) - 1
	if n == 0 {
		return 0 // adaptation_field_length 0: one byte of stuffing
	}
	flags := af[1]
	used := 1
	if flags&0x10 != 0 { // PCR
		used += 6
	}
	if flags&0x08 != 0 { // OPCR
		used += 6
	}
	if flags&0x04 != 0 { // splice_countdown
		used++
	}
	if flags&0x02 != 0 { // transport_private_data
		if used+1 > n {
			return n
		}
		used += 1 + int(af[1+used])
	}
	if flags&0x01 != 0 { // adaptation_field_extension
		if used+1 > n {
			return n
		}
		used += 1 + int(af[1+used])
	}
	return min(used, n)
}

// esInfo is one elementary stream of a PMT (§2.4.4.9).
type esInfo struct {
	streamType  uint8
	pid         uint16
	descriptors []byte
}

// program is a parsed PMT section.
type program struct {
	version uint8
	pcrPID  uint16
	streams []esInfo
}

// psiAssembler gathers the sections of one PSI PID across packets
// (§2.4.4: pointer_field and section_length).
type psiAssembler struct {
	buf []byte
}

// reset forgets a partial section (after a loss).
func (a *psiAssembler) reset() { a.buf = a.buf[:0] }

// feed takes the payload of one packet and calls fn with each complete
// section whose CRC_32 is right. It returns the number of sections dropped
// for a bad CRC or length.
func (a *psiAssembler) feed(pusi bool, payload []byte, fn func(section []byte)) (bad int) {
	if pusi {
		if len(payload) == 0 {
			a.reset()
			return 1
		}
		ptr := int(payload[0])
		payload = payload[1:]
		if ptr > len(payload) {
			a.reset()
			return 1
		}
		if len(a.buf) > 0 {
			a.buf = append(a.buf, payload[:ptr]...)
			bad += a.drain(fn)
		}
		a.reset()
		payload = payload[ptr:]
	} else if len(a.buf) == 0 {
		return 0 // continuation of a section whose start we did not see
	}
	a.buf = append(a.buf, payload...)
	return bad + a.drain(fn)
}

// drain hands out the complete sections at the start of buf.
func (a *psiAssembler) drain(fn func([]byte)) (bad int) {
	for {
		if len(a.buf) == 0 || a.buf[0] == 0xFF { // stuffing after the last section
			a.reset()
			return bad
		}
		if len(a.buf) < 3 {
			return bad
		}
		n := int(binary.BigEndian.Uint16(a.buf[1:3]) & 0x0FFF)
		if n > maxSection || n < 9 {
			a.reset()
			return bad + 1
		}
		if len(a.buf) < 3+n {
			return bad
		}
		sec := a.buf[:3+n]
		if crc32MPEG2(sec) != 0 {
			bad++
		} else {
			fn(sec)
		}
		a.buf = a.buf[:copy(a.buf, a.buf[3+n:])]
	}
}

// crc32MPEG2 is the CRC of ISO/IEC 13818-1 Annex A (polynomial 0x04C11DB7,
// initial value all ones, no reflection). Over a section including its
// CRC_32 field it is 0. Computed bitwise: sections are small and rare.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// parsePAT returns the PID of the first program's PMT in a
// program_association_section (§2.4.4.3), or false.
func parsePAT(sec []byte) (uint16, bool) {
	if sec[0] != 0x00 || sec[5]&1 == 0 { // table_id, current_next_indicator
		return 0, false
	}
	body := sec[8 : len(sec)-4]
	for len(body) >= 4 {
		num := binary.BigEndian.Uint16(body[0:2])
		pid := binary.BigEndian.Uint16(body[2:4]) & 0x1FFF
		body = body[4:]
		if num != 0 { // program_number 0 is the network PID
			return pid, true
		}
	}
	return 0, false
}

// parsePMT parses a TS_program_map_section (§2.4.4.8).
func parsePMT(sec []byte) (program, bool) {
	if sec[0] != 0x02 || sec[5]&1 == 0 || len(sec) < 16 {
		return program{}, false
	}
	p := program{
		version: (sec[5] >> 1) & 0x1F,
		pcrPID:  binary.BigEndian.Uint16(sec[8:10]) & 0x1FFF,
	}
	infoLen := int(binary.BigEndian.Uint16(sec[10:12]) & 0x0FFF)
	body := sec[12 : len(sec)-4]
	if infoLen > len(body) {
		return program{}, false
	}
	body = body[infoLen:]
	for len(body) >= 5 {
		es := esInfo{
			streamType: body[0],
			pid:        binary.BigEndian.Uint16(body[1:3]) & 0x1FFF,
		}
		n := int(binary.BigEndian.Uint16(body[3:5]) & 0x0FFF)
		if 5+n > len(body) {
			return program{}, false
		}
		es.descriptors = body[5 : 5+n]
		body = body[5+n:]
		p.streams = append(p.streams, es)
	}
	return p, true
}

// findDescriptor returns the body of the first descriptor with tag in a
// descriptor loop (§2.6), or nil.
func findDescriptor(d []byte, tag byte) []byte {
	for len(d) >= 2 {
		t, n := d[0], int(d[1])
		if 2+n > len(d) {
			return nil
		}
		if t == tag {
			return d[2 : 2+n]
		}
		d = d[2+n:]
	}
	return nil
}

// opusInTS reports whether a PMT entry is Opus, and its channel count, per
// the Opus mapping into MPEG-TS (wiki.xiph.org/OpusTS, as ffmpeg writes
// it): stream_type 0x06 with a registration_descriptor (§2.6.8, tag 0x05)
// "Opus" and a DVB extension_descriptor (tag 0x7F, extension tag 0x80,
// opus_audio_descriptor) whose channel_config_code is the channel count
// for 1..8. Without that descriptor, stereo is assumed.
func opusInTS(es esInfo) (channels int, ok bool) {
	if es.streamType != streamTypePrivate {
		return 0, false
	}
	reg := findDescriptor(es.descriptors, 0x05)
	if !bytes.HasPrefix(reg, []byte("Opus")) {
		return 0, false
	}
	channels = 2
	if ext := findDescriptor(es.descriptors, 0x7F); len(ext) >= 2 && ext[0] == 0x80 {
		if c := int(ext[1]); c >= 1 && c <= 8 {
			channels = c
		}
	}
	return channels, true
}

// pesHeader is the part of a PES packet header (§2.4.3.6) MpegFlow uses.
type pesHeader struct {
	length  int // PES_packet_length: bytes after the length field; 0 = unbounded
	hasPTS  bool
	hasDTS  bool
	pts     int64
	dts     int64
	dataPos int // offset of PES_packet_data_byte
}

// parsePESHeader parses the header at the start of a PES packet. ok is false
// when b is not a PES packet start or is too short for its header.
func parsePESHeader(b []byte) (h pesHeader, ok bool) {
	if len(b) < 9 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return h, false
	}
	h.length = int(binary.BigEndian.Uint16(b[4:6]))
	switch b[3] { // stream_id without the optional header
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF:
		return h, false
	}
	if b[6]&0xC0 != 0x80 {
		return h, false
	}
	flags := b[7] >> 6
	hdrLen := int(b[8])
	h.dataPos = 9 + hdrLen
	if len(b) < h.dataPos {
		return h, false
	}
	switch flags {
	case 2:
		if hdrLen < 5 {
			return h, false
		}
		h.hasPTS, h.pts = true, parseTimestamp(b[9:14])
	case 3:
		if hdrLen < 10 {
			return h, false
		}
		h.hasPTS, h.pts = true, parseTimestamp(b[9:14])
		h.hasDTS, h.dts = true, parseTimestamp(b[14:19])
	}
	if h.length != 0 && h.length+6 < h.dataPos {
		return h, false
	}
	return h, true
}

// parseTimestamp decodes a 33-bit PTS or DTS field (§2.4.3.7).
func parseTimestamp(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

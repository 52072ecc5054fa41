// Package mpegtstest writes small, hand-controlled MPEG-TS streams
// (ISO/IEC 13818-1) for the tests of MPEG-TS readers: PAT, PMT and PES
// packets with free control over continuity counters, PCR and the
// discontinuity indicator, and synthetic H.264, AAC (ADTS) and Opus
// payloads.
package mpegtstest

import (
	"encoding/binary"
)

// Stream types of the PMT (ISO/IEC 13818-1 Table 2-34) and the constants
// the muxer writes with.
const (
	StreamTypeAACADTS = 0x0F
	StreamTypeH264    = 0x1B
	StreamTypeH265    = 0x24
	StreamTypePrivate = 0x06 // PES private data: Opus with its registration descriptor

	tsPacketSize = 188
	tsSync       = 0x47
	pidPAT       = 0
	tsClock      = 90000
	tsWrapMask   = int64(1)<<33 - 1
)

// crc32MPEG2 is the CRC_32 of PSI sections (ISO/IEC 13818-1 Annex A):
// polynomial 0x04C11DB7, initial value 0xFFFFFFFF, not reflected.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, c := range b {
		crc ^= uint32(c) << 24
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

// Test parameter sets: a valid H.264 SPS (640x360-ish, High profile) and PPS.
var (
	SPS  = []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	SPS2 = []byte{0x67, 0x42, 0xc0, 0x1f, 0xd9, 0x00, 0xa0, 0x3d, 0xa1, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x18, 0x32, 0xa0}
	PPS  = []byte{0x68, 0xee, 0x3c, 0x80}
)

// Muxer writes a minimal MPEG-TS (ISO/IEC 13818-1) for tests: PAT, PMT,
// and PES packets with free control over continuity counters, PCR and the
// discontinuity indicator.
type Muxer struct {
	CC        map[uint16]uint8
	Out       []byte
	VideoPID  uint16
	AudioPID  uint16
	pmtPID    uint16
	videoST   uint8
	audioST   uint8
	AudioDesc []byte // ES descriptors of the audio stream
	version   uint8
}

// NewMuxer returns a muxer of one video (videoST, PID 0x100) and one audio
// (audioST, PID 0x101) stream; 0 leaves a stream out.
func NewMuxer(videoST, audioST uint8) *Muxer {
	return &Muxer{CC: map[uint16]uint8{}, VideoPID: 0x100, AudioPID: 0x101, pmtPID: 0x1000, videoST: videoST, audioST: audioST}
}

// Packet appends one TS packet; af is the adaptation field body (flags...),
// nil for none. The payload is padded with adaptation stuffing.
func (m *Muxer) Packet(pid uint16, pusi bool, af []byte, payload []byte) int {
	b := make([]byte, tsPacketSize)
	b[0] = tsSync
	binary.BigEndian.PutUint16(b[1:3], pid)
	if pusi {
		b[1] |= 0x40
	}
	cc := m.CC[pid]
	m.CC[pid] = (cc + 1) & 0x0F
	room := tsPacketSize - 4
	n := min(len(payload), room)
	if af != nil || n < room {
		afLen := max(len(af), 1) // at least the flags byte
		if n > room-1-afLen {
			n = room - 1 - afLen
		}
		afLen = room - 1 - n
		b[3] = 0x30 | cc
		b[4] = byte(afLen)
		if afLen > 0 {
			for i := 5; i < 5+afLen; i++ {
				b[i] = 0xFF
			}
			b[5] = 0
			copy(b[5:], af)
		}
		copy(b[5+afLen:], payload[:n])
	} else {
		b[3] = 0x10 | cc
		copy(b[4:], payload[:n])
	}
	m.Out = append(m.Out, b...)
	return n
}

// Section appends a PSI section with its CRC on pid.
func (m *Muxer) Section(pid uint16, tableID byte, ext uint16, body []byte) {
	sec := []byte{tableID, 0, 0, byte(ext >> 8), byte(ext), 0xC1 | m.version<<1, 0, 0}
	sec = append(sec, body...)
	l := len(sec) - 3 + 4
	sec[1] = 0xB0 | byte(l>>8)
	sec[2] = byte(l)
	crc := crc32MPEG2(sec)
	sec = binary.BigEndian.AppendUint32(sec, crc)
	m.Packet(pid, true, nil, append([]byte{0}, sec...))
}

// Tables appends a PAT and a PMT.
func (m *Muxer) Tables() {
	m.Section(pidPAT, 0x00, 1, []byte{0, 1, 0xE0 | byte(m.pmtPID>>8), byte(m.pmtPID)})
	body := []byte{0xE0 | byte(m.VideoPID>>8), byte(m.VideoPID), 0xF0, 0}
	if m.videoST != 0 {
		body = append(body, m.videoST, 0xE0|byte(m.VideoPID>>8), byte(m.VideoPID), 0xF0, 0)
	}
	if m.audioST != 0 {
		body = append(body, m.audioST, 0xE0|byte(m.AudioPID>>8), byte(m.AudioPID), 0xF0|byte(len(m.AudioDesc)>>8), byte(len(m.AudioDesc)))
		body = append(body, m.AudioDesc...)
	}
	m.Section(m.pmtPID, 0x02, 1, body)
}

// PES appends one PES packet carrying data with the given timestamps (dts
// < 0: PTS only). A video PES has PES_packet_length 0 and carries the PCR;
// pcrDisc sets the discontinuity_indicator on its first packet.
func (m *Muxer) PES(pid uint16, pts, dts int64, data []byte, pcrDisc bool) {
	streamID := byte(0xE0)
	if pid == m.AudioPID {
		streamID = 0xC0
		if m.audioST == StreamTypePrivate {
			streamID = 0xBD
		}
	}
	hdr := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5}
	hdr = append(hdr, Timestamp(0x2, pts)...)
	if dts >= 0 {
		hdr[7], hdr[8] = 0xC0, 10
		hdr[len(hdr)-5] = hdr[len(hdr)-5]&0x0F | 0x30
		hdr = append(hdr, Timestamp(0x1, dts)...)
	}
	if pid == m.AudioPID {
		l := len(hdr) - 6 + len(data)
		binary.BigEndian.PutUint16(hdr[4:6], uint16(l))
	}
	payload := append(hdr, data...)
	var af []byte
	if pid == m.VideoPID {
		pcr := pts
		if dts >= 0 {
			pcr = dts
		}
		pcr -= 9000
		af = []byte{0x10, byte(pcr >> 25), byte(pcr >> 17), byte(pcr >> 9), byte(pcr >> 1), byte(pcr<<7) | 0x7E, 0}
		if pcrDisc {
			af[0] |= 0x80
		}
	}
	first := true
	for len(payload) > 0 {
		var n int
		if first {
			n = m.Packet(pid, true, af, payload)
		} else {
			n = m.Packet(pid, false, nil, payload)
		}
		first = false
		payload = payload[n:]
	}
}

// Timestamp encodes a 33-bit PES timestamp with its 4-bit prefix
// (ISO/IEC 13818-1 §2.4.3.7).
func Timestamp(prefix byte, ts int64) []byte {
	ts &= tsWrapMask
	return []byte{
		prefix<<4 | byte(ts>>29)&0x0E | 1,
		byte(ts >> 22),
		byte(ts>>14) | 1,
		byte(ts >> 7),
		byte(ts<<1) | 1,
	}
}

// AnnexB joins NAL units with start codes.
func AnnexB(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// H264Frame is an access unit: an AUD, then an IDR with SPS/PPS (key) or a
// non-IDR slice; size pads the slice.
func H264Frame(key bool, sps []byte, size int) []byte {
	slice := make([]byte, size)
	for i := range slice {
		slice[i] = byte(i%250) + 1
	}
	if key {
		slice[0] = 0x65
		return AnnexB([]byte{0x09, 0xF0}, sps, PPS, slice)
	}
	slice[0] = 0x41
	return AnnexB([]byte{0x09, 0xF0}, slice)
}

// ADTS wraps raw AAC frames into ADTS (AAC-LC, 48 kHz, stereo).
func ADTS(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		n := len(f) + 7
		b = append(b, 0xFF, 0xF1, 0x4C, 0x80|byte(n>>11), byte(n>>3), byte(n<<5)|0x1F, 0xFC)
		b = append(b, f...)
	}
	return b
}

// OpusAU wraps Opus packets into opus_control_headers.
func OpusAU(pkts ...[]byte) []byte {
	var b []byte
	for _, p := range pkts {
		b = append(b, 0x7F, 0xE0)
		n := len(p)
		for n >= 255 {
			b = append(b, 0xFF)
			n -= 255
		}
		b = append(b, byte(n))
		b = append(b, p...)
	}
	return b
}

// AVClip writes frames of H.264 (30 fps, key every gop frames, B-frame
// style PTS = DTS + 2 frames) and AAC (one 1024-sample frame per PES),
// starting at the 90 kHz time start; mod may alter the muxer before each
// video frame i.
func AVClip(m *Muxer, frames, gop int, start int64, mod func(i int, m *Muxer) (pcrDisc bool)) {
	m.Tables()
	const frameTicks = 3000
	audioTicks := int64(1024 * tsClock / 48000)
	at := start
	for i := range frames {
		disc := false
		if mod != nil {
			disc = mod(i, m)
		}
		dts := start + int64(i)*frameTicks
		m.PES(m.VideoPID, dts+2*frameTicks, dts, H264Frame(i%gop == 0, SPS, 400), disc)
		for at <= dts {
			m.PES(m.AudioPID, at, -1, ADTS(make([]byte, 50)), false)
			at += audioTicks
		}
		if i%10 == 9 {
			m.Tables()
		}
	}
	// a last packet so that the final video PES completes: the start of a
	// PES that fills its packet (a stuffed one would end at once)
	m.Packet(m.VideoPID, true, nil, append([]byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0}, make([]byte, tsPacketSize-4-9)...))
}

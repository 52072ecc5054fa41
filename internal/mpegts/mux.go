package mpegts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// PIDs and clock of the Muxer (ISO/IEC 13818-1).
const (
	muxPIDPMT   = 0x1000
	muxPIDVideo = 0x100
	muxPIDAudio = 0x101
	muxClock    = 90000
)

// Pad keeps the Muxer's timestamps positive: the DTS equal to the base
// maps to 10 s.
const Pad = 10 * time.Second

// ErrUnsupportedCodec is returned by NewMuxer for a codec the Muxer cannot
// carry.
var ErrUnsupportedCodec = errors.New("codec not supported in MPEG-TS")

// Muxer writes a stream's access units as one MPEG-TS program (ISO/IEC
// 13818-1): H.264 or H.265 video (Annex B with an AUD, PAT/PMT before every
// key frame, PCR on the video PID) and AAC (ADTS) or Opus (ETSI TS 102 366
// style control headers) audio. Timestamps are the stream timeline minus
// the base plus Pad. It feeds ffmpeg (the transcoder's input) and SRT
// restream targets; it is not safe for concurrent use.
type Muxer struct {
	w      io.Writer
	tracks []stream.Track
	vIdx   int // -1: none
	aIdx   int
	base   time.Duration
	cc     [3]uint8 // PMT, video, audio
	buf    []byte
	pkt    [tsPacketSize]byte
	adts   [7]byte
}

// NewMuxer returns a Muxer writing to w the tracks of a stream (copied; the
// Muxer follows codec changes carried by units), with base the stream DTS
// that maps to Pad.
func NewMuxer(w io.Writer, tracks []stream.Track, base time.Duration) (*Muxer, error) {
	m := &Muxer{w: w, tracks: append([]stream.Track(nil), tracks...), vIdx: -1, aIdx: -1, base: base}
	for i, t := range tracks {
		switch c := t.Codec.(type) {
		case stream.H264, stream.H265:
			if m.vIdx < 0 {
				m.vIdx = i
			}
		case stream.AAC:
			if m.aIdx < 0 {
				if _, err := adtsHeader(c.Config, 0); err != nil {
					return nil, err
				}
				m.aIdx = i
			}
		case stream.Opus:
			if m.aIdx < 0 {
				m.aIdx = i
			}
		default:
			return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, t.Codec.Name())
		}
	}
	if m.vIdx < 0 {
		return nil, fmt.Errorf("%w: no H.264 or H.265 video", ErrUnsupportedCodec)
	}
	return m, nil
}

// VideoTrack is the index of the video track the Muxer carries.
func (m *Muxer) VideoTrack() int { return m.vIdx }

// SetBase sets the stream DTS that maps to Pad.
func (m *Muxer) SetBase(b time.Duration) { m.base = b }

func (m *Muxer) ticks(d time.Duration) int64 {
	return int64((d - m.base + Pad) * muxClock / time.Second)
}

// Write muxes one unit. Units of tracks the Muxer does not carry are
// skipped.
func (m *Muxer) Write(u *stream.Unit) error {
	switch u.Track {
	case m.vIdx:
		if u.Codec != nil {
			m.tracks[u.Track].Codec = u.Codec
		}
		if u.Key {
			if err := m.tables(); err != nil {
				return err
			}
		}
		es := m.videoES(u)
		return m.pes(muxPIDVideo, 0xE0, m.ticks(u.PTS), m.ticks(u.DTS), es, u.Key)
	case m.aIdx:
		var es []byte
		switch c := m.tracks[u.Track].Codec.(type) {
		case stream.AAC:
			if nc, ok := u.Codec.(stream.AAC); ok {
				c = nc
				m.tracks[u.Track].Codec = nc
			}
			h, err := adtsHeader(c.Config, len(u.Data))
			if err != nil {
				return err
			}
			es = append(h[:], u.Data...)
			return m.pes(muxPIDAudio, 0xC0, m.ticks(u.PTS), -1, es, false)
		case stream.Opus:
			es = append(es, 0x7F, 0xE0)
			n := len(u.Data)
			for n >= 255 {
				es = append(es, 0xFF)
				n -= 255
			}
			es = append(es, byte(n))
			es = append(es, u.Data...)
			return m.pes(muxPIDAudio, 0xBD, m.ticks(u.PTS), -1, es, false)
		}
	}
	return nil
}

// videoES is the Annex B access unit, with an AUD first and, on key frames,
// the parameter sets ahead of the slices when the unit lacks them.
func (m *Muxer) videoES(u *stream.Unit) []byte {
	var b []byte
	h265 := false
	var ps [][]byte
	switch c := m.tracks[m.vIdx].Codec.(type) {
	case stream.H264:
		b = append(b, 0, 0, 0, 1, 0x09, 0xF0)
		ps = [][]byte{c.SPS, c.PPS}
	case stream.H265:
		h265 = true
		b = append(b, 0, 0, 0, 1, 35<<1, 1, 0x50)
		ps = [][]byte{c.VPS, c.SPS, c.PPS}
	}
	hasPS := false
	for _, n := range u.NALUs {
		if len(n) == 0 {
			continue
		}
		if (!h265 && n[0]&0x1F == 7) || (h265 && (n[0]>>1)&0x3F == 32) {
			hasPS = true
		}
	}
	if u.Key && !hasPS {
		for _, p := range ps {
			if len(p) > 0 {
				b = append(b, 0, 0, 0, 1)
				b = append(b, p...)
			}
		}
	}
	for _, n := range u.NALUs {
		if len(n) == 0 {
			continue
		}
		if (!h265 && n[0]&0x1F == 9) || (h265 && (n[0]>>1)&0x3F == 35) {
			continue // our AUD is already first
		}
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// adtsHeader builds the ADTS header (ISO/IEC 14496-3 §1.A.2) of a raw AAC
// frame of n bytes from an AudioSpecificConfig.
func adtsHeader(asc []byte, n int) ([7]byte, error) {
	var h [7]byte
	if len(asc) < 2 {
		return h, fmt.Errorf("%w: AudioSpecificConfig too short", ErrUnsupportedCodec)
	}
	obj := asc[0] >> 3
	freq := (asc[0]&0x07)<<1 | asc[1]>>7
	ch := (asc[1] >> 3) & 0x0F
	if obj < 1 || obj > 4 || freq > 12 {
		return h, fmt.Errorf("%w: AAC object type %d, frequency index %d", ErrUnsupportedCodec, obj, freq)
	}
	l := n + 7
	h[0] = 0xFF
	h[1] = 0xF1
	h[2] = (obj-1)<<6 | freq<<2 | ch>>2
	h[3] = (ch&3)<<6 | byte(l>>11)
	h[4] = byte(l >> 3)
	h[5] = byte(l<<5) | 0x1F
	h[6] = 0xFC
	return h, nil
}

func (m *Muxer) tables() error {
	m.buf = m.buf[:0]
	pat := m.section(0x00, 1, []byte{0, 1, 0xE0 | muxPIDPMT>>8, muxPIDPMT & 0xFF})
	if err := m.psi(0, nil, pat); err != nil {
		return err
	}
	vst := byte(0x1B)
	if _, ok := m.tracks[m.vIdx].Codec.(stream.H265); ok {
		vst = 0x24
	}
	body := []byte{0xE0 | muxPIDVideo>>8, muxPIDVideo & 0xFF, 0xF0, 0}
	body = append(body, vst, 0xE0|muxPIDVideo>>8, muxPIDVideo&0xFF, 0xF0, 0)
	if m.aIdx >= 0 {
		switch c := m.tracks[m.aIdx].Codec.(type) {
		case stream.AAC:
			body = append(body, 0x0F, 0xE0|muxPIDAudio>>8, muxPIDAudio&0xFF, 0xF0, 0)
		case stream.Opus:
			dsc := []byte{0x05, 4, 'O', 'p', 'u', 's', 0x7F, 2, 0x80, byte(c.ChannelCount)}
			body = append(body, 0x06, 0xE0|muxPIDAudio>>8, muxPIDAudio&0xFF, 0xF0, byte(len(dsc)))
			body = append(body, dsc...)
		}
	}
	pmt := m.section(0x02, 1, body)
	return m.psi(muxPIDPMT, &m.cc[0], pmt)
}

func (m *Muxer) section(tableID byte, ext uint16, body []byte) []byte {
	sec := []byte{tableID, 0, 0, byte(ext >> 8), byte(ext), 0xC1, 0, 0}
	sec = append(sec, body...)
	l := len(sec) - 3 + 4
	sec[1] = 0xB0 | byte(l>>8)
	sec[2] = byte(l)
	return binary.BigEndian.AppendUint32(sec, crc32MPEG2(sec))
}

func (m *Muxer) psi(pid uint16, cc *uint8, sec []byte) error {
	var c uint8
	if cc == nil {
		cc = &c
	}
	_, err := m.packet(pid, cc, true, nil, append([]byte{0}, sec...))
	return err
}

// packet writes one TS packet with as much of payload as fits; af is the
// adaptation field body (flags onwards), nil for none. Short payloads are
// padded with adaptation field stuffing.
func (m *Muxer) packet(pid uint16, cc *uint8, pusi bool, af []byte, payload []byte) (int, error) {
	b := m.pkt[:]
	b[0] = 0x47
	binary.BigEndian.PutUint16(b[1:3], pid&0x1FFF)
	if pusi {
		b[1] |= 0x40
	}
	c := *cc
	*cc = (c + 1) & 0x0F
	room := tsPacketSize - 4
	n := min(len(payload), room)
	if af != nil || n < room {
		afLen := max(len(af), 1)
		if n > room-1-afLen {
			n = room - 1 - afLen
		}
		afLen = room - 1 - n
		b[3] = 0x30 | c
		b[4] = byte(afLen)
		for i := 5; i < 5+afLen; i++ {
			b[i] = 0xFF
		}
		if afLen > 0 {
			b[5] = 0
			copy(b[5:], af)
		}
		copy(b[5+afLen:], payload[:n])
	} else {
		b[3] = 0x10 | c
		copy(b[4:], payload[:n])
	}
	_, err := m.w.Write(b)
	return n, err
}

func (m *Muxer) pes(pid uint16, streamID byte, pts, dts int64, data []byte, key bool) error {
	hdr := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5}
	hdr = append(hdr, muxTimestamp(0x2, pts)...)
	if dts >= 0 && dts != pts {
		hdr[7], hdr[8] = 0xC0, 10
		hdr[9] = hdr[9]&0x0F | 0x30
		hdr = append(hdr, muxTimestamp(0x1, dts)...)
	}
	// PES_packet_length (§2.4.3.7) whenever it fits, video included (0,
	// unbounded, is allowed for video only, and makes a demuxer such as
	// ffmpeg's hold the frame until the next one starts): a reader can
	// hand the frame on as soon as its last byte is in.
	if l := len(hdr) - 6 + len(data); l <= 0xFFFF {
		binary.BigEndian.PutUint16(hdr[4:6], uint16(l))
	}
	payload := append(hdr, data...)
	cc := &m.cc[1]
	var af []byte
	if pid == muxPIDVideo {
		pcr := dts
		if pcr < 0 {
			pcr = pts
		}
		pcr -= 9000 // PCR a little behind DTS
		pcr = max(pcr, 0)
		af = []byte{0x10, byte(pcr >> 25), byte(pcr >> 17), byte(pcr >> 9), byte(pcr >> 1), byte(pcr<<7) | 0x7E, 0}
		if key {
			af[0] |= 0x40 // random_access_indicator
		}
	} else {
		cc = &m.cc[2]
	}
	first := true
	for len(payload) > 0 {
		var n int
		var err error
		if first {
			n, err = m.packet(pid, cc, true, af, payload)
		} else {
			n, err = m.packet(pid, cc, false, nil, payload)
		}
		if err != nil {
			return err
		}
		first = false
		payload = payload[n:]
	}
	return nil
}

func muxTimestamp(prefix byte, ts int64) []byte {
	ts &= 1<<33 - 1
	return []byte{
		prefix<<4 | byte(ts>>29)&0x0E | 1,
		byte(ts >> 22),
		byte(ts>>14) | 1,
		byte(ts >> 7),
		byte(ts<<1) | 1,
	}
}

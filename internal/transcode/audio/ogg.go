package audio

import (
	"encoding/binary"
	"errors"
)

// opusSamples returns the number of 48 kHz samples in an Opus packet from its
// TOC byte and frame count (RFC 6716 §3.1, §3.2.5), or 0 if malformed.
func opusSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	cfg := int(toc >> 3)
	var per int // samples per frame at 48 kHz
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		per = [4]int{480, 960, 1920, 2880}[cfg%4]
	case cfg < 16: // hybrid: 10, 20 ms
		per = [2]int{480, 960}[cfg%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		per = [4]int{120, 240, 480, 960}[cfg%4]
	}
	var frames int
	switch toc & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	default:
		if len(p) < 2 {
			return 0
		}
		frames = int(p[1] & 0x3f)
	}
	if n := per * frames; n <= 5760 { // at most 120 ms
		return n
	}
	return 0
}

// oggCRCTable is the CRC-32 of Ogg pages: polynomial 0x04c11db7, not
// reflected, initial value 0 (RFC 3533 §6).
type oggCRCTable [256]uint32

func newOggCRCTable() *oggCRCTable {
	var t oggCRCTable
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return &t
}

func (t *oggCRCTable) sum(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c = c<<8 ^ t[byte(c>>24)^x]
	}
	return c
}

var errOggPacketTooLarge = errors.New("ogg: packet larger than one page")

// oggOpusWriter frames Opus packets into an Ogg Opus stream (RFC 7845): the
// OpusHead and OpusTags header pages, then one packet per page so that
// ffmpeg receives every packet as soon as it is written.
type oggOpusWriter struct {
	crc    *oggCRCTable
	serial uint32
	seq    uint32
}

func newOggOpusWriter(serial uint32) *oggOpusWriter {
	return &oggOpusWriter{crc: newOggCRCTable(), serial: serial}
}

// headers returns the two header pages (RFC 7845 §5.1, §5.2) for channels
// channels and a pre-skip of 0 (the packets come from a running encoder).
func (w *oggOpusWriter) headers(channels int) []byte {
	head := make([]byte, 19)
	copy(head, "OpusHead")
	head[8] = 1
	head[9] = byte(channels)
	binary.LittleEndian.PutUint16(head[10:], 0)     // pre-skip
	binary.LittleEndian.PutUint32(head[12:], 48000) // input sample rate
	// output gain 0, channel mapping family 0
	tags := []byte("OpusTags\x08\x00\x00\x00mpegflow\x00\x00\x00\x00")
	p1, _ := w.page(head, 0, 0x02)
	p2, _ := w.page(tags, 0, 0)
	return append(p1, p2...)
}

// page returns one Ogg page (RFC 3533 §6) holding packet, with granule
// position granule.
func (w *oggOpusWriter) page(packet []byte, granule uint64, flags byte) ([]byte, error) {
	nseg := len(packet)/255 + 1
	if nseg > 255 {
		return nil, errOggPacketTooLarge
	}
	b := make([]byte, 27+nseg+len(packet))
	copy(b, "OggS")
	b[5] = flags
	binary.LittleEndian.PutUint64(b[6:], granule)
	binary.LittleEndian.PutUint32(b[14:], w.serial)
	binary.LittleEndian.PutUint32(b[18:], w.seq)
	w.seq++
	b[26] = byte(nseg)
	for i := range nseg - 1 {
		b[27+i] = 255
	}
	b[27+nseg-1] = byte(len(packet) % 255)
	copy(b[27+nseg:], packet)
	binary.LittleEndian.PutUint32(b[22:], w.crc.sum(b))
	return b, nil
}

package hls

import (
	"encoding/binary"
)

// boxWriter appends big-endian fields to a byte slice.
type boxWriter struct{ b []byte }

func (w *boxWriter) u8(v byte)      { w.b = append(w.b, v) }
func (w *boxWriter) u16(v uint16)   { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *boxWriter) u24(v uint32)   { w.b = append(w.b, byte(v>>16), byte(v>>8), byte(v)) }
func (w *boxWriter) u32(v uint32)   { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *boxWriter) u64(v uint64)   { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *boxWriter) bytes(v []byte) { w.b = append(w.b, v...) }
func (w *boxWriter) str(v string)   { w.b = append(w.b, v...) }

// descriptor writes an ISO/IEC 14496-1 §8.3.3 descriptor with a 4-byte size.
func (w *boxWriter) descriptor(tag byte, body []byte) {
	n := len(body)
	w.b = append(w.b, tag, byte(n>>21)&0x7F|0x80, byte(n>>14)&0x7F|0x80, byte(n>>7)&0x7F|0x80, byte(n)&0x7F)
	w.b = append(w.b, body...)
}

// box returns a box (ISO/IEC 14496-12 §4.2) of the given type around the
// concatenated children.
func box(typ string, children ...[]byte) []byte {
	n := 8
	for _, c := range children {
		n += len(c)
	}
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint32(b, uint32(n))
	copy(b[4:], typ)
	for _, c := range children {
		b = append(b, c...)
	}
	return b
}

// fullBox is box with a version and flags (ISO/IEC 14496-12 §4.2).
func fullBox(typ string, version byte, flags uint32, children ...[]byte) []byte {
	vf := []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
	return box(typ, append([][]byte{vf}, children...)...)
}

var unityMatrix = [9]uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000}

// visualSampleEntry is ISO/IEC 14496-12 §12.1.3.
func visualSampleEntry(typ string, width, height int, config []byte) []byte {
	var w boxWriter
	w.bytes(make([]byte, 6))
	w.u16(1) // data_reference_index
	w.bytes(make([]byte, 16))
	w.u16(uint16(width))
	w.u16(uint16(height))
	w.u32(0x00480000)
	w.u32(0x00480000)
	w.u32(0)
	w.u16(1) // frame_count
	w.bytes(make([]byte, 32))
	w.u16(0x0018)
	w.u16(0xFFFF)
	return box(typ, w.b, config)
}

// audioSampleEntry is ISO/IEC 14496-12 §12.2.3.
func audioSampleEntry(typ string, channels, rate int, config []byte) []byte {
	var w boxWriter
	w.bytes(make([]byte, 6))
	w.u16(1)
	w.bytes(make([]byte, 8))
	w.u16(uint16(channels))
	w.u16(16)
	w.u32(0)
	w.u32(uint32(rate) << 16)
	return box(typ, w.b, config)
}

// initSegment builds ftyp + moov (ISO/IEC 14496-12 §8.2.1, §8.8.1) for the
// tracks, with track IDs 1..n in order.
func initSegment(tracks []*trackInfo) []byte {
	ftyp := box("ftyp", []byte("iso5\x00\x00\x02\x00iso5iso6mp41"))

	var mvhd boxWriter
	mvhd.u32(0) // creation
	mvhd.u32(0) // modification
	mvhd.u32(1000)
	mvhd.u32(0)          // duration
	mvhd.u32(0x00010000) // rate
	mvhd.u16(0x0100)     // volume
	mvhd.bytes(make([]byte, 10))
	for _, v := range unityMatrix {
		mvhd.u32(v)
	}
	mvhd.bytes(make([]byte, 24))
	mvhd.u32(uint32(len(tracks) + 1))

	children := [][]byte{fullBox("mvhd", 0, 0, mvhd.b)}
	var mvex [][]byte
	for i, t := range tracks {
		id := uint32(i + 1)
		children = append(children, trak(id, t))
		var trex boxWriter
		trex.u32(id)
		trex.u32(1)
		trex.u32(0)
		trex.u32(0)
		trex.u32(0)
		mvex = append(mvex, fullBox("trex", 0, 0, trex.b))
	}
	children = append(children, box("mvex", mvex...))
	moov := box("moov", children...)
	out := make([]byte, 0, len(ftyp)+len(moov))
	return append(append(out, ftyp...), moov...)
}

func trak(id uint32, t *trackInfo) []byte {
	var tkhd boxWriter
	tkhd.u32(0)
	tkhd.u32(0)
	tkhd.u32(id)
	tkhd.u32(0)
	tkhd.u32(0) // duration
	tkhd.bytes(make([]byte, 8))
	tkhd.u16(0) // layer
	if t.video {
		tkhd.u16(0)
		tkhd.u16(0)
	} else {
		tkhd.u16(1) // alternate_group
		tkhd.u16(0x0100)
	}
	tkhd.u16(0)
	for _, v := range unityMatrix {
		tkhd.u32(v)
	}
	tkhd.u32(uint32(t.width) << 16)
	tkhd.u32(uint32(t.height) << 16)

	var mdhd boxWriter
	mdhd.u32(0)
	mdhd.u32(0)
	mdhd.u32(t.timescale)
	mdhd.u32(0)
	mdhd.u16(0x55C4) // "und"
	mdhd.u16(0)

	var hdlr boxWriter
	hdlr.u32(0)
	var mhd []byte
	if t.video {
		hdlr.str("vide")
		hdlr.bytes(make([]byte, 12))
		hdlr.str("VideoHandler\x00")
		mhd = fullBox("vmhd", 0, 1, make([]byte, 8))
	} else {
		hdlr.str("soun")
		hdlr.bytes(make([]byte, 12))
		hdlr.str("SoundHandler\x00")
		mhd = fullBox("smhd", 0, 0, make([]byte, 4))
	}
	dinf := box("dinf", fullBox("dref", 0, 0, []byte{0, 0, 0, 1}, fullBox("url ", 0, 1)))
	stbl := box("stbl",
		fullBox("stsd", 0, 0, []byte{0, 0, 0, 1}, t.sampleEntry),
		fullBox("stts", 0, 0, make([]byte, 4)),
		fullBox("stsc", 0, 0, make([]byte, 4)),
		fullBox("stsz", 0, 0, make([]byte, 8)),
		fullBox("stco", 0, 0, make([]byte, 4)),
	)
	return box("trak",
		fullBox("tkhd", 0, 3, tkhd.b),
		box("mdia",
			fullBox("mdhd", 0, 0, mdhd.b),
			fullBox("hdlr", 0, 0, hdlr.b),
			box("minf", mhd, dinf, stbl),
		),
	)
}

// sampleMeta is one sample of a track run.
type sampleMeta struct {
	duration uint32
	size     uint32
	cto      int32 // composition time offset (PTS - DTS) in ticks
	sync     bool
}

// fragTrack is the content of one track in a fragment.
type fragTrack struct {
	id       uint32
	baseTime uint64 // tfdt, in the track's timescale
	samples  []sampleMeta
	data     []byte
	video    bool
}

// Sample flags, ISO/IEC 14496-12 §8.8.3.1.
const (
	sampleFlagsSync    = 0x02000000 // sample_depends_on = 2
	sampleFlagsNonSync = 0x01010000 // sample_depends_on = 1, sample_is_non_sync_sample
)

// trunFlags returns the trun flags and the size of one sample entry (ISO/IEC 14496-12 §8.8.8).
func (t *fragTrack) trunFlags() (flags uint32, entry int) {
	flags = 0x1 | 0x100 | 0x200 // data offset, duration, size
	entry = 8
	if t.video {
		flags |= 0x400 | 0x800 // flags, composition offset
		entry += 8
	}
	return flags, entry
}

// fragment writes moof + mdat (ISO/IEC 14496-12 §8.8.4, §8.1.1) for the tracks
// into one newly allocated slice, using trun version 1 (signed composition offsets).
func fragment(seq uint32, tracks []fragTrack) []byte {
	moofSize := 8 + 16 // moof + mfhd
	dataSize := 0
	for _, t := range tracks {
		if len(t.samples) == 0 {
			continue
		}
		_, entry := t.trunFlags()
		moofSize += 8 + 16 + 20 + 20 + entry*len(t.samples) // traf, tfhd, tfdt v1, trun header
		dataSize += len(t.data)
	}
	total := moofSize + 8 + dataSize
	b := make([]byte, 0, total)
	be := binary.BigEndian
	b = be.AppendUint32(b, uint32(moofSize))
	b = append(b, "moof"...)
	b = be.AppendUint32(b, 16)
	b = append(b, "mfhd"...)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, seq)
	dataOffset := moofSize + 8
	for _, t := range tracks {
		if len(t.samples) == 0 {
			continue
		}
		flags, entry := t.trunFlags()
		trunSize := 20 + entry*len(t.samples)
		b = be.AppendUint32(b, uint32(8+16+20+trunSize))
		b = append(b, "traf"...)
		b = be.AppendUint32(b, 16)
		b = append(b, "tfhd"...)
		b = be.AppendUint32(b, 0x020000) // default-base-is-moof
		b = be.AppendUint32(b, t.id)
		b = be.AppendUint32(b, 20)
		b = append(b, "tfdt"...)
		b = be.AppendUint32(b, 1<<24)
		b = be.AppendUint64(b, t.baseTime)
		b = be.AppendUint32(b, uint32(trunSize))
		b = append(b, "trun"...)
		b = be.AppendUint32(b, 1<<24|flags)
		b = be.AppendUint32(b, uint32(len(t.samples)))
		b = be.AppendUint32(b, uint32(dataOffset))
		for _, s := range t.samples {
			b = be.AppendUint32(b, s.duration)
			b = be.AppendUint32(b, s.size)
			if t.video {
				if s.sync {
					b = be.AppendUint32(b, sampleFlagsSync)
				} else {
					b = be.AppendUint32(b, sampleFlagsNonSync)
				}
				b = be.AppendUint32(b, uint32(s.cto))
			}
		}
		dataOffset += len(t.data)
	}
	b = be.AppendUint32(b, uint32(8+dataSize))
	b = append(b, "mdat"...)
	for _, t := range tracks {
		if len(t.samples) > 0 {
			b = append(b, t.data...)
		}
	}
	return b
}

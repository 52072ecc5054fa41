package transcode

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// Matroska element ids (the Matroska specification, RFC 9559 §5.1).
const (
	mkvEBML               = 0x1A45DFA3
	mkvEBMLVersion        = 0x4286
	mkvEBMLReadVersion    = 0x42F7
	mkvEBMLMaxIDLength    = 0x42F2
	mkvEBMLMaxSizeLength  = 0x42F3
	mkvDocType            = 0x4282
	mkvDocTypeVersion     = 0x4287
	mkvDocTypeReadVersion = 0x4285
	mkvSegment            = 0x18538067
	mkvInfo               = 0x1549A966
	mkvTimestampScale     = 0x2AD7B1
	mkvMuxingApp          = 0x4D80
	mkvWritingApp         = 0x5741
	mkvTracks             = 0x1654AE6B
	mkvTrackEntry         = 0xAE
	mkvTrackNumber        = 0xD7
	mkvTrackUID           = 0x73C5
	mkvTrackType          = 0x83
	mkvFlagLacing         = 0x9C
	mkvCodecID            = 0x86
	mkvCodecPrivate       = 0x63A2
	mkvVideo              = 0xE0
	mkvPixelWidth         = 0xB0
	mkvPixelHeight        = 0xBA
	mkvAudio              = 0xE1
	mkvSamplingFrequency  = 0xB5
	mkvChannels           = 0x9F
	mkvCluster            = 0x1F43B675
	mkvTimestamp          = 0xE7
	mkvSimpleBlock        = 0xA3
)

// mkvMuxer writes the source's access units as live Matroska (RFC 9559)
// for ffmpeg's stdin, for video codecs MPEG-TS cannot carry (VP8, VP9 as V_VP8, V_VP9): a
// Segment of unknown size (§6.2, live streaming), then one Cluster per
// unit, each holding one SimpleBlock (§10.2), so nothing is held back.
// Timestamps are milliseconds (TimestampScale 1 000 000 ns) of the stream
// timeline minus base plus tsPad, like tsMuxer's. Audio is AAC
// (A_AAC, CodecPrivate = AudioSpecificConfig) or Opus (A_OPUS, OpusHead).
type mkvMuxer struct {
	w      io.Writer
	tracks []stream.Track
	vIdx   int // -1: none
	aIdx   int
	base   time.Duration
	header bool
	buf    []byte
}

func newMKVMuxer(w io.Writer, tracks []stream.Track, base time.Duration) (*mkvMuxer, error) {
	m := &mkvMuxer{w: w, tracks: tracks, vIdx: -1, aIdx: -1, base: base}
	for i, t := range tracks {
		switch c := t.Codec.(type) {
		case stream.VP8, stream.VP9:
			if m.vIdx < 0 {
				m.vIdx = i
			}
		case stream.AAC:
			if m.aIdx < 0 {
				if _, _, err := ascRateChannels(c.Config); err != nil {
					return nil, err
				}
				m.aIdx = i
			}
		case stream.Opus:
			if m.aIdx < 0 {
				m.aIdx = i
			}
		default:
			return nil, fmt.Errorf("%w: %s in matroska", errUnsupportedCodec, t.Codec.Name())
		}
	}
	if m.vIdx < 0 {
		return nil, fmt.Errorf("%w: no VP8/VP9 video", errUnsupportedCodec)
	}
	return m, nil
}

// ascRateChannels reads the sampling frequency and channel configuration of
// an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
func ascRateChannels(asc []byte) (rate, channels int, err error) {
	if len(asc) < 2 {
		return 0, 0, fmt.Errorf("%w: AudioSpecificConfig too short", errUnsupportedCodec)
	}
	rates := [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
	freq := int((asc[0]&0x07)<<1 | asc[1]>>7)
	if freq >= len(rates) {
		return 0, 0, fmt.Errorf("%w: AAC frequency index %d", errUnsupportedCodec, freq)
	}
	return rates[freq], int((asc[1] >> 3) & 0x0F), nil
}

// ebmlID appends an element id (ids carry their own length marker).
func ebmlID(b []byte, id uint32) []byte {
	switch {
	case id > 0xFFFFFF:
		return append(b, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	case id > 0xFFFF:
		return append(b, byte(id>>16), byte(id>>8), byte(id))
	case id > 0xFF:
		return append(b, byte(id>>8), byte(id))
	}
	return append(b, byte(id))
}

// ebmlSize appends a data size as an 8-byte variable-size integer
// (RFC 8794 §4), which every size fits.
func ebmlSize(b []byte, n int) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(n)|0x01<<56)
}

func ebmlElem(b []byte, id uint32, data []byte) []byte {
	return append(ebmlSize(ebmlID(b, id), len(data)), data...)
}

func ebmlUint(b []byte, id uint32, v uint64) []byte {
	return ebmlElem(b, id, binary.BigEndian.AppendUint64(nil, v))
}

func ebmlFloat(b []byte, id uint32, v float64) []byte {
	return ebmlElem(b, id, binary.BigEndian.AppendUint64(nil, math.Float64bits(v)))
}

func ebmlString(b []byte, id uint32, s string) []byte { return ebmlElem(b, id, []byte(s)) }

// opusHead is the Opus identification header (RFC 7845 §5.1), Matroska's
// A_OPUS CodecPrivate.
func opusHead(channels int) []byte {
	h := []byte("OpusHead")
	h = append(h, 1, byte(channels))
	h = binary.LittleEndian.AppendUint16(h, 0)     // pre-skip
	h = binary.LittleEndian.AppendUint32(h, 48000) // input sample rate
	h = binary.LittleEndian.AppendUint16(h, 0)     // output gain
	return append(h, 0)                            // mapping family 0
}

// headerBytes is the EBML header, the start of the Segment, Info and
// Tracks.
func (m *mkvMuxer) headerBytes() []byte {
	var hdr []byte
	hdr = ebmlUint(hdr, mkvEBMLVersion, 1)
	hdr = ebmlUint(hdr, mkvEBMLReadVersion, 1)
	hdr = ebmlUint(hdr, mkvEBMLMaxIDLength, 4)
	hdr = ebmlUint(hdr, mkvEBMLMaxSizeLength, 8)
	hdr = ebmlString(hdr, mkvDocType, "matroska")
	hdr = ebmlUint(hdr, mkvDocTypeVersion, 4)
	hdr = ebmlUint(hdr, mkvDocTypeReadVersion, 2)
	b := ebmlElem(nil, mkvEBML, hdr)
	b = ebmlID(b, mkvSegment)
	b = append(b, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF) // unknown size

	var info []byte
	info = ebmlUint(info, mkvTimestampScale, 1000000)
	info = ebmlString(info, mkvMuxingApp, "mpegflow")
	info = ebmlString(info, mkvWritingApp, "mpegflow")
	b = ebmlElem(b, mkvInfo, info)

	var tracks []byte
	codecID, width, height := "V_VP8", 0, 0
	switch v := m.tracks[m.vIdx].Codec.(type) {
	case stream.VP8:
		width, height = v.Width, v.Height
	case stream.VP9:
		codecID, width, height = "V_VP9", v.Width, v.Height
	}
	var te []byte
	te = ebmlUint(te, mkvTrackNumber, 1)
	te = ebmlUint(te, mkvTrackUID, 1)
	te = ebmlUint(te, mkvTrackType, 1)
	te = ebmlUint(te, mkvFlagLacing, 0)
	te = ebmlString(te, mkvCodecID, codecID)
	var vid []byte
	vid = ebmlUint(vid, mkvPixelWidth, uint64(max(width, 0)))
	vid = ebmlUint(vid, mkvPixelHeight, uint64(max(height, 0)))
	te = ebmlElem(te, mkvVideo, vid)
	tracks = ebmlElem(tracks, mkvTrackEntry, te)
	if m.aIdx >= 0 {
		te = te[:0:0]
		te = ebmlUint(te, mkvTrackNumber, 2)
		te = ebmlUint(te, mkvTrackUID, 2)
		te = ebmlUint(te, mkvTrackType, 2)
		te = ebmlUint(te, mkvFlagLacing, 0)
		var aud []byte
		switch c := m.tracks[m.aIdx].Codec.(type) {
		case stream.AAC:
			rate, ch, _ := ascRateChannels(c.Config)
			te = ebmlString(te, mkvCodecID, "A_AAC")
			te = ebmlElem(te, mkvCodecPrivate, c.Config)
			aud = ebmlFloat(aud, mkvSamplingFrequency, float64(rate))
			aud = ebmlUint(aud, mkvChannels, uint64(max(ch, 1)))
		case stream.Opus:
			ch := min(max(c.ChannelCount, 1), 2)
			te = ebmlString(te, mkvCodecID, "A_OPUS")
			te = ebmlElem(te, mkvCodecPrivate, opusHead(ch))
			aud = ebmlFloat(aud, mkvSamplingFrequency, 48000)
			aud = ebmlUint(aud, mkvChannels, uint64(ch))
		}
		te = ebmlElem(te, mkvAudio, aud)
		tracks = ebmlElem(tracks, mkvTrackEntry, te)
	}
	return ebmlElem(b, mkvTracks, tracks)
}

// write muxes one unit as a Cluster; units of tracks the muxer does not
// carry, and units before the timeline's start, are skipped. The header is
// written before the first unit.
func (m *mkvMuxer) write(u *stream.Unit) error {
	var track byte
	var data []byte
	switch u.Track {
	case m.vIdx:
		if len(u.NALUs) != 1 || len(u.NALUs[0]) == 0 {
			return nil
		}
		track, data = 1, u.NALUs[0]
	case m.aIdx:
		if len(u.Data) == 0 {
			return nil
		}
		track, data = 2, u.Data
	default:
		return nil
	}
	ms := int64((u.PTS - m.base + tsPad) / time.Millisecond)
	if ms < 0 {
		return nil
	}
	b := m.buf[:0]
	if !m.header {
		b = append(b, m.headerBytes()...)
	}
	var block []byte
	block = append(block, 0x80|track, 0, 0) // track number (1-byte vint), relative timestamp 0
	flags := byte(0)
	if u.Key || track == 2 {
		flags = 0x80
	}
	block = append(block, flags)
	var cl []byte
	cl = ebmlUint(cl, mkvTimestamp, uint64(ms))
	cl = ebmlSize(ebmlID(cl, mkvSimpleBlock), len(block)+len(data))
	cl = append(cl, block...)
	b = ebmlSize(ebmlID(b, mkvCluster), len(cl)+len(data))
	b = append(b, cl...)
	b = append(b, data...)
	m.buf = b[:0]
	if _, err := m.w.Write(b); err != nil {
		return err
	}
	m.header = true
	return nil
}

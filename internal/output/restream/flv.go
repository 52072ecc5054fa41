package restream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/amf0"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ErrUnsupportedCodec means a target's protocol cannot carry a track of the
// stream (RTMP here: H.264, H.265 or AV1 video, AAC or Opus audio).
var ErrUnsupportedCodec = errors.New("codec not supported by the target protocol")

// FLV tag header constants (FLV spec v10 §E.4.2, §E.4.3).
const (
	flvAACHeader   = 0xAF // SoundFormat 10 (AAC), 44 kHz, 16 bit, stereo: fixed for AAC (§E.4.2.1)
	flvAVCKey      = 0x17 // FrameType 1 (key), CodecID 7 (AVC)
	flvAVCInter    = 0x27 // FrameType 2 (inter), CodecID 7
	flvAVCSeqHdr   = 0
	flvAVCNALU     = 1
	flvAACSeqHdr   = 0
	flvAACRaw      = 1
	flvCodecAVC    = 7
	flvCodecAAC    = 10
	nalTypeHEVCAUD = 35
	// Enhanced RTMP (E-RTMP v1 ExVideoTagHeader, v2 ExAudioTagHeader):
	// IsExHeader, the packet types used, SoundFormat 9 (ExHeader) and the
	// FourCCs of HEVC, AV1 and Opus.
	exHeader       = 0x80
	exFrameKey     = 1 << 4
	exFrameInter   = 2 << 4
	exSeqStart     = 0
	exCodedFrames  = 1
	exAudioHeader  = 9 << 4
	fourCCHVC1     = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCAV01     = 'a'<<24 | 'v'<<16 | '0'<<8 | '1'
	fourCCOpus     = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's'
	opusPreSkip    = 312 // samples at 48 kHz, as the HLS muxer's dOps says
	nalTypeAUD     = 9
	maxRebaseDelta = 5 * time.Second
)

// flvMuxer turns a stream's units into FLV tag bodies (RTMP audio and video
// messages carry FLV tag bodies without the tag header, RTMP spec §7.1.4,
// §7.1.5): H.264 (AVC) and AAC as FLV, H.265, AV1 and Opus as Enhanced
// RTMP (FourCC hvc1, av01, Opus), passed through. Timestamps are milliseconds from the session's
// first unit; a discontinuity (the publisher reconnected) is stitched so
// the target sees a continuous timeline.
type flvMuxer struct {
	vIdx, aIdx int
	video      stream.Codec // H264, H265 or AV1
	audio      stream.Codec // AAC or Opus
	clock      sessionClock
	seqSent    [2]bool // video, audio sequence headers written
}

// sessionClock maps the stream timeline onto a session's timeline that
// starts at zero and never jumps back across a publisher reconnect.
type sessionClock struct {
	started bool
	base    time.Duration // stream DTS that maps to 0
	last    time.Duration // latest stream DTS seen
}

// at returns the session time of u (its DTS), rebasing on a discontinuity
// whose timestamps jumped back or far ahead.
func (c *sessionClock) at(u *stream.Unit) time.Duration {
	if !c.started {
		c.started, c.base, c.last = true, u.DTS, u.DTS
	}
	if u.Discontinuity && (u.DTS < c.last || u.DTS > c.last+maxRebaseDelta) {
		c.base = u.DTS - (c.last - c.base) - 20*time.Millisecond
	}
	c.last = max(c.last, u.DTS)
	return max(0, u.DTS-c.base)
}

func newFLVMuxer(tracks []stream.Track) (*flvMuxer, error) {
	m := &flvMuxer{vIdx: -1, aIdx: -1}
	for i, t := range tracks {
		switch c := t.Codec.(type) {
		case stream.H264, stream.H265, stream.AV1:
			m.vIdx, m.video = i, c
		case stream.AAC, stream.Opus:
			m.aIdx, m.audio = i, c
		default:
			return nil, fmt.Errorf("%w: %s over RTMP", ErrUnsupportedCodec, t.Codec.Name())
		}
	}
	if m.vIdx < 0 && m.aIdx < 0 {
		return nil, fmt.Errorf("%w: no track", ErrUnsupportedCodec)
	}
	return m, nil
}

// metadata is the onMetaData of the publish (FLV spec §E.5), sent with
// "@setDataFrame".
func (m *flvMuxer) metadata() []byte {
	b := amf0.Append(nil, "@setDataFrame")
	b = amf0.Append(b, "onMetaData")
	var md amf0.ECMA
	switch m.video.(type) {
	case stream.H264:
		md = append(md, kv("videocodecid", flvCodecAVC))
	case stream.H265:
		md = append(md, kv("videocodecid", float64(fourCCHVC1)))
	case stream.AV1:
		md = append(md, kv("videocodecid", float64(fourCCAV01)))
	}
	switch m.audio.(type) {
	case stream.AAC:
		md = append(md, kv("audiocodecid", flvCodecAAC))
	case stream.Opus:
		md = append(md, kv("audiocodecid", float64(fourCCOpus)))
	}
	md = append(md, kv("encoder", "MpegFlow"))
	return amf0.Append(b, md)
}

// kv is one property of an AMF0 object.
func kv(k string, v any) amf0.Pair { return amf0.Pair{Key: k, Value: v} }

// flvTag is one RTMP media message.
type flvTag struct {
	typ  uint8 // msgAudio, msgVideo
	ts   uint32
	body []byte
}

// tags returns the messages of u (a sequence header first when the codec
// parameters are new), appended to dst.
func (m *flvMuxer) tags(dst []flvTag, u *stream.Unit) []flvTag {
	ts := m.clock.at(u)
	ms := uint32(ts / time.Millisecond)
	switch u.Track {
	case m.vIdx:
		if u.Codec != nil && !u.Codec.Equal(m.video) {
			m.video, m.seqSent[0] = u.Codec, false
		}
		if !m.seqSent[0] {
			if !u.Key {
				return dst
			}
			hdr, err := sequenceHeader(m.video)
			if err != nil {
				return dst // parameter sets that do not parse: wait for others
			}
			m.seqSent[0] = true
			dst = append(dst, flvTag{msgVideo, ms, hdr})
		}
		return append(dst, flvTag{msgVideo, ms, videoFrame(u, m.video)})
	case m.aIdx:
		if u.Codec != nil && !u.Codec.Equal(m.audio) {
			m.audio, m.seqSent[1] = u.Codec, false
		}
		if !m.seqSent[1] {
			m.seqSent[1] = true
			dst = append(dst, flvTag{msgAudio, ms, audioSequenceHeader(m.audio)})
		}
		return append(dst, flvTag{msgAudio, ms, audioFrame(u, m.audio)})
	}
	return dst
}

// audioSequenceHeader is the AAC sequence header (FLV spec §E.4.2.1, the
// AudioSpecificConfig) or the Enhanced RTMP v2 Opus SequenceStart (the
// identification header OpusHead, RFC 7845 §5.1).
func audioSequenceHeader(c stream.Codec) []byte {
	if o, ok := c.(stream.Opus); ok {
		b := []byte{exAudioHeader | exSeqStart, 'O', 'p', 'u', 's'}
		b = append(b, "OpusHead"...)
		b = append(b, 1, byte(o.ChannelCount))
		b = binary.LittleEndian.AppendUint16(b, opusPreSkip)
		b = binary.LittleEndian.AppendUint32(b, 48000)
		return append(b, 0, 0, 0) // output gain 0, channel mapping family 0
	}
	aac, _ := c.(stream.AAC)
	return append([]byte{flvAACHeader, flvAACSeqHdr}, aac.Config...)
}

// audioFrame is a raw AAC frame (FLV spec §E.4.2.1) or an Enhanced RTMP v2
// Opus CodedFrames packet.
func audioFrame(u *stream.Unit, c stream.Codec) []byte {
	b := make([]byte, 0, 5+len(u.Data))
	if _, ok := c.(stream.Opus); ok {
		b = append(b, exAudioHeader|exCodedFrames, 'O', 'p', 'u', 's')
	} else {
		b = append(b, flvAACHeader, flvAACRaw)
	}
	return append(b, u.Data...)
}

// sequenceHeader is the video sequence header tag body: for H.264 the AVC
// sequence header (FLV spec §E.4.3.1) and for H.265 and AV1 an Enhanced
// RTMP SequenceStart, each with the codec's decoder configuration record
// (avcC, hvcC, av1C).
func sequenceHeader(c stream.Codec) ([]byte, error) {
	var b []byte
	var rec []byte
	var err error
	switch c := c.(type) {
	case stream.H264:
		b = []byte{flvAVCKey, flvAVCSeqHdr, 0, 0, 0}
		rec, err = hls.DecoderConfig(hls.H264{SPS: c.SPS, PPS: c.PPS})
	case stream.H265:
		b = []byte{exHeader | exFrameKey | exSeqStart, 'h', 'v', 'c', '1'}
		rec, err = hls.DecoderConfig(hls.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS})
	case stream.AV1:
		b = []byte{exHeader | exFrameKey | exSeqStart, 'a', 'v', '0', '1'}
		rec, err = hls.DecoderConfig(hls.AV1{SequenceHeader: c.SequenceHeader})
	default:
		return nil, fmt.Errorf("%w: %s over RTMP", ErrUnsupportedCodec, c.Name())
	}
	if err != nil {
		return nil, err
	}
	return append(b, rec...), nil
}

// videoFrame is a video tag body: an AVC NALU packet (FLV spec §E.4.3.1)
// or an Enhanced RTMP hvc1 CodedFrames packet, with the composition time
// offset and length-prefixed NAL units (access unit delimiters dropped);
// or an Enhanced RTMP av01 CodedFrames packet, which has no composition
// time (AV1 frames are not reordered) and carries the temporal unit's OBUs
// in the low overhead bitstream format (temporal delimiters dropped).
func videoFrame(u *stream.Unit, c stream.Codec) []byte {
	n := 8
	for _, nal := range u.NALUs {
		n += 8 + len(nal)
	}
	b := make([]byte, 0, n)
	ft := byte(exFrameInter)
	if u.Key {
		ft = exFrameKey
	}
	_, hevc := c.(stream.H265)
	switch c.(type) {
	case stream.AV1:
		b = append(b, exHeader|ft|exCodedFrames, 'a', 'v', '0', '1')
		for _, obu := range u.NALUs {
			if len(obu) > 0 {
				b = hls.AppendOBU(b, obu)
			}
		}
		return b
	case stream.H265:
		b = append(b, exHeader|ft|exCodedFrames, 'h', 'v', 'c', '1')
	default:
		ft := byte(flvAVCInter)
		if u.Key {
			ft = flvAVCKey
		}
		b = append(b, ft, flvAVCNALU)
	}
	cts := int32((u.PTS - u.DTS) / time.Millisecond)
	b = append(b, byte(cts>>16), byte(cts>>8), byte(cts))
	for _, nal := range u.NALUs {
		if len(nal) == 0 || (!hevc && nal[0]&0x1F == nalTypeAUD) || (hevc && (nal[0]>>1)&0x3F == nalTypeHEVCAUD) {
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(nal)))
		b = append(b, nal...)
	}
	return b
}

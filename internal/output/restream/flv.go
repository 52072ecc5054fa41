package restream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/amf0"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ErrUnsupportedCodec means a target's protocol cannot carry a track of the
// stream (RTMP here: H.264 video and AAC audio).
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
	nalTypeAUD     = 9
	nalTypeSPS     = 7
	nalTypePPS     = 8
	maxRebaseDelta = 5 * time.Second
)

// flvMuxer turns a stream's units into FLV tag bodies (RTMP audio and video
// messages carry FLV tag bodies without the tag header, RTMP spec §7.1.4,
// §7.1.5): H.264 (AVC) and AAC, passed through. Timestamps are
// milliseconds from the session's first unit; a discontinuity (the
// publisher reconnected) is stitched so the target sees a continuous
// timeline.
type flvMuxer struct {
	vIdx, aIdx int
	h264       stream.H264
	aac        stream.AAC
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
		case stream.H264:
			m.vIdx, m.h264 = i, c
		case stream.AAC:
			m.aIdx, m.aac = i, c
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
	if m.vIdx >= 0 {
		md = append(md, kv("videocodecid", flvCodecAVC))
	}
	if m.aIdx >= 0 {
		md = append(md, kv("audiocodecid", flvCodecAAC))
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
		if c, ok := u.Codec.(stream.H264); ok && !c.Equal(m.h264) {
			m.h264, m.seqSent[0] = c, false
		}
		if !m.seqSent[0] {
			if !u.Key {
				return dst
			}
			m.seqSent[0] = true
			dst = append(dst, flvTag{msgVideo, ms, avcSequenceHeader(m.h264)})
		}
		return append(dst, flvTag{msgVideo, ms, avcFrame(u)})
	case m.aIdx:
		if c, ok := u.Codec.(stream.AAC); ok && !c.Equal(m.aac) {
			m.aac, m.seqSent[1] = c, false
		}
		if !m.seqSent[1] {
			m.seqSent[1] = true
			dst = append(dst, flvTag{msgAudio, ms, append([]byte{flvAACHeader, flvAACSeqHdr}, m.aac.Config...)})
		}
		b := make([]byte, 0, 2+len(u.Data))
		b = append(b, flvAACHeader, flvAACRaw)
		return append(dst, flvTag{msgAudio, ms, append(b, u.Data...)})
	}
	return dst
}

// avcSequenceHeader is the AVC sequence header tag body: an
// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) with one SPS
// and one PPS, 4-byte NAL lengths.
func avcSequenceHeader(c stream.H264) []byte {
	b := []byte{flvAVCKey, flvAVCSeqHdr, 0, 0, 0, 1}
	if len(c.SPS) >= 4 {
		b = append(b, c.SPS[1], c.SPS[2], c.SPS[3])
	} else {
		b = append(b, 0x42, 0, 0x1e)
	}
	b = append(b, 0xFF, 0xE1) // lengthSizeMinusOne 3; one SPS
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.SPS)))
	b = append(b, c.SPS...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.PPS)))
	return append(b, c.PPS...)
}

// avcFrame is an AVC NALU tag body: length-prefixed NAL units (access unit
// delimiters dropped) after the composition time offset.
func avcFrame(u *stream.Unit) []byte {
	n := 5
	for _, nal := range u.NALUs {
		n += 4 + len(nal)
	}
	b := make([]byte, 0, n)
	ft := byte(flvAVCInter)
	if u.Key {
		ft = flvAVCKey
	}
	cts := int32((u.PTS - u.DTS) / time.Millisecond)
	b = append(b, ft, flvAVCNALU, byte(cts>>16), byte(cts>>8), byte(cts))
	for _, nal := range u.NALUs {
		if len(nal) == 0 || nal[0]&0x1F == nalTypeAUD {
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(nal)))
		b = append(b, nal...)
	}
	return b
}

// Package stream is the hub of MpegFlow: one Stream per live input, fed by
// exactly one publisher at a time, fanning access units out to readers that
// each own a bounded queue. A slow reader drops and counts; it never blocks the
// publisher or the other readers.
package stream

import (
	"bytes"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Kind is the kind of media a track carries.
type Kind int

// Track kinds.
const (
	KindVideo Kind = iota
	KindAudio
)

func (k Kind) String() string {
	if k == KindVideo {
		return "video"
	}
	return "audio"
}

// Codec describes a track's codec and its parameters. It is one of H264,
// H265, AV1, AAC or Opus.
type Codec interface {
	// Name is the short codec name used in logs and metrics ("h264", "aac", ...).
	Name() string
	// Kind is the media kind of the codec.
	Kind() Kind
	// Equal reports whether c has the same parameters.
	Equal(c Codec) bool
}

// H264 holds H.264 parameter sets (ITU-T H.264 §7.3.2), NAL units without start codes.
type H264 struct{ SPS, PPS []byte }

// H265 holds H.265 parameter sets (ITU-T H.265 §7.3.2), NAL units without start codes.
type H265 struct{ VPS, SPS, PPS []byte }

// AV1 holds the AV1 sequence header OBU (AV1 spec §5.5).
type AV1 struct{ SequenceHeader []byte }

// VP8 is VP8 video (RFC 6386), which has no out-of-band parameters: Width
// and Height are those of the last key frame (RFC 6386 §9.1). A unit's
// NALUs holds one element, the VP8 frame. HLS cannot carry it; it is only
// transcoded.
type VP8 struct{ Width, Height int }

// VP9 is VP9 video (VP9 bitstream specification), which has no
// out-of-band parameters either: Width and Height are those of the last key
// frame (§6.2 frame_size). A unit's NALUs holds one element, the VP9 frame
// (a superframe, Annex B, when it holds several). HLS players do not decode
// it widely; it is only transcoded.
type VP9 struct{ Width, Height int }

// TranscodedOnly reports whether c is a video codec HLS cannot carry (VP8,
// VP9): streams in it get no source rendition, only transcoded ones.
func TranscodedOnly(c Codec) bool {
	switch c.(type) {
	case VP8, VP9:
		return true
	}
	return false
}

// AAC holds an MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
type AAC struct{ Config []byte }

// Opus holds the Opus channel count (RFC 7845).
type Opus struct{ ChannelCount int }

// Name implements Codec.
func (H264) Name() string { return "h264" }

// Name implements Codec.
func (H265) Name() string { return "h265" }

// Name implements Codec.
func (AV1) Name() string { return "av1" }

// Name implements Codec.
func (VP8) Name() string { return "vp8" }

// Name implements Codec.
func (VP9) Name() string { return "vp9" }

// Name implements Codec.
func (AAC) Name() string { return "aac" }

// Name implements Codec.
func (Opus) Name() string { return "opus" }

// Kind implements Codec.
func (H264) Kind() Kind { return KindVideo }

// Kind implements Codec.
func (H265) Kind() Kind { return KindVideo }

// Kind implements Codec.
func (AV1) Kind() Kind { return KindVideo }

// Kind implements Codec.
func (VP8) Kind() Kind { return KindVideo }

// Kind implements Codec.
func (VP9) Kind() Kind { return KindVideo }

// Kind implements Codec.
func (AAC) Kind() Kind { return KindAudio }

// Kind implements Codec.
func (Opus) Kind() Kind { return KindAudio }

// Equal implements Codec.
func (c H264) Equal(o Codec) bool {
	x, ok := o.(H264)
	return ok && bytes.Equal(c.SPS, x.SPS) && bytes.Equal(c.PPS, x.PPS)
}

// Equal implements Codec.
func (c H265) Equal(o Codec) bool {
	x, ok := o.(H265)
	return ok && bytes.Equal(c.VPS, x.VPS) && bytes.Equal(c.SPS, x.SPS) && bytes.Equal(c.PPS, x.PPS)
}

// Equal implements Codec.
func (c AV1) Equal(o Codec) bool {
	x, ok := o.(AV1)
	return ok && bytes.Equal(c.SequenceHeader, x.SequenceHeader)
}

// Equal implements Codec.
func (c VP8) Equal(o Codec) bool {
	x, ok := o.(VP8)
	return ok && c == x
}

// Equal implements Codec.
func (c VP9) Equal(o Codec) bool {
	x, ok := o.(VP9)
	return ok && c == x
}

// Equal implements Codec.
func (c AAC) Equal(o Codec) bool {
	x, ok := o.(AAC)
	return ok && bytes.Equal(c.Config, x.Config)
}

// Equal implements Codec.
func (c Opus) Equal(o Codec) bool {
	x, ok := o.(Opus)
	return ok && c.ChannelCount == x.ChannelCount
}

// Track is one elementary stream of a Stream. A Stream has at most one video
// and at most one audio track; renditions of a transcode ladder are Streams of
// their own.
type Track struct {
	Codec Codec
}

// Kind is the track's media kind.
func (t Track) Kind() Kind { return t.Codec.Kind() }

// Unit is one access unit: a video frame or an audio frame.
//
// Units are shared between readers and must not be modified after Write.
type Unit struct {
	// Track is the index of the unit's track in Stream.Tracks.
	Track int
	// DTS and PTS are decode and presentation times on the stream's timeline.
	// For audio DTS == PTS.
	DTS, PTS time.Duration
	// Wall is the wall-clock time at which the unit arrived at ingest; HLS
	// EXT-X-PROGRAM-DATE-TIME is derived from it.
	Wall time.Time
	// Key marks a random access point (IDR, CRA, AV1 key frame). Audio units
	// are always Key.
	Key bool
	// NALUs is a video access unit: NAL units without start codes (H.264,
	// H.265) or OBUs (AV1).
	NALUs [][]byte
	// Data is an audio frame: raw AAC (no ADTS) or one Opus packet.
	Data []byte
	// Codec, when non-nil, carries new codec parameters that apply from this
	// unit on (a sequence header changed mid-stream).
	Codec Codec
	// Discontinuity marks the start of a new timeline on this track: the
	// publisher reconnected or its timestamps jumped.
	Discontinuity bool
}

// Size is the payload size of the unit in bytes.
func (u *Unit) Size() int {
	n := len(u.Data)
	for _, b := range u.NALUs {
		n += len(b)
	}
	return n
}

// VideoSize returns the picture size a video codec's parameters declare:
// read from the H.264/H.265 SPS (ITU-T H.264 §7.3.2.1.1, H.265 §7.3.2.2),
// the last key frame's for VP8/VP9; ok is false when it is unknown.
func VideoSize(c Codec) (w, h int, ok bool) {
	switch c := c.(type) {
	case H264:
		var sps h264.SPS
		if sps.Unmarshal(c.SPS) == nil {
			return sps.Width(), sps.Height(), true
		}
	case H265:
		var sps h265.SPS
		if sps.Unmarshal(c.SPS) == nil {
			return sps.Width(), sps.Height(), true
		}
	case VP8:
		return c.Width, c.Height, true
	case VP9:
		return c.Width, c.Height, true
	}
	return 0, 0, false
}

package rtmp

import (
	"errors"
	"fmt"
)

// Errors of the FLV / Enhanced RTMP tag parsers.
var (
	// errTruncated means a tag body ended before a field it announced.
	errTruncated = errors.New("truncated tag")
	// errUnsupported means a codec or packet kind MpegFlow does not ingest.
	errUnsupported = errors.New("unsupported")
)

// tagKind says what a parsed audio or video tag carries.
type tagKind uint8

const (
	tagIgnore tagKind = iota // nothing to ingest (end of sequence, metadata, command frame)
	tagConfig                // a decoder configuration record (sequence header / SequenceStart)
	tagFrame                 // a coded frame
)

// videoCodec is a video codec carried over RTMP.
type videoCodec uint8

const (
	videoNone videoCodec = iota
	videoH264
	videoH265
	videoAV1
)

func (c videoCodec) String() string {
	switch c {
	case videoH264:
		return "h264"
	case videoH265:
		return "h265"
	case videoAV1:
		return "av1"
	}
	return "none"
}

// audioCodec is an audio codec carried over RTMP.
type audioCodec uint8

const (
	audioNone audioCodec = iota
	audioAAC
	audioOpus
)

func (c audioCodec) String() string {
	switch c {
	case audioAAC:
		return "aac"
	case audioOpus:
		return "opus"
	}
	return "none"
}

// Legacy FLV codec ids (FLV spec v10.1 §E.4.3.1 CodecID, §E.4.2.1 SoundFormat).
const (
	flvCodecAVC       = 7
	flvCodecHEVC      = 12 // non-standard legacy HEVC id used by some Chinese CDNs
	flvSoundAAC       = 10
	flvSoundExHeader  = 9 // Enhanced RTMP v2: ExAudioTagHeader follows
	flvFrameKey       = 1
	flvFrameGenKey    = 4
	flvFrameCommand   = 5
	flvAVCSeqHeader   = 0
	flvAVCNALU        = 1
	flvAACSeqHeader   = 0
	flvAACRaw         = 1
	exHeaderFlag      = 0x80
	fourCCLen         = 4
	maxModExIteration = 8
)

// Enhanced RTMP packet types (E-RTMP v2, "ExVideoTagHeader" VideoPacketType
// and "ExAudioTagHeader" AudioPacketType).
const (
	exVideoSequenceStart        = 0
	exVideoCodedFrames          = 1
	exVideoSequenceEnd          = 2
	exVideoCodedFramesX         = 3
	exVideoMetadata             = 4
	exVideoMPEG2TSSequenceStart = 5
	exVideoMultitrack           = 6
	exVideoModEx                = 7

	exAudioSequenceStart      = 0
	exAudioCodedFrames        = 1
	exAudioSequenceEnd        = 2
	exAudioMultichannelConfig = 4
	exAudioMultitrack         = 5
	exAudioModEx              = 7
)

// videoTag is a parsed FLV VIDEODATA tag body, legacy (FLV spec §E.4.3.1)
// or Enhanced RTMP (ExVideoTagHeader).
type videoTag struct {
	Codec videoCodec
	Kind  tagKind
	// Key is set for key frames (FrameType 1, or 4 "generated key frame").
	Key bool
	// CTS is the composition time offset in milliseconds (signed 24 bit):
	// PTS = DTS + CTS.
	CTS int32
	// Payload is the decoder configuration record (tagConfig) or the coded
	// frame (tagFrame): AVCC/HVCC length-prefixed NAL units or AV1 OBUs in
	// the low overhead bitstream format. It aliases the input.
	Payload []byte
}

// audioTag is a parsed FLV AUDIODATA tag body, legacy AAC (FLV spec
// §E.4.2.1) or Enhanced RTMP (ExAudioTagHeader, FourCC mp4a / Opus).
type audioTag struct {
	Codec audioCodec
	Kind  tagKind
	// Payload is the AudioSpecificConfig or OpusHead (tagConfig), or one raw
	// AAC frame or Opus packet (tagFrame). It aliases the input.
	Payload []byte
}

func si24(b []byte) int32 {
	v := int32(b[0])<<16 | int32(b[1])<<8 | int32(b[2])
	if v&0x800000 != 0 {
		v -= 1 << 24
	}
	return v
}

// skipModEx skips the ModEx extensions of an Enhanced RTMP v2 header
// starting at b[pos] and returns the next packet type and position. ModEx
// data (e.g. TimestampOffsetNano) is ignored.
func skipModEx(b []byte, pos int, pktType uint8, modEx uint8) (uint8, int, error) {
	for i := 0; pktType == modEx; i++ {
		if i >= maxModExIteration {
			return 0, 0, fmt.Errorf("%w: too many ModEx headers", errUnsupported)
		}
		if pos >= len(b) {
			return 0, 0, errTruncated
		}
		size := int(b[pos]) + 1
		pos++
		if size == 256 {
			if pos+2 > len(b) {
				return 0, 0, errTruncated
			}
			size = (int(b[pos])<<8 | int(b[pos+1])) + 1
			pos += 2
		}
		pos += size
		if pos >= len(b) {
			return 0, 0, errTruncated
		}
		pktType = b[pos] & 0x0f
		pos++
	}
	return pktType, pos, nil
}

// parseVideoTag parses the body of an RTMP video message (message type 9),
// which is an FLV VIDEODATA tag body: the legacy AVC layout (FLV spec
// §E.4.3.1, AVCVIDEOPACKET) or the Enhanced RTMP ExVideoTagHeader (v1 and
// v2: IsExHeader bit, VideoPacketType SequenceStart / CodedFrames /
// CodedFramesX / SequenceEnd / Metadata, ModEx, FourCC avc1 / hvc1 / av01).
func parseVideoTag(b []byte) (videoTag, error) {
	if len(b) < 1 {
		return videoTag{}, errTruncated
	}
	if b[0]&exHeaderFlag != 0 {
		return parseExVideoTag(b)
	}
	frameType := b[0] >> 4
	codecID := b[0] & 0x0f
	var t videoTag
	switch codecID {
	case flvCodecAVC:
		t.Codec = videoH264
	case flvCodecHEVC:
		t.Codec = videoH265
	default:
		return videoTag{}, fmt.Errorf("%w: legacy video codec id %d", errUnsupported, codecID)
	}
	if frameType == flvFrameCommand {
		return videoTag{Codec: t.Codec, Kind: tagIgnore}, nil
	}
	if len(b) < 5 {
		return videoTag{}, errTruncated
	}
	t.Key = frameType == flvFrameKey || frameType == flvFrameGenKey
	t.CTS = si24(b[2:5])
	t.Payload = b[5:]
	switch b[1] {
	case flvAVCSeqHeader:
		t.Kind = tagConfig
		t.CTS = 0
	case flvAVCNALU:
		t.Kind = tagFrame
	default: // 2: end of sequence
		t.Kind = tagIgnore
		t.Payload = nil
	}
	return t, nil
}

func parseExVideoTag(b []byte) (videoTag, error) {
	frameType := (b[0] >> 4) & 0x07
	pktType, pos, err := skipModEx(b, 1, b[0]&0x0f, exVideoModEx)
	if err != nil {
		return videoTag{}, err
	}
	if pktType != exVideoMetadata && frameType == flvFrameCommand {
		// VideoCommand (e.g. seek start/end): nothing to ingest.
		return videoTag{Kind: tagIgnore}, nil
	}
	if pktType == exVideoMultitrack {
		return videoTag{}, fmt.Errorf("%w: video multitrack", errUnsupported)
	}
	if pos+fourCCLen > len(b) {
		return videoTag{}, errTruncated
	}
	fourCC := string(b[pos : pos+fourCCLen])
	pos += fourCCLen
	t := videoTag{Key: frameType == flvFrameKey || frameType == flvFrameGenKey}
	switch fourCC {
	case "avc1":
		t.Codec = videoH264
	case "hvc1":
		t.Codec = videoH265
	case "av01":
		t.Codec = videoAV1
	default:
		return videoTag{}, fmt.Errorf("%w: video FourCC %q", errUnsupported, fourCC)
	}
	switch pktType {
	case exVideoSequenceStart:
		t.Kind = tagConfig
		t.Payload = b[pos:]
	case exVideoCodedFrames:
		t.Kind = tagFrame
		if t.Codec != videoAV1 {
			if pos+3 > len(b) {
				return videoTag{}, errTruncated
			}
			t.CTS = si24(b[pos : pos+3])
			pos += 3
		}
		t.Payload = b[pos:]
	case exVideoCodedFramesX:
		t.Kind = tagFrame
		t.Payload = b[pos:]
	case exVideoSequenceEnd, exVideoMetadata, exVideoMPEG2TSSequenceStart:
		t.Kind = tagIgnore
	default:
		return videoTag{}, fmt.Errorf("%w: video packet type %d", errUnsupported, pktType)
	}
	return t, nil
}

// parseAudioTag parses the body of an RTMP audio message (message type 8),
// which is an FLV AUDIODATA tag body: legacy AAC (FLV spec §E.4.2.1,
// AACAUDIODATA) or the Enhanced RTMP v2 ExAudioTagHeader (SoundFormat 9,
// AudioPacketType SequenceStart / CodedFrames / SequenceEnd, ModEx, FourCC
// mp4a / Opus).
func parseAudioTag(b []byte) (audioTag, error) {
	if len(b) < 1 {
		return audioTag{}, errTruncated
	}
	format := b[0] >> 4
	switch format {
	case flvSoundAAC:
		if len(b) < 2 {
			return audioTag{}, errTruncated
		}
		t := audioTag{Codec: audioAAC, Payload: b[2:]}
		switch b[1] {
		case flvAACSeqHeader:
			t.Kind = tagConfig
		case flvAACRaw:
			t.Kind = tagFrame
		default:
			return audioTag{}, fmt.Errorf("%w: AAC packet type %d", errUnsupported, b[1])
		}
		return t, nil
	case flvSoundExHeader:
		return parseExAudioTag(b)
	default:
		return audioTag{}, fmt.Errorf("%w: legacy sound format %d", errUnsupported, format)
	}
}

func parseExAudioTag(b []byte) (audioTag, error) {
	pktType, pos, err := skipModEx(b, 1, b[0]&0x0f, exAudioModEx)
	if err != nil {
		return audioTag{}, err
	}
	if pktType == exAudioMultitrack {
		return audioTag{}, fmt.Errorf("%w: audio multitrack", errUnsupported)
	}
	if pos+fourCCLen > len(b) {
		return audioTag{}, errTruncated
	}
	fourCC := string(b[pos : pos+fourCCLen])
	pos += fourCCLen
	var t audioTag
	switch fourCC {
	case "mp4a":
		t.Codec = audioAAC
	case "Opus":
		t.Codec = audioOpus
	default:
		return audioTag{}, fmt.Errorf("%w: audio FourCC %q", errUnsupported, fourCC)
	}
	switch pktType {
	case exAudioSequenceStart:
		t.Kind = tagConfig
		t.Payload = b[pos:]
	case exAudioCodedFrames:
		t.Kind = tagFrame
		t.Payload = b[pos:]
	case exAudioSequenceEnd, exAudioMultichannelConfig:
		t.Kind = tagIgnore
	default:
		return audioTag{}, fmt.Errorf("%w: audio packet type %d", errUnsupported, pktType)
	}
	return t, nil
}

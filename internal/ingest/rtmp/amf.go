package rtmp

import (
	"fmt"

	"github.com/mpegflow/mpegflow/internal/amf0"
)

// FourCC values as the numbers Enhanced RTMP puts into onMetaData
// videocodecid / audiocodecid.
const (
	fourCCavc1 = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCChvc1 = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCav01 = 'a'<<24 | 'v'<<16 | '0'<<8 | '1'
	fourCCmp4a = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a'
	fourCCOpus = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's'
)

// metadata is what an onMetaData script tag (FLV spec §E.5, Enhanced RTMP
// "onMetaData") says about the tracks of a publish.
type metadata struct {
	// Known is set when the metadata names at least one codec id; the
	// Video/Audio flags are then authoritative.
	Known bool
	// Video and Audio are set when the publisher announces a track of a
	// codec MpegFlow ingests.
	Video, Audio bool
	VideoCodec   videoCodec
	AudioCodec   audioCodec
}

// parseMetadata decodes an onMetaData script data body (FLV spec §E.4.4.1
// SCRIPTDATA, AMF0): the string "onMetaData" followed by an ECMA array or
// object, as sent after "@setDataFrame". With withName false, b starts at the
// array (the data message's name was consumed already).
func parseMetadata(b []byte, withName bool) (metadata, error) {
	n := 1
	if withName {
		n = 2
	}
	vals, err := amf0.Decode(b, n)
	if err != nil {
		return metadata{}, err
	}
	if withName {
		if len(vals) == 0 || vals[0] != "onMetaData" {
			return metadata{}, fmt.Errorf("%w: script data is not onMetaData", amf0.ErrDecode)
		}
		vals = vals[1:]
	}
	var props map[string]any
	if len(vals) > 0 {
		props, _ = vals[0].(map[string]any)
	}
	var m metadata
	if v, ok := scalar(props["videocodecid"]); ok {
		m.Known = true
		m.VideoCodec = metaVideoCodec(v)
		m.Video = m.VideoCodec != videoNone
	}
	if v, ok := scalar(props["audiocodecid"]); ok {
		m.Known = true
		m.AudioCodec = metaAudioCodec(v)
		m.Audio = m.AudioCodec != audioNone
	}
	return m, nil
}

// scalar keeps a number or a string: a codec id given as anything else
// counts as absent.
func scalar(v any) (any, bool) {
	switch v.(type) {
	case float64, string, bool:
		return v, true
	}
	return nil, false
}

func metaVideoCodec(v any) videoCodec {
	switch x := v.(type) {
	case float64:
		switch x {
		case flvCodecAVC, fourCCavc1:
			return videoH264
		case flvCodecHEVC, fourCChvc1:
			return videoH265
		case fourCCav01:
			return videoAV1
		}
	case string:
		switch x {
		case "avc1", "h264", "H264":
			return videoH264
		case "hvc1", "hev1", "h265", "H265":
			return videoH265
		case "av01", "av1", "AV1":
			return videoAV1
		}
	}
	return videoNone
}

func metaAudioCodec(v any) audioCodec {
	switch x := v.(type) {
	case float64:
		switch x {
		case flvSoundAAC, fourCCmp4a:
			return audioAAC
		case fourCCOpus:
			return audioOpus
		}
	case string:
		switch x {
		case "mp4a", "aac", "AAC":
			return audioAAC
		case "Opus", "opus":
			return audioOpus
		}
	}
	return audioNone
}

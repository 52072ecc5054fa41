package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// errAMF means an AMF0 value could not be decoded.
var errAMF = errors.New("bad AMF0 data")

// AMF0 type markers (AMF0 spec §2.1).
const (
	amf0Number      = 0x00
	amf0Boolean     = 0x01
	amf0String      = 0x02
	amf0Object      = 0x03
	amf0Null        = 0x05
	amf0Undefined   = 0x06
	amf0Reference   = 0x07
	amf0ECMAArray   = 0x08
	amf0ObjectEnd   = 0x09
	amf0StrictArray = 0x0a
	amf0Date        = 0x0b
	amf0LongString  = 0x0c
	amf0MaxDepth    = 8
	amf0MaxItems    = 4096
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

type amfReader struct {
	b   []byte
	pos int
}

func (r *amfReader) need(n int) error {
	if n < 0 || r.pos+n > len(r.b) {
		return fmt.Errorf("%w: %w", errAMF, errTruncated)
	}
	return nil
}

func (r *amfReader) u16() (int, error) {
	if err := r.need(2); err != nil {
		return 0, err
	}
	v := int(binary.BigEndian.Uint16(r.b[r.pos:]))
	r.pos += 2
	return v, nil
}

func (r *amfReader) u32() (int, error) {
	if err := r.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(r.b[r.pos:])
	r.pos += 4
	if v > math.MaxInt32 {
		return 0, fmt.Errorf("%w: length %d", errAMF, v)
	}
	return int(v), nil
}

func (r *amfReader) str(n int) (string, error) {
	if err := r.need(n); err != nil {
		return "", err
	}
	s := string(r.b[r.pos : r.pos+n])
	r.pos += n
	return s, nil
}

// value decodes one AMF0 value. Numbers, booleans and strings are returned;
// containers are walked (bounded in depth and items) and returned as nil,
// except that the top-level object / ECMA array is returned as a map of its
// scalar properties when props is non-nil.
func (r *amfReader) value(depth int, props map[string]any) (any, error) {
	if depth > amf0MaxDepth {
		return nil, fmt.Errorf("%w: nested too deep", errAMF)
	}
	if err := r.need(1); err != nil {
		return nil, err
	}
	marker := r.b[r.pos]
	r.pos++
	switch marker {
	case amf0Number:
		if err := r.need(8); err != nil {
			return nil, err
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(r.b[r.pos:]))
		r.pos += 8
		return v, nil
	case amf0Boolean:
		if err := r.need(1); err != nil {
			return nil, err
		}
		v := r.b[r.pos] != 0
		r.pos++
		return v, nil
	case amf0String:
		n, err := r.u16()
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case amf0LongString:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case amf0Null, amf0Undefined:
		return nil, nil
	case amf0Reference:
		_, err := r.u16()
		return nil, err
	case amf0Date:
		if err := r.need(10); err != nil {
			return nil, err
		}
		r.pos += 10
		return nil, nil
	case amf0ECMAArray:
		if _, err := r.u32(); err != nil { // approximate count; the end marker is authoritative
			return nil, err
		}
		return nil, r.properties(depth, props)
	case amf0Object:
		return nil, r.properties(depth, props)
	case amf0StrictArray:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if n > amf0MaxItems {
			return nil, fmt.Errorf("%w: strict array of %d items", errAMF, n)
		}
		for range n {
			if _, err := r.value(depth+1, nil); err != nil {
				return nil, err
			}
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: type marker 0x%02x", errAMF, marker)
	}
}

// properties reads name/value pairs up to the object end marker.
func (r *amfReader) properties(depth int, props map[string]any) error {
	for range amf0MaxItems {
		n, err := r.u16()
		if err != nil {
			return err
		}
		if n == 0 {
			if err := r.need(1); err != nil {
				return err
			}
			if r.b[r.pos] == amf0ObjectEnd {
				r.pos++
				return nil
			}
		}
		name, err := r.str(n)
		if err != nil {
			return err
		}
		v, err := r.value(depth+1, nil)
		if err != nil {
			return err
		}
		if props != nil && v != nil {
			props[name] = v
		}
	}
	return fmt.Errorf("%w: more than %d properties", errAMF, amf0MaxItems)
}

// parseMetadata decodes an onMetaData script data body (FLV spec §E.4.4.1
// SCRIPTDATA, AMF0): the string "onMetaData" followed by an ECMA array or
// object, as sent after "@setDataFrame". With withName false, b starts at the
// array (the data message's name was consumed already).
func parseMetadata(b []byte, withName bool) (metadata, error) {
	r := &amfReader{b: b}
	if withName {
		name, err := r.value(0, nil)
		if err != nil {
			return metadata{}, err
		}
		if name != "onMetaData" {
			return metadata{}, fmt.Errorf("%w: script data %q is not onMetaData", errAMF, name)
		}
	}
	props := map[string]any{}
	if _, err := r.value(0, props); err != nil {
		return metadata{}, err
	}
	var m metadata
	if v, ok := props["videocodecid"]; ok {
		m.Known = true
		m.VideoCodec = metaVideoCodec(v)
		m.Video = m.VideoCodec != videoNone
	}
	if v, ok := props["audiocodecid"]; ok {
		m.Known = true
		m.AudioCodec = metaAudioCodec(v)
		m.Audio = m.AudioCodec != audioNone
	}
	return m, nil
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

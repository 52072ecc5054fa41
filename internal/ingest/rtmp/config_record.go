package rtmp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// errBadConfig means a decoder configuration record could not be parsed.
var errBadConfig = errors.New("bad decoder configuration record")

// maxNALUsPerFrame bounds the NAL units (or OBUs) of one frame so that a
// message of tiny length prefixes cannot explode into millions of slices.
const maxNALUsPerFrame = 4096

// readParamSets reads count entries of a u16 length followed by a NAL unit.
func readParamSets(b []byte, pos, count int) ([][]byte, int, error) {
	var out [][]byte
	for range count {
		if pos+2 > len(b) {
			return nil, 0, fmt.Errorf("%w: %w", errBadConfig, errTruncated)
		}
		n := int(b[pos])<<8 | int(b[pos+1])
		pos += 2
		if n == 0 || pos+n > len(b) {
			return nil, 0, fmt.Errorf("%w: parameter set length %d", errBadConfig, n)
		}
		out = append(out, bytes.Clone(b[pos:pos+n]))
		pos += n
	}
	return out, pos, nil
}

// parseAVCConfig parses an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §5.3.3.1) and returns the H.264 parameters and the NAL unit length size.
// The first SPS and the first PPS are kept.
func parseAVCConfig(b []byte) (stream.H264, int, error) {
	if len(b) < 6 {
		return stream.H264{}, 0, fmt.Errorf("%w: %w", errBadConfig, errTruncated)
	}
	if b[0] != 1 {
		return stream.H264{}, 0, fmt.Errorf("%w: version %d", errBadConfig, b[0])
	}
	lengthSize := int(b[4]&0x03) + 1
	if lengthSize == 3 {
		return stream.H264{}, 0, fmt.Errorf("%w: NAL unit length size 3", errBadConfig)
	}
	sps, pos, err := readParamSets(b, 6, int(b[5]&0x1f))
	if err != nil {
		return stream.H264{}, 0, err
	}
	if pos >= len(b) {
		return stream.H264{}, 0, fmt.Errorf("%w: %w", errBadConfig, errTruncated)
	}
	pps, _, err := readParamSets(b, pos+1, int(b[pos]))
	if err != nil {
		return stream.H264{}, 0, err
	}
	if len(sps) == 0 || len(pps) == 0 {
		return stream.H264{}, 0, fmt.Errorf("%w: no SPS or no PPS", errBadConfig)
	}
	return stream.H264{SPS: sps[0], PPS: pps[0]}, lengthSize, nil
}

// H.265 NAL unit types of parameter sets (ITU-T H.265 Table 7-1).
const (
	h265NALUVPS = 32
	h265NALUSPS = 33
	h265NALUPPS = 34
)

// parseHEVCConfig parses an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §8.3.3.1) and returns the H.265 parameters (the first VPS, SPS and PPS) and
// the NAL unit length size.
func parseHEVCConfig(b []byte) (stream.H265, int, error) {
	const fixed = 23
	if len(b) < fixed {
		return stream.H265{}, 0, fmt.Errorf("%w: %w", errBadConfig, errTruncated)
	}
	if b[0] != 1 {
		return stream.H265{}, 0, fmt.Errorf("%w: version %d", errBadConfig, b[0])
	}
	lengthSize := int(b[21]&0x03) + 1
	if lengthSize == 3 {
		return stream.H265{}, 0, fmt.Errorf("%w: NAL unit length size 3", errBadConfig)
	}
	var c stream.H265
	numArrays := int(b[22])
	pos := fixed
	for range numArrays {
		if pos+3 > len(b) {
			return stream.H265{}, 0, fmt.Errorf("%w: %w", errBadConfig, errTruncated)
		}
		typ := b[pos] & 0x3f
		count := int(b[pos+1])<<8 | int(b[pos+2])
		var nalus [][]byte
		var err error
		nalus, pos, err = readParamSets(b, pos+3, count)
		if err != nil {
			return stream.H265{}, 0, err
		}
		if len(nalus) == 0 {
			continue
		}
		switch typ {
		case h265NALUVPS:
			if c.VPS == nil {
				c.VPS = nalus[0]
			}
		case h265NALUSPS:
			if c.SPS == nil {
				c.SPS = nalus[0]
			}
		case h265NALUPPS:
			if c.PPS == nil {
				c.PPS = nalus[0]
			}
		}
	}
	if c.VPS == nil || c.SPS == nil || c.PPS == nil {
		return stream.H265{}, 0, fmt.Errorf("%w: missing VPS, SPS or PPS", errBadConfig)
	}
	return c, lengthSize, nil
}

// parseAV1Config parses an AV1CodecConfigurationRecord (AV1 Codec ISO Media
// File Format Binding §2.3.3) and returns the sequence header OBU found in
// its configOBUs (without its obu_size field), or nil when the record
// carries none (the sequence header then comes in band with a key frame).
func parseAV1Config(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %w", errBadConfig, errTruncated)
	}
	if b[0] != 0x81 {
		return nil, fmt.Errorf("%w: marker/version 0x%02x", errBadConfig, b[0])
	}
	if len(b) == 4 {
		return nil, nil
	}
	obus, err := splitOBUs(b[4:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadConfig, err)
	}
	return findAV1SequenceHeader(obus), nil
}

// findAV1SequenceHeader returns the first sequence header OBU (AV1 spec
// §5.5) among obus, or nil.
func findAV1SequenceHeader(obus [][]byte) []byte {
	for _, o := range obus {
		var h av1.OBUHeader
		if h.Unmarshal(o) == nil && h.Type == av1.OBUTypeSequenceHeader {
			var sh av1.SequenceHeader
			if sh.Unmarshal(o) != nil {
				continue
			}
			return bytes.Clone(o)
		}
	}
	return nil
}

// splitOBUs splits an AV1 low overhead bitstream (AV1 spec §5.2, every OBU
// with obu_size) into OBUs without their size fields.
func splitOBUs(b []byte) ([][]byte, error) {
	var bs av1.Bitstream
	if err := bs.Unmarshal(b); err != nil {
		return nil, err
	}
	if len(bs) > maxNALUsPerFrame {
		return nil, fmt.Errorf("%d OBUs in one frame", len(bs))
	}
	return bs, nil
}

// splitLengthPrefixed splits an AVCC / HVCC frame (ISO/IEC 14496-15 §5.3.2,
// NAL units each preceded by a big-endian length of lengthSize bytes) into
// NAL units aliasing b. Zero-length NAL units are skipped.
func splitLengthPrefixed(b []byte, lengthSize int) ([][]byte, error) {
	if lengthSize != 1 && lengthSize != 2 && lengthSize != 4 {
		return nil, fmt.Errorf("NAL unit length size %d", lengthSize)
	}
	var out [][]byte
	for len(b) > 0 {
		if len(b) < lengthSize {
			return nil, errTruncated
		}
		n := 0
		for i := range lengthSize {
			n = n<<8 | int(b[i])
		}
		b = b[lengthSize:]
		if n > len(b) || n < 0 {
			return nil, fmt.Errorf("NAL unit length %d exceeds the %d bytes left", n, len(b))
		}
		if n > 0 {
			if len(out) == maxNALUsPerFrame {
				return nil, fmt.Errorf("more than %d NAL units in one frame", maxNALUsPerFrame)
			}
			out = append(out, b[:n:n])
		}
		b = b[n:]
	}
	if len(out) == 0 {
		return nil, errors.New("frame without NAL units")
	}
	return out, nil
}

// parseAACConfig validates an MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3
// §1.6.2.1) and returns the AAC codec parameters.
func parseAACConfig(b []byte) (stream.AAC, error) {
	var asc mpeg4audio.AudioSpecificConfig
	if err := asc.Unmarshal(b); err != nil {
		return stream.AAC{}, fmt.Errorf("%w: AudioSpecificConfig: %w", errBadConfig, err)
	}
	return stream.AAC{Config: bytes.Clone(b)}, nil
}

// parseOpusHead parses the Opus identification header (RFC 7845 §5.1) that
// Enhanced RTMP carries as the Opus SequenceStart.
func parseOpusHead(b []byte) (stream.Opus, error) {
	if len(b) < 19 || string(b[:8]) != "OpusHead" {
		return stream.Opus{}, fmt.Errorf("%w: not an OpusHead", errBadConfig)
	}
	ch := int(b[9])
	if ch == 0 {
		return stream.Opus{}, fmt.Errorf("%w: zero channels", errBadConfig)
	}
	return stream.Opus{ChannelCount: ch}, nil
}

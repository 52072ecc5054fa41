package hls

import "fmt"

// DecoderConfig returns the decoder configuration record of a video
// codec with 4-byte NAL unit lengths: the AVCDecoderConfigurationRecord of
// H264 (ISO/IEC 14496-15 §5.3.3.1) or the HEVCDecoderConfigurationRecord
// of H265 (§8.3.3.1), or the AV1CodecConfigurationRecord of AV1
// (AV1-ISOBMFF §2.3.3). MP4 carries it in avcC, hvcC and av1C; FLV and
// Enhanced RTMP carry the same bytes in their sequence headers.
func DecoderConfig(c Codec) ([]byte, error) {
	switch c := c.(type) {
	case H264:
		sps, err := parseH264(c)
		if err != nil {
			return nil, err
		}
		return avcConfig(c, sps), nil
	case H265:
		sps, ptl, err := parseH265(c)
		if err != nil {
			return nil, err
		}
		return hvcConfig(c, sps, ptl), nil
	case AV1:
		sh, err := parseAV1(c)
		if err != nil {
			return nil, err
		}
		return av1Config(c, sh)
	}
	return nil, fmt.Errorf("no decoder configuration record for %T", c)
}

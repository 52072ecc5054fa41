package whep

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// spsBFrames tells from an H.264 SPS whether the stream may reorder frames
// (B-frames): never in the Baseline profile (ITU-T H.264 A.2.1, profile_idc
// 66); otherwise as max_num_reorder_frames of the VUI bitstream
// restriction (E.2.1), which x264 and most encoders write. known is false
// when the SPS does not say; the feed then watches for PTS != DTS.
func spsBFrames(c stream.Codec) (bframes, known bool) {
	c264, ok := c.(stream.H264)
	if !ok {
		return false, false
	}
	var sps h264.SPS
	if err := sps.Unmarshal(c264.SPS); err != nil {
		return false, false
	}
	if sps.ProfileIdc == 66 {
		return false, true
	}
	if sps.VUI != nil && sps.VUI.BitstreamRestriction != nil {
		return sps.VUI.BitstreamRestriction.MaxNumReorderFrames > 0, true
	}
	return false, false
}

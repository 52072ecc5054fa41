package rtmp

import (
	"context"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

var (
	testSPS = rtmptest.TestSPS
	testPPS = rtmptest.TestPPS
	testASC = rtmptest.TestASC
)

var (
	avcConfigRecord    = rtmptest.AVCConfigRecord
	legacyAVCSeqHeader = rtmptest.LegacyAVCSeqHeader
	legacyAVCFrame     = rtmptest.LegacyAVCFrame
	legacyAACSeqHeader = rtmptest.LegacyAACSeqHeader
	legacyAACFrame     = rtmptest.LegacyAACFrame
)

// publishSynthetic publishes synthetic H.264 and AAC to url until ctx is
// done or dur passed (rtmptest.PublishSynthetic).
func publishSynthetic(ctx context.Context, url string, dur time.Duration) error {
	return rtmptest.PublishSynthetic(ctx, url, dur)
}

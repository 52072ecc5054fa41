package transcode

import (
	"fmt"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
)

// Capacity units. One unit is one megapixel per second of libx264 output
// (veryfast, zerolatency): a 640x360 rung at 30 fps costs 6.9 units, a
// 1280x720 rung at 30 fps 27.6. Hardware encoders are weighted 1 per
// megapixel per second too, for H.264 and HEVC alike; their budget is the
// operator's (transcode.capacity), since it depends on the card, not on the
// CPU.
const (
	// X264UnitsPerCore is the automatic budget per CPU core with libx264
	// (ffmpeg.UnitsPerCore).
	X264UnitsPerCore = ffmpeg.UnitsPerCore
	// X265Weight is what a megapixel per second of libx265 costs against
	// libx264 (x265 at veryfast/zerolatency is about five times slower).
	X265Weight = 5
	// HardwareAutoUnits is the budget of a hardware encoder family when
	// transcode.capacity is 0: eight 1080p60 rungs. Operators set the real
	// figure of their card.
	HardwareAutoUnits = 8 * 1920 * 1080 * 60 / 1e6
	// defaultFPS is the frame rate assumed when neither the source nor the
	// profile says one.
	defaultFPS = 30
)

// RungUnits is the capacity cost of one rung on family: output pixels
// times frame rate in megapixels per second, times X265Weight for libx265.
// srcFPS is the source's frame rate (0 = unknown: defaultFPS), capped by
// the rung's FPS when it decimates.
func RungUnits(f Family, r Rung, srcFPS float64) float64 {
	fps := srcFPS
	if r.FPS > 0 && (fps <= 0 || float64(r.FPS) < fps) {
		fps = float64(r.FPS)
	}
	if fps <= 0 {
		fps = defaultFPS
	}
	u := float64(r.Width) * float64(r.Height) * fps / 1e6
	if f == X264 && r.Codec == "hevc" {
		u *= X265Weight
	}
	return u
}

// LadderUnits is the capacity cost of a ladder: the sum of its rungs'.
func LadderUnits(f Family, rungs []Rung, srcFPS float64) float64 {
	var u float64
	for _, r := range rungs {
		u += RungUnits(f, r, srcFPS)
	}
	return u
}

// AutoCapacity is the budget in units when transcode.capacity is 0:
// X264UnitsPerCore per core for x264, HardwareAutoUnits for hardware
// families.
func AutoCapacity(f Family, cores int) float64 {
	if f == X264 || f == "" {
		return float64(max(1, cores) * X264UnitsPerCore)
	}
	return HardwareAutoUnits
}

// capacityMessage explains a refusal.
func capacityMessage(need, used, total float64) string {
	if need > total {
		return fmt.Sprintf("the ladder costs %.1f capacity units, more than transcode.capacity (%.1f); the stream is passthrough only", need, total)
	}
	return fmt.Sprintf("transcoding is at capacity (%.1f of %.1f units used, the ladder needs %.1f); the stream is passthrough only", used, total, need)
}

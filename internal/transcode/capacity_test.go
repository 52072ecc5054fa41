package transcode

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestRungUnits(t *testing.T) {
	r := func(w, h, fpsCap int, codec string) Rung {
		return Rung{Profile: Profile{Height: h, Codec: codec}, Width: w, FPS: fpsCap}
	}
	for _, tt := range []struct {
		name   string
		f      Family
		rung   Rung
		srcFPS float64
		want   float64
	}{
		{"720p30 x264", X264, r(1280, 720, 0, "h264"), 30, 27.648},
		{"360p30 x264", X264, r(640, 360, 0, "h264"), 30, 6.912},
		{"60 fps source capped at 30", X264, r(854, 480, 30, "h264"), 60, 854 * 480 * 30 / 1e6},
		{"cap above the source rate: source rate", X264, r(854, 480, 60, "h264"), 25, 854 * 480 * 25 / 1e6},
		{"unknown rate: 30", X264, r(640, 360, 0, "h264"), 0, 6.912},
		{"unknown rate with a cap: the cap", X264, r(640, 360, 24, "h264"), 0, 640 * 360 * 24 / 1e6},
		{"libx265 weighs 5", X264, r(640, 360, 0, "hevc"), 30, 5 * 6.912},
		{"nvenc hevc weighs 1", NVENC, r(640, 360, 0, "hevc"), 30, 6.912},
		{"vaapi h264", VAAPI, r(1920, 1080, 0, "h264"), 60, 124.416},
	} {
		if got := RungUnits(tt.f, tt.rung, tt.srcFPS); !near(got, tt.want) {
			t.Errorf("%s: %v units, want %v", tt.name, got, tt.want)
		}
	}
	ladder := []Rung{r(854, 480, 0, "h264"), r(640, 360, 0, "h264")}
	if got, want := LadderUnits(X264, ladder, 30), 12.2976+6.912; !near(got, want) {
		t.Errorf("LadderUnits = %v, want %v", got, want)
	}
}

func TestAutoCapacity(t *testing.T) {
	for _, tt := range []struct {
		f     Family
		cores int
		want  float64
	}{
		{X264, 2, 60}, {X264, 16, 480}, {X264, 0, 30}, {"", 4, 120},
		{NVENC, 2, HardwareAutoUnits}, {QSV, 64, HardwareAutoUnits},
	} {
		if got := AutoCapacity(tt.f, tt.cores); got != tt.want {
			t.Errorf("AutoCapacity(%s, %d) = %v, want %v", tt.f, tt.cores, got, tt.want)
		}
	}
}

// TestCapacityMessage: a refusal names the units.
func TestCapacityMessage(t *testing.T) {
	for _, tc := range []struct {
		need, used, total float64
		want              string
	}{
		{10.5, 0, 10, "the ladder costs 10.5 capacity units, more than transcode.capacity (10.0); the stream is passthrough only"},
		{5, 8, 10, "transcoding is at capacity (8.0 of 10.0 units used, the ladder needs 5.0); the stream is passthrough only"},
	} {
		if got := capacityMessage(tc.need, tc.used, tc.total); got != tc.want {
			t.Errorf("capacityMessage = %q, want %q", got, tc.want)
		}
	}
}

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

// TestBudgetAdmission: ladders are admitted while their units fit, a
// released ladder makes room, a ladder larger than the whole budget never
// fits, and the arithmetic does not drift.
func TestBudgetAdmission(t *testing.T) {
	// 720p30 -> 480p + 360p is 19.2 units: three fit in the 60 units of
	// 2 cores, not four.
	l := LadderUnits(X264, []Rung{{Width: 854, Profile: Profile{Height: 480}}, {Width: 640, Profile: Profile{Height: 360}}}, 30)
	b := budget{total: AutoCapacity(X264, 2)}
	for i := range 3 {
		if !b.take(l) {
			t.Fatalf("ladder %d refused with %v of %v units used", i+1, b.used, b.total)
		}
	}
	if b.take(l) {
		t.Fatalf("a fourth ladder admitted: %v of %v units", b.used, b.total)
	}
	if u, n := b.state(); !near(u, 3*l) || n != 3 {
		t.Fatalf("state %v units %d ladders, want %v and 3", u, n, 3*l)
	}
	// a small ladder still fits in what is left (60 - 57.6 = 2.4)
	small := RungUnits(X264, Rung{Width: 284, Profile: Profile{Height: 160}}, 30)
	if !b.take(small) {
		t.Fatalf("a %.2f-unit ladder refused with %.2f left", small, b.total-b.used)
	}
	b.release(small)
	b.release(l)
	if !b.take(l) {
		t.Fatal("a released ladder's room was not reused")
	}
	for range 3 {
		b.release(l)
	}
	if u, n := b.state(); u != 0 || n != 0 {
		t.Fatalf("after releasing everything: %v units, %d ladders", u, n)
	}
	// exactly the budget fits; a ladder above it never does
	exact := budget{total: 2 * 6.912}
	if !exact.take(6.912) || !exact.take(6.912) {
		t.Fatal("ladders summing exactly to the budget refused")
	}
	if (&budget{total: 10}).take(10.5) {
		t.Fatal("a ladder above the whole budget admitted")
	}
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

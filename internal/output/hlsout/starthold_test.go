package hlsout

import (
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestStartHold: the first video of a stream whose audio is transcoded
// waits for that audio's first unit, or for the lag bound, or for a
// discontinuity or the end; after that nothing is held any more. A stream
// whose audio is its own is never held.
func TestStartHold(t *testing.T) {
	t0 := time.Now()
	e := &entry{audioFrom: "aac", audioLag: 600 * time.Millisecond}
	units := func(n int) []*stream.Unit {
		var us []*stream.Unit
		for i := range n {
			us = append(us, &stream.Unit{DTS: time.Duration(i) * 33 * time.Millisecond})
		}
		return us
	}
	for _, tt := range []struct {
		name         string
		audioIn      bool
		force        bool
		after        time.Duration
		wantReleased int
	}{
		{"audio began", true, false, 100 * time.Millisecond, 3},
		{"bound passed", false, false, 600 * time.Millisecond, 3},
		{"discontinuity", false, true, 10 * time.Millisecond, 3},
		{"still waiting", false, false, 500 * time.Millisecond, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newStartHold(e, true)
			for _, u := range units(3) {
				if !h.hold(u, t0) {
					t.Fatal("first video not held")
				}
			}
			out := h.release(tt.audioIn, tt.force, t0.Add(tt.after))
			if len(out) != tt.wantReleased {
				t.Fatalf("released %d units, want %d", len(out), tt.wantReleased)
			}
			for i, u := range out {
				if u.DTS != time.Duration(i)*33*time.Millisecond {
					t.Fatalf("released out of order: %v", out)
				}
			}
			if tt.wantReleased > 0 && h.hold(&stream.Unit{}, t0.Add(time.Second)) {
				t.Fatal("held again after the start")
			}
		})
	}
	for _, e := range []*entry{{}, {audioFrom: "aac"}} {
		if newStartHold(e, true).hold(&stream.Unit{}, t0) {
			t.Errorf("entry %+v: held without a transcoded audio rendition with a lag", e)
		}
	}
	if newStartHold(&entry{audioFrom: "aac", audioLag: time.Second}, false).hold(&stream.Unit{}, t0) {
		t.Error("held without video")
	}
}

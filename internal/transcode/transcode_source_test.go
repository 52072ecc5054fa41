package transcode

import (
	"testing"

	"github.com/mpegflow/mpegflow/internal/stream"
)

func TestWithSourceRung(t *testing.T) {
	profiles := []Profile{
		{Name: "720p", Height: 720, Bitrate: 3_000_000, Codec: "h264"},
		{Name: "360p", Height: 360, Bitrate: 700_000, Codec: "h264"},
		{Name: "160p", Height: 160, Bitrate: 150_000, Codec: "h264"},
	}
	tests := []struct {
		name     string
		names    []string
		w, h     int
		want     []string
		topH     int
		topW     int
		topBits  int64
		srcAdded bool
	}{
		{"rung at source height: nothing added", []string{"360p", "160p"}, 640, 360, []string{"360p", "160p"}, 360, 640, 700_000, false},
		{"source between profiles", []string{"360p", "160p"}, 854, 480, []string{"source", "360p", "160p"}, 480, 854, 1_333_333, true},
		{"source above every profile", []string{"720p"}, 1920, 1080, []string{"source", "720p"}, 1080, 1920, 6_750_000, true},
		{"tiny source: floor bitrate", []string{"160p"}, 160, 120, []string{"source"}, 120, 160, 200_000, true},
	}
	for _, tt := range tests {
		rungs, err := PlanLadder(profiles, tt.names, tt.w, tt.h, 0)
		if err != nil {
			t.Fatal(err)
		}
		rungs = withSourceRung(profiles, rungs, tt.w, tt.h)
		var got []string
		for _, r := range rungs {
			got = append(got, r.Name)
			if r.Height > tt.h {
				t.Fatalf("%s: rung %s upscales", tt.name, r.Name)
			}
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%s: rungs %v, want %v", tt.name, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("%s: rungs %v, want %v", tt.name, got, tt.want)
			}
		}
		top := rungs[0]
		if top.Height != tt.topH || top.Width != tt.topW || (tt.srcAdded && top.Bitrate != tt.topBits) {
			t.Fatalf("%s: top %+v", tt.name, top)
		}
	}
	if InputFormat("vp8") != "matroska" || InputFormat("h264") != "mpegts" {
		t.Fatal("input formats")
	}
}

// TestTopRung: the rendition standing for a VP8/VP9 source is the ladder's
// rung at the source's height when there is one, else the added "source"
// rung; sources HLS carries and unknown sizes have none.
func TestTopRung(t *testing.T) {
	tc, err := New(Config{Output: &fakeOutput{}, Profiles: testProfiles})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		c      stream.Codec
		ladder []string
		want   string
		w, h   int
	}{
		{"vp8 rung at the source height", stream.VP8{Width: 320, Height: 180}, []string{"360p", "180p", "120p"}, "180p", 320, 180},
		{"vp9 below every rung's height", stream.VP9{Width: 320, Height: 240}, []string{"360p", "120p"}, "source", 320, 240},
		{"vp9 above the ladder", stream.VP9{Width: 640, Height: 360}, []string{"120p"}, "source", 640, 360},
		{"vp8 without a size", stream.VP8{}, []string{"120p"}, "", 0, 0},
		{"h264 has no sps", stream.H264{}, []string{"120p"}, "", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := tc.TopRung(tt.c, tt.ladder)
			if tt.want == "" {
				if ok {
					t.Fatalf("got %+v, want none", r)
				}
				return
			}
			if !ok || r.Name != tt.want || r.Width != tt.w || r.Height != tt.h || r.Codec != "h264" {
				t.Fatalf("got %+v %v, want %s %dx%d h264", r, ok, tt.want, tt.w, tt.h)
			}
		})
	}
}

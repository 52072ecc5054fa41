package transcode

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestTranscodeVP8: a VP8 + AAC source goes to ffmpeg as Matroska and
// comes back as H.264 rungs with AAC, the top one ("source") at the
// source's size since HLS cannot carry the source itself.
func TestTranscodeVP8(t *testing.T) {
	tracks, units := vp8ClipUnits(t, 6, 5*time.Second)
	out := &fakeOutput{}
	tc, err := New(Config{Output: out, Profiles: testProfiles, Backoff: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	s := pub.Stream()
	sink := tc.Sink(s, []string{"360p", "120p"})
	r := s.AddReader("transcode", stream.ReaderOptions{QueueSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx, r) }()
	start := time.Now()
	for _, u := range units {
		if d := (u.DTS - units[0].DTS) / 2; time.Since(start) < d {
			time.Sleep(d - time.Since(start))
		}
		pub.Write(u)
	}
	pub.End()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, u := out.get("360p"); u != nil {
		t.Error("360p rung above the 240p source was not skipped")
	}
	for _, tt := range []struct {
		name string
		w, h int
	}{{"source", 320, 240}, {"120p", 160, 120}} {
		tr, us := out.get(tt.name)
		if len(tr) != 2 {
			t.Fatalf("%s: tracks %v, want video and audio", tt.name, tr)
		}
		var sps h264.SPS
		if err := sps.Unmarshal(tr[0].Codec.(stream.H264).SPS); err != nil {
			t.Fatal(err)
		}
		if sps.Width() != tt.w || sps.Height() != tt.h {
			t.Errorf("%s: %dx%d, want %dx%d", tt.name, sps.Width(), sps.Height(), tt.w, tt.h)
		}
		if _, ok := tr[1].Codec.(stream.AAC); !ok {
			t.Errorf("%s: audio %T, want AAC", tt.name, tr[1].Codec)
		}
		var video, keys, audio int
		var first *stream.Unit
		for _, u := range us {
			if u.Track != 0 {
				audio++
				continue
			}
			if first == nil {
				first = u
			}
			video++
			if u.Key {
				keys++
			}
		}
		if video < 120 || keys < 3 || audio < 100 {
			t.Errorf("%s: %d video frames (%d key), %d audio frames", tt.name, video, keys, audio)
		}
		if d := first.DTS - units[0].DTS; d < 0 || d > 2*time.Second {
			t.Errorf("%s: first DTS %v, source starts at %v: not on the source timeline", tt.name, first.DTS, units[0].DTS)
		}
	}
}

package rtmp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

func TestFFmpegH264AACPublish(t *testing.T) {
	needFFmpeg(t)
	env := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ffErr := make(chan error, 1)
	go func() {
		_, err := runFFmpeg(ctx, t, "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "30",
			"-c:a", "aac", "-f", "flv", env.url+testKey+"?foo=bar")
		ffErr <- err
	}()
	r := env.nextReader(t, 15*time.Second)
	st := env.hub.Get(testInput)
	if st == nil {
		t.Fatal("no stream for the live input")
	}
	tracks := st.Tracks()
	if len(tracks) != 2 {
		t.Fatalf("tracks = %d, want 2", len(tracks))
	}
	h, ok := tracks[0].Codec.(stream.H264)
	if !ok || len(h.SPS) == 0 || len(h.PPS) == 0 {
		t.Fatalf("track 0 = %#v, want H264 with SPS and PPS", tracks[0].Codec)
	}
	if a, ok := tracks[1].Codec.(stream.AAC); !ok || len(a.Config) < 2 {
		t.Fatalf("track 1 = %#v, want AAC", tracks[1].Codec)
	}
	units := collect(ctx, r)
	if err := <-ffErr; err != nil {
		t.Fatal(err)
	}

	var video, audio, keys, reordered int
	var lastDTS [2]time.Duration
	for i, u := range units {
		if u.Wall.IsZero() {
			t.Fatalf("unit %d has no wall clock", i)
		}
		if i > 0 && u.DTS < lastDTS[u.Track] {
			t.Fatalf("unit %d of track %d: DTS %v < previous %v", i, u.Track, u.DTS, lastDTS[u.Track])
		}
		lastDTS[u.Track] = u.DTS
		switch u.Track {
		case 0:
			video++
			if len(u.NALUs) == 0 {
				t.Fatalf("video unit %d without NAL units", i)
			}
			if u.Key {
				keys++
			}
			if u.PTS != u.DTS {
				reordered++
			}
		case 1:
			audio++
			if !u.Key || len(u.Data) == 0 || u.PTS != u.DTS {
				t.Fatalf("bad audio unit %d: %+v", i, u)
			}
		}
	}
	t.Logf("video %d (keys %d, PTS!=DTS %d), audio %d", video, keys, reordered, audio)
	if video < 60 || audio < 100 {
		t.Errorf("too few units: video %d audio %d", video, audio)
	}
	if keys < 2 {
		t.Errorf("key frames = %d, want >= 2", keys)
	}
	if reordered == 0 {
		t.Errorf("no video unit with PTS != DTS despite B-frames")
	}
	if !units[0].Key {
		t.Errorf("first unit is not a key frame")
	}
	if strings.Contains(env.logs.String(), testKey) {
		t.Errorf("the stream key appears in the logs")
	}
	env.metrics.mu.Lock()
	if env.metrics.opened != 1 || env.metrics.closed != 1 || env.metrics.wire == 0 {
		t.Errorf("metrics: opened %d closed %d wire %d", env.metrics.opened, env.metrics.closed, env.metrics.wire)
	}
	env.metrics.mu.Unlock()
}

package rtmp

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFFmpegPublishPastExtendedTimestamp publishes with FFmpeg from 17000 s
// on, past 0xFFFFFF ms (~4.66 h): FFmpeg then sends extended timestamps and
// repeats them after type-3 chunk headers, which go-rtmp v0.0.7 alone
// misframes.
func TestFFmpegPublishPastExtendedTimestamp(t *testing.T) {
	needFFmpeg(t)
	env := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ffErr := make(chan error, 1)
	go func() {
		_, err := runFFmpeg(ctx, t,
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
			"-c:a", "aac", "-output_ts_offset", "17000", "-f", "flv", env.url+testKey)
		ffErr <- err
	}()
	r := env.nextReader(t, 15*time.Second)
	units := collect(ctx, r)
	if err := <-ffErr; err != nil {
		t.Fatal(err)
	}
	var video, audio, keys int
	for _, u := range units {
		switch u.Track {
		case 0:
			video++
			if u.Key {
				keys++
			}
		case 1:
			audio++
		}
	}
	if video < 55 || audio < 85 || keys < 2 {
		t.Fatalf("video %d (keys %d), audio %d units; want about 60 (2) and 94", video, keys, audio)
	}
	if logs := env.logs.String(); strings.Contains(logs, "protocol violation") {
		t.Fatalf("protocol error in logs:\n%s", logs)
	}
}

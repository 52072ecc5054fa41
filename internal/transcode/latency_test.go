package transcode

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// latencyOutput records, for every rung video frame, how long after its
// source frame entered the hub it came out of the transcoder.
type latencyOutput struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (o *latencyOutput) AddRendition(_, _ string, _ []stream.Track) (RenditionWriter, error) {
	return o, nil
}

func (o *latencyOutput) Write(u *stream.Unit) error {
	if u.Track != 0 {
		return nil
	}
	d := time.Since(u.Wall)
	o.mu.Lock()
	o.lat = append(o.lat, d)
	o.mu.Unlock()
	return nil
}

// TestRungLatency measures the transcoder's own delay in real time: a
// 640x360 30 fps source with B-frames (libx264 veryfast -bf 2, the common
// OBS and ffmpeg shape) is fed to the hub at its pace, stamped with the
// wall clock as an ingest would, and every frame of the 360p rung (the
// rung a WHEP viewer of such a source gets) is timed as it comes out. It
// logs p50/p95 and asserts only that the rung kept up (under 1.5 s p50;
// a loaded machine is reported, not judged): the figure is what the
// ffmpeg input, decoder and encoder options and the pipes add.
func TestRungLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	const seconds = 8
	p := filepath.Join(t.TempDir(), "src.ts")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "30", "-pix_fmt", "yuv420p", "-b:v", "1M",
		"-f", "mpegts", p).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr := newTSRungReader(f, slog.New(slog.DiscardHandler))
	var units []*stream.Unit
	var tracks []stream.Track
	for {
		x, err := fr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tracks == nil {
			tracks = []stream.Track{{Codec: x.Codec}}
		}
		units = append(units, &stream.Unit{DTS: x.DTS, PTS: x.PTS, Key: x.Key, NALUs: x.NALUs})
	}

	out := &latencyOutput{}
	tc, err := New(Config{Output: out, Profiles: testProfiles})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	sink := tc.Sink(pub.Stream(), []string{"360p"})
	r := pub.Stream().AddReader("transcode", stream.ReaderOptions{QueueSize: 1024})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx, r) }()
	start := time.Now()
	for _, u := range units {
		if d := u.DTS - units[0].DTS; time.Since(start) < d {
			time.Sleep(d - time.Since(start))
		}
		u.Wall = time.Now()
		pub.Write(u)
	}
	// a second of slack for the last frames, then the end of the input
	time.Sleep(time.Second)
	pub.End()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.Close()

	out.mu.Lock()
	lat := slices.Clone(out.lat)
	out.mu.Unlock()
	if len(lat) < seconds*30/2 {
		t.Fatalf("%d rung frames, want most of %d", len(lat), seconds*30)
	}
	// the first second is ffmpeg starting and probing: steady state only
	lat = lat[30:]
	slices.Sort(lat)
	p50, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
	t.Logf("source hub -> 360p rung out: p50 %v, p95 %v, min %v, max %v (n=%d)", p50.Round(time.Millisecond), p95.Round(time.Millisecond),
		lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), len(lat))
	if p50 > 1500*time.Millisecond {
		t.Errorf("p50 %v: the rung does not keep up", p50)
	}
}

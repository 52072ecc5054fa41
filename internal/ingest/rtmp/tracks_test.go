package rtmp

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

func TestFFmpegAudioOnly(t *testing.T) {
	needFFmpeg(t)
	env := startServer(t, func(c *Config) { c.TrackWait = 5 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ffErr := make(chan error, 1)
	go func() {
		_, err := runFFmpeg(ctx, t, "-re", "-f", "lavfi", "-i", "sine", "-t", "1.5", "-c:a", "aac", "-f", "flv", env.url+testKey)
		ffErr <- err
	}()
	start := time.Now()
	r := env.nextReader(t, 10*time.Second)
	// onMetaData announced audio only, so the stream starts without waiting TrackWait
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("audio-only stream started after %v", d)
	}
	tracks := env.hub.Get(testInput).Tracks()
	units := collect(ctx, r)
	if err := <-ffErr; err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 1 || tracks[0].Kind() != stream.KindAudio {
		t.Fatalf("tracks = %v, want one audio track", tracks)
	}
	if len(units) < 50 {
		t.Fatalf("units = %d", len(units))
	}
}

// TestVideoOnlySequenceHeaders: video before its sequence header is dropped
// (logged once), a video-only publish without onMetaData starts after
// TrackWait, and a changed sequence header reaches readers on the next unit.
func TestVideoOnlySequenceHeaders(t *testing.T) {
	env := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rtmptest.Dial(ctx, env.url+testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	idr := []byte{0x65, 0x88, 1}
	p := []byte{0x41, 0x9a, 1}
	sps2 := append(bytes.Clone(testSPS), 0x42)
	steps := []struct {
		ts  uint32
		tag []byte
	}{
		{0, legacyAVCFrame(true, 0, idr)}, // before the sequence header: dropped
		{0, legacyAVCFrame(false, 0, p)},  // dropped, not logged again
		{0, legacyAVCSeqHeader(testSPS, testPPS)},
		{0, legacyAVCFrame(true, 0, idr)},
		{33, legacyAVCFrame(false, 33, p)},
		{66, legacyAVCSeqHeader(sps2, testPPS)},
		{66, legacyAVCFrame(true, 0, idr)},
		{99, legacyAVCFrame(false, 0, p)},
	}
	for _, s := range steps {
		if err := c.WriteVideo(s.ts, s.tag); err != nil {
			t.Fatal(err)
		}
	}
	// the decision to start is taken on message arrival: send one more frame
	// after TrackWait, as a live encoder would
	time.Sleep(400 * time.Millisecond)
	if err := c.WriteVideo(132, legacyAVCFrame(false, 0, p)); err != nil {
		t.Fatal(err)
	}
	r := env.nextReader(t, 5*time.Second)
	tracks := env.hub.Get(testInput).Tracks()
	if len(tracks) != 1 || tracks[0].Codec.Name() != "h264" { // Tracks has the latest parameters
		t.Fatalf("tracks = %#v", tracks)
	}
	var units []*stream.Unit
	for len(units) < 4 {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
	}
	if units[0].Codec != nil || units[1].Codec != nil || units[3].Codec != nil {
		t.Errorf("unexpected Codec on an unchanged unit")
	}
	if !units[2].Codec.Equal(stream.H264{SPS: sps2, PPS: testPPS}) {
		t.Errorf("unit 2 Codec = %#v, want the new SPS", units[2].Codec)
	}
	if units[1].PTS-units[1].DTS != 33*time.Millisecond {
		t.Errorf("composition time: PTS %v DTS %v", units[1].PTS, units[1].DTS)
	}
	if !units[0].Key || units[1].Key || !units[2].Key {
		t.Errorf("key flags wrong")
	}
	if n := strings.Count(env.logs.String(), "video before its sequence header"); n != 1 {
		t.Errorf("'video before its sequence header' logged %d times, want once", n)
	}
}

package whip

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// testVP8 generates seconds of 320x240 30 fps VP8 (libvpx, key frame every
// second) with ffmpeg, or skips.
func testVP8(t *testing.T, seconds int) [][]byte { return testVPX(t, "vp8", seconds) }

// testVPX is testVP8 for codec "vp8" (libvpx) or "vp9" (libvpx-vp9).
func testVPX(t *testing.T, codec string, seconds int) [][]byte {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	p := filepath.Join(t.TempDir(), "v.ivf")
	enc := []string{"-c:v", "libvpx"}
	if codec == "vp9" {
		enc = []string{"-c:v", "libvpx-vp9", "-cpu-used", "8", "-row-mt", "1"}
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-t", (time.Duration(seconds) * time.Second).String()}
	args = append(append(args, enc...), "-g", "30", "-b:v", "300k", "-deadline", "realtime", "-f", "ivf", p)
	out, err := exec.Command(ff, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := whiptest.ReadIVF(b)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

// TestPublishVP8: with AcceptVPX answering yes, a VP8 (or VP9) + Opus
// publisher is accepted and its frames reach the hub as a VP8 (VP9) track
// of the right size; answering no, the same client gets 406 naming the
// codec and transcoding.
func TestPublishVP8(t *testing.T) {
	for _, codec := range []string{"vp8", "vp9"} {
		t.Run(codec, func(t *testing.T) { testPublishVPX(t, codec) })
	}
}

func testPublishVPX(t *testing.T, codec string) {
	frames := testVPX(t, codec, 4)
	_, opus := testMedia(t, 4)
	var asked []string
	e := newTestEnv(t, func(c *Config) {
		c.AcceptVPX = func(_ context.Context, id string) bool {
			asked = append(asked, id)
			return id == testID
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := whiptest.Dial(ctx, e.endpoint("other"), "other-key", whiptest.Options{Video: codec}); err == nil {
		t.Fatal(codec + " accepted for an input that is not transcoded")
	} else if se := (*whiptest.StatusError)(nil); !errors.As(err, &se) || se.Code != 406 ||
		!containsFold(se.Body, codec) || !containsFold(se.Body, "enable transcoding") {
		t.Fatalf("err %v, want 406 naming %s and transcoding", err, codec)
	}

	sess, err := whiptest.Dial(ctx, e.endpoint(testID), testKey, whiptest.Options{Video: codec})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	streamed := make(chan error, 1)
	go func() { streamed <- sess.StreamFrames(ctx, frames, 30, opus) }()
	var st startedStream
	select {
	case st = <-e.started:
	case <-ctx.Done():
		t.Fatal("stream never started")
	}
	tracks := st.s.Tracks()
	want := stream.Codec(stream.VP8{Width: 320, Height: 240})
	if codec == "vp9" {
		want = stream.VP9{Width: 320, Height: 240}
	}
	if !want.Equal(tracks[0].Codec) {
		t.Fatalf("video track %#v, want %#v", tracks[0].Codec, want)
	}
	stats := make(chan unitStats, 1)
	go func() { stats <- collect(ctx, st.r, tracks) }()
	if err := <-streamed; err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := sess.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	s := <-stats
	t.Logf("units: %+v, PLIs sent: %d", s, sess.PLIs())
	if s.video < 90 || s.keys < 1 || s.audio < 100 || s.backwards != 0 {
		t.Errorf("units %+v: want ≥ 90 video with a key frame, ≥ 100 audio, none backwards", s)
	}
	if len(asked) != 2 {
		t.Errorf("AcceptVPX asked %v", asked)
	}
}

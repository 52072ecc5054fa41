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
func testVP8(t *testing.T, seconds int) [][]byte {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	p := filepath.Join(t.TempDir(), "v.ivf")
	out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-t", (time.Duration(seconds) * time.Second).String(), "-c:v", "libvpx", "-g", "30", "-b:v", "300k", "-deadline", "realtime",
		"-f", "ivf", p).CombinedOutput()
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

// TestPublishVP8: with AcceptVP8 answering yes, a VP8 + Opus publisher is
// accepted and its frames reach the hub as a VP8 track of the right size;
// answering no, the same client gets 406 naming VP8 and transcoding.
func TestPublishVP8(t *testing.T) {
	frames := testVP8(t, 4)
	_, opus := testMedia(t, 4)
	var asked []string
	e := newTestEnv(t, func(c *Config) {
		c.AcceptVP8 = func(_ context.Context, id string) bool {
			asked = append(asked, id)
			return id == testID
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := whiptest.Dial(ctx, e.endpoint("other"), "other-key", whiptest.Options{Video: "vp8"}); err == nil {
		t.Fatal("vp8 accepted for an input that is not transcoded")
	} else if se := (*whiptest.StatusError)(nil); !errors.As(err, &se) || se.Code != 406 ||
		!containsFold(se.Body, "vp8") || !containsFold(se.Body, "enable transcoding") {
		t.Fatalf("err %v, want 406 naming vp8 and transcoding", err)
	}

	sess, err := whiptest.Dial(ctx, e.endpoint(testID), testKey, whiptest.Options{Video: "vp8"})
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
	if v, ok := tracks[0].Codec.(stream.VP8); !ok || v.Width != 320 || v.Height != 240 {
		t.Fatalf("video track %#v, want VP8 320x240", tracks[0].Codec)
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
		t.Errorf("AcceptVP8 asked %v", asked)
	}
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

// TestHEVCEnhancedRTMP publishes H.265 over Enhanced RTMP (ExVideoTagHeader,
// FourCC hvc1) with the project's Go RTMP client and expects hvc1 fMP4 out.
func TestHEVCEnhancedRTMP(t *testing.T) {
	e2eTest(t)
	if out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output(); !strings.Contains(string(out), "libx265") {
		if inCI() {
			t.Fatal("ffmpeg lacks the libx265 encoder")
		}
		t.Skip("ffmpeg lacks the libx265 encoder")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// 6 s of 640x360 30 fps H.265 in Annex-B, a keyframe every second, no
	// B-frames (the publisher sends frames in file order with DTS = PTS),
	// parameter sets repeated before every keyframe.
	const fps, secs = 30, 6
	hevc := filepath.Join(t.TempDir(), "src.hevc")
	enc := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "6",
		"-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-x265-params", "keyint=30:min-keyint=30:bframes=0:repeat-headers=1:log-level=error",
		"-f", "hevc", hevc)
	if out, err := enc.CombinedOutput(); err != nil {
		t.Fatalf("encode HEVC: %v\n%s", err, out)
	}
	annexB, err := os.ReadFile(hevc)
	if err != nil {
		t.Fatal(err)
	}

	in := newInput("hevc")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "1s"})
	pubErr := make(chan error, 1)
	pubStart := time.Now()
	go func() { pubErr <- rtmptest.PublishHEVC(ctx, d.RTMPURL(in.Key), annexB, fps) }()

	mediaURL, multi := waitLive(ctx, t, d, in.ID, 15*time.Second)
	t.Logf("multivariant playlist:\n%s", multi.Raw)
	if c := multi.Variants[0].Attrs["CODECS"]; !strings.Contains(c, "hvc1.") {
		t.Errorf("multivariant CODECS=%q, want hvc1.*", c)
	}
	if res := multi.Variants[0].Attrs["RESOLUTION"]; res != "640x360" {
		t.Errorf("multivariant RESOLUTION=%q, want 640x360", res)
	}
	rec := newRecorder(ctx, t, mediaURL)
	var perr error
poll:
	for {
		p := rec.poll(true)
		select {
		case perr = <-pubErr:
			break poll
		case <-ctx.Done():
			t.Fatal("PublishHEVC did not return in time")
		case <-time.After(150 * time.Millisecond):
			_ = p
		}
	}
	if perr != nil {
		t.Fatalf("PublishHEVC: %v", perr)
	}
	t.Logf("PublishHEVC sent %d s of video in %v", secs, time.Since(pubStart).Round(time.Millisecond))
	waitFor(ctx, t, 20*time.Second, "EXT-X-ENDLIST after the HEVC publisher left", func() bool { return rec.poll(false).Endlist })

	msns := rec.msns()
	if len(msns) == 0 {
		t.Fatal("no segments")
	}
	file := rec.concat(t, "hevc.mp4", msns)
	v := ffprobe(ctx, t, file, "v")
	if v.Codec != "hevc" || v.Width != 640 || v.Height != 360 {
		t.Errorf("ffprobe: %s %dx%d, want hevc 640x360", v.Codec, v.Width, v.Height)
	}
	if v.Duration < secs*0.8 {
		t.Errorf("ffprobe: %.3f s of video, want about %d s", v.Duration, secs)
	}
	t.Logf("ffprobe: %s %dx%d %.3f s in %d packets from %d segments", v.Codec, v.Width, v.Height, v.Duration, v.Packets, len(msns))
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Errorf("ffmpeg cannot decode the HEVC output cleanly: %v", err)
	}
	d.assertNoKeys(t, in.Key)
}

package mpegts

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// ffmpegTS encodes a test clip into an MPEG-TS file with the real ffmpeg:
// H.264 with B-frames (GOP of 1 s) and AAC, or H.265 when video is
// "libx265". It skips the test without ffmpeg or in -short mode.
func ffmpegTS(t *testing.T, seconds int, video string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("ffmpeg tests skipped in -short mode")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	path := filepath.Join(t.TempDir(), "clip.ts")
	args := []string{"-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=640x360:rate=30:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
		"-c:v", video, "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p"}
	switch video {
	case "libx264":
		args = append(args, "-bf", "2", "-tune", "zerolatency", "-x264-params", "bframes=2:rc-lookahead=0")
	case "libx265":
		args = append(args, "-x265-params", "log-level=error:bframes=2")
	}
	args = append(args, "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", "-y", path)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg encode: %v\n%s", err, out)
	}
	return path
}

package upload

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// TestLadderFigure measures the processing of a 1080p30 H.264+AAC file
// of MPEGFLOW_LADDER_FIGURE_SECONDS (default 600) into the default ladder
// (1080p, 720p, 480p, 360p): from its upload to ready, against the same
// ffmpeg command (Plan.FFmpegArgs) run alone. Opt-in
// (MPEGFLOW_LADDER_FIGURE=1): it takes many minutes of CPU.
// MPEGFLOW_LADDER_FIGURE_SRC names a source file kept across runs.
func TestLadderFigure(t *testing.T) {
	if os.Getenv("MPEGFLOW_LADDER_FIGURE") == "" {
		t.Skip("set MPEGFLOW_LADDER_FIGURE=1 to measure the processing of a long 1080p file into the ladder")
	}
	ff, fp := tools(t)
	secs := 600
	if v := os.Getenv("MPEGFLOW_LADDER_FIGURE_SECONDS"); v != "" {
		secs, _ = strconv.Atoi(v)
	}
	src := os.Getenv("MPEGFLOW_LADDER_FIGURE_SRC")
	if src == "" {
		src = filepath.Join(t.TempDir(), "src.mp4")
	}
	if _, err := os.Stat(src); err != nil {
		t0 := time.Now()
		out, err := exec.Command(ff, "-hide_banner", "-v", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration="+strconv.Itoa(secs),
			"-f", "lavfi", "-i", "sine=frequency=440:duration="+strconv.Itoa(secs),
			"-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		t.Logf("source: %d s 1080p30 made in %v", secs, time.Since(t0).Round(time.Second))
	}
	f := newFixture(t, func(c *Config) { c.Ladder, c.PlainMaxSize = defaultProfiles, 1<<40 })
	fh, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	t0 := time.Now()
	v, err := f.svc.CreatePlain(t.Context(), fh, Options{Name: "src.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	queued := time.Since(t0)
	got := f.waitStatus(t, v.ID, 3*time.Hour)
	job := time.Since(t0) - queued
	if got.Status != store.VideoReady || len(got.Tracks) != 5 {
		t.Fatalf("status %s (%s: %s), tracks %+v", got.Status, got.ErrorCode, got.ErrorMessage, got.Tracks)
	}
	// the same ffmpeg command alone
	b, err := exec.Command(fp, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i", src).Output()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := ParseProbe(b, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	plan.PlanLadder(defaultProfiles)
	out := t.TempDir()
	t1 := time.Now()
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-nostats", "-y"}, plan.FFmpegArgs(src, out)...)
	if o, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg alone: %v\n%s", err, o)
	}
	alone := time.Since(t1)
	t.Logf("FIGURE %d s 1080p30 into %d rungs: upload (plain, local) %v; queued to ready %v; the same ffmpeg alone %v; overhead %+.1f %%",
		secs, len(plan.Rungs), queued.Round(time.Millisecond), job.Round(100*time.Millisecond), alone.Round(100*time.Millisecond),
		100*(job.Seconds()-alone.Seconds())/alone.Seconds())
}

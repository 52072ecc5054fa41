package record

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// TestMP4BuildFigure measures the MP4 build of a long recording: ffmpeg
// synthesizes MPEGFLOW_MP4_FIGURE_SECONDS (default 3600) of 640x360 H.264 +
// AAC as CMAF segments faster than real time, they are indexed as one
// video, and MP4 is timed. Opt-in (MPEGFLOW_MP4_FIGURE=1): it takes
// minutes of CPU.
func TestMP4BuildFigure(t *testing.T) {
	if os.Getenv("MPEGFLOW_MP4_FIGURE") == "" {
		t.Skip("set MPEGFLOW_MP4_FIGURE=1 to measure the MP4 build of a long recording")
	}
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	secs := 3600
	if v := os.Getenv("MPEGFLOW_MP4_FIGURE_SECONDS"); v != "" {
		secs, _ = strconv.Atoi(v)
	}
	// MPEGFLOW_MP4_FIGURE_SRC: a directory with media synthesized before
	// (index.m3u8, init.mp4, s*.m4s), kept across runs.
	src := os.Getenv("MPEGFLOW_MP4_FIGURE_SRC")
	if src == "" {
		src = t.TempDir()
	}
	start := time.Now()
	if _, err := os.Stat(filepath.Join(src, "index.m3u8")); err != nil {
		synthesize(t, ff, src, secs)
	}
	t.Logf("media ready in %v", time.Since(start).Round(time.Second))
	buildFigure(t, ff, src, secs)
}

// synthesize writes secs seconds of 640x360 H.264 + AAC as CMAF segments
// (index.m3u8, init.mp4, s*.m4s) into dir.
func synthesize(t *testing.T, ff, src string, secs int) {
	if out, err := exec.CommandContext(t.Context(), ff, "-hide_banner", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-b:v", "1500k",
		"-c:a", "aac", "-b:a", "96k", "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "2", "-hls_list_size", "0",
		"-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", filepath.Join(src, "s%d.m4s"), filepath.Join(src, "index.m3u8")).CombinedOutput(); err != nil {
		t.Fatalf("synthesize: %v\n%s", err, out)
	}
}

// buildFigure indexes the media of src as one video and times MP4.
func buildFigure(t *testing.T, ff, src string, secs int) {

	f := newFixture(t, store.RecordingAutomatic)
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus, FFmpeg: ff})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	ctx := t.Context()
	now := time.Now().UTC()
	v := &store.Video{ID: NewVideoID(now), LiveInputID: "li_1", Status: store.VideoReady, CreatedAt: now, StartedAt: now, UpdatedAt: now,
		Meta: map[string]any{}, DownloadStatus: store.DownloadNone}
	if err := f.st.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	put := func(key, file string) int64 {
		fh, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		st, _ := fh.Stat()
		if err := f.blobs.Put(ctx, key, fh, st.Size()); err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	initKey := InitKey(v.ID, 0)
	put(initKey, filepath.Join(src, "init.mp4"))
	pl, err := os.Open(filepath.Join(src, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var dur time.Duration
	var seq, total int64
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		l := sc.Text()
		if d, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			x, _ := strconv.ParseFloat(strings.TrimSuffix(d, ","), 64)
			dur = time.Duration(x * float64(time.Second))
			continue
		}
		if !strings.HasSuffix(l, ".m4s") {
			continue
		}
		key := SegmentKey(v.ID, seq)
		n := put(key, filepath.Join(src, l))
		total += n
		if err := f.st.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: v.ID, Seq: seq, Duration: dur, InitKey: initKey, Key: key, Size: n}); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	start := time.Now()
	key, err := r.MP4(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	info, err := f.blobs.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE mp4 build of %d s (%d segments, %d MB of fragments): %v, MP4 %d MB", secs, seq, total>>20, took.Round(time.Millisecond), info.Size>>20)
}

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestThumbnailBound: on-demand thumbnails of a video are a bounded cost.
// 40 requests with distinct time (ms) and width values store at most the
// per-video cap of files (times are quantized to the whole second, widths
// to a short fixed set, and the least recently used thumbnail goes once
// the cap is reached), and garbage in time or width answers 400 without
// running ffmpeg.
func TestThumbnailBound(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	d, admin := recordingDaemon(ctx, t, dataDir)
	id, key := createRecordedInput(t, d, admin)
	events := openEvents(ctx, t, d, admin)
	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 6})
	events.waitEvent(t, "recording.started", id, 20*time.Second)
	if exited, err := pub.Wait(40 * time.Second); !exited || err != nil {
		t.Fatalf("publisher: exited %v, %v", exited, err)
	}
	events.waitEvent(t, "video.ready", id, 30*time.Second)
	vids := inputVideos(t, d, admin, id)
	if len(vids) != 1 {
		t.Fatalf("%d videos, want 1", len(vids))
	}
	vid := vids[0]["id"].(string)
	base := d.URL("/videos/" + vid + "/thumbnail.jpg")
	dir := filepath.Join(dataDir, "blobs", "videos", vid)
	thumbs := func() (files int, bytes int64) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "thumb-") {
				if fi, err := e.Info(); err == nil {
					files++
					bytes += fi.Size()
				}
			}
		}
		return files, bytes
	}

	start := time.Now()
	for i := range 40 {
		at := fmt.Sprintf("%.3f", float64(i)*0.123)                                  // 0 to 4.8 s, all distinct ms
		width := []int{16, 100, 200, 333, 500, 640, 700, 1000, 1234, 2000}[i%10] + i // distinct widths
		u := fmt.Sprintf("%s?time=%s&width=%d", base, at, width)
		f, err := get(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != http.StatusOK || !strings.HasPrefix(string(f.Body), "\xff\xd8") {
			t.Fatalf("GET %s: HTTP %d %q", u, f.Status, f.Body[:min(len(f.Body), 80)])
		}
	}
	files, size := thumbs()
	t.Logf("40 distinct time x width requests: %d thumbnail files, %d bytes stored, in %v", files, size, time.Since(start).Round(time.Millisecond))
	const maxFiles = 16 // record.DefaultMaxThumbnails
	if files > maxFiles {
		t.Errorf("%d thumbnail files stored for 40 requests, want at most %d", files, maxFiles)
	}

	for _, q := range []string{
		"time=NaN", "time=nan", "time=Inf", "time=%2BInf", "time=-Inf", "time=-1", "time=1e9", "time=99999",
		"time=abc", "time=1,5", "time=0x10", "time=", "time=1&time=2", "time=%201",
		"width=abc", "width=0", "width=15", "width=99999", "width=NaN", "width=3.5", "width=-320", "width=", "width=320&width=640",
	} {
		f, err := get(ctx, base+"?"+q)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != http.StatusBadRequest {
			t.Errorf("GET thumbnail.jpg?%s: HTTP %d, want 400", q, f.Status)
		}
	}
	if after, _ := thumbs(); after > files {
		t.Errorf("garbage requests stored %d more thumbnails", after-files)
	}
}

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUploadsBrowser: the daemon's upload page uploads a 60 s clip with
// tus-js-client in headless Chromium, paused midway; the daemon is
// SIGKILLed and restarted on the same data and address meanwhile; the
// upload resumes from the offset the server kept (its first PATCH after
// the pause is at that offset) and the video, processed into a ladder
// (480p and 360p from an 854x480 source), plays in the page's hls.js at
// every rung and seeks.
func TestUploadsBrowser(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node", "ffmpeg", "ffprobe")
	for _, need := range []struct{ path, hint string }{
		{chromiumPath(), "chromium (apt-get install chromium)"},
		{filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json"), "node_modules (npm ci)"},
		{filepath.Join(repoRoot, "web", "static", "tus.min.js"), "tus-js-client in web/static (make build)"},
		{filepath.Join(repoRoot, "web", "static", "hls.min.js"), "hls.js in web/static (make build)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need.hint)
			}
			t.Skipf("missing %s", need.hint)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	admin, yaml := adminYAML()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := daemonConfig{ExtraYAML: yaml, HTTPAddress: freePort(t)}
	d := startDaemonAt(t, dataDir, cfg)
	clip := uploadClip(t, 60, "854x480")
	st, err := os.Stat(clip)
	if err != nil {
		t.Fatal(err)
	}
	du := apiOK(t, d, admin, "POST", "/v1/videos/direct_upload", map[string]any{"meta": map[string]any{"name": "browser"}}, http.StatusOK)
	id, uploadURL := du["id"].(string), du["upload_url"].(string)
	// upload_url is absolute on this daemon's address, which the restart keeps
	if u, err := url.Parse(uploadURL); err != nil || u.Host != d.HTTP {
		t.Fatalf("upload_url %q", uploadURL)
	}
	// PATCHes of 256 KiB at 1 MB/s: the pause comes mid-file
	page := d.URL("/upload/?chunk_kb=256#" + uploadURL)
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "upload.mjs"),
		"--url", page, "--file", clip, "--chromium", chromiumPath(), "--timeout", "540")
	cmd.Dir = repoRoot
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start upload.mjs: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var last string
	serverOff := -1
	for sc.Scan() {
		last = sc.Text()
		var ev struct {
			Event  string
			Offset int64
		}
		if json.Unmarshal([]byte(last), &ev) != nil || ev.Event != "paused" {
			continue
		}
		t.Logf("paused at %d of %d bytes", ev.Offset, st.Size())
		// SIGKILL, and a new daemon on the same data and address
		d.stopOnce.Do(func() {})
		_ = d.cmd.Process.Kill()
		<-d.done
		d = startDaemonAt(t, dataDir, cfg)
		// what the server kept (a PATCH cut by the pause keeps the bytes
		// that arrived; the page's progress lags a little behind)
		if serverOff = headOffset(t, uploadURL); serverOff <= 0 || int64(serverOff) >= st.Size() {
			t.Fatalf("offset after the restart: %d of %d (the page had seen %d sent)", serverOff, st.Size(), ev.Offset)
		}
		if _, err := stdin.Write([]byte("resume\n")); err != nil {
			t.Fatal(err)
		}
	}
	_ = cmd.Wait()
	t.Logf("upload.mjs: %s", last)
	if e := strings.TrimSpace(stderr.String()); e != "" {
		t.Logf("upload.mjs stderr:\n%s", e)
	}
	var r struct {
		OK                          bool
		PausedAt, Size, ResumedFrom int64
		VideoID                     string
		Duration, SeekTo, AfterSeek float64
		Rungs                       []struct{ Level, Height int }
		Errors, Console             []string
	}
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		t.Fatalf("upload.mjs output %q: %v", last, err)
	}
	if !r.OK {
		t.Fatalf("browser upload failed: %v (console %v)", r.Errors, r.Console)
	}
	if r.VideoID != id || r.Size != st.Size() || r.PausedAt <= 0 || r.PausedAt >= r.Size || r.ResumedFrom != int64(serverOff) {
		t.Fatalf("paused at %d of %d, resumed from %d (the server kept %d), video %s (want %s)", r.PausedAt, r.Size, r.ResumedFrom, serverOff, r.VideoID, id)
	}
	if len(r.Rungs) != 2 || r.Rungs[0].Height+r.Rungs[1].Height != 480+360 || r.Rungs[0].Height == r.Rungs[1].Height {
		t.Fatalf("rungs played: %+v", r.Rungs)
	}
	if !within(r.Duration, 60, 0.05) {
		t.Fatalf("hls.js sees a %.2f s video, want 60", r.Duration)
	}
	v := waitVideoReady(ctx, t, d, admin, id, 59)
	if v["meta"].(map[string]any)["name"] != "browser" {
		t.Fatalf("video %v", v)
	}
	t.Logf("FIGURE browser tus upload of %.1f MB, paused at %s (server kept %d), daemon restarted, resumed; rungs %+v; seek to %.1f s played on to %.1f s",
		float64(r.Size)/1e6, strconv.FormatInt(r.PausedAt, 10), serverOff, r.Rungs, r.SeekTo, r.AfterSeek)
}

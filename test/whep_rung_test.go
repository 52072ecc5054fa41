package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
)

// transcodedInput starts a daemon with its own data directory and creates
// a live input with transcode on and ladder, through the API (the inputs
// of the config file are not transcoded).
func transcodedInput(t *testing.T, ladder ...string) (*daemon, liveInput) {
	t.Helper()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	st, sys := apiCall(t, d, admin, "GET", "/v1/system", nil)
	if tc, _ := data(sys)["transcode"].(map[string]any); st != http.StatusOK || tc["available"] != true {
		t.Fatalf("transcoding unavailable: HTTP %d %v", st, sys)
	}
	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "E2E whep rung",
		"transcode": map[string]any{"mode": "on", "ladder": ladder}})
	if st != http.StatusCreated {
		t.Fatalf("create: HTTP %d %v", st, r)
	}
	li := data(r)
	return d, liveInput{ID: li["id"].(string), Key: li["rtmp"].(map[string]any)["stream_key"].(string)}
}

// TestWHEPBFramesRung plays an RTMP publish with B-frames (ffmpeg's
// libx264 defaults, AAC) over WHEP with a pion player: the source cannot
// go over WebRTC as it is, so the viewer gets the input's top transcoded
// rung (no B-frames) and Opus made from the rung's AAC. The H.264 it
// receives decodes with ffmpeg at the rung's size.
func TestWHEPBFramesRung(t *testing.T) {
	e2eTest(t)
	requireTools(t, "ffmpeg", "ffprobe")
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, in := transcodedInput(t, "360p")
	publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 60})

	path := filepath.Join(t.TempDir(), "whep.h264")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := dialWHEP(ctx, t, d, d.URL("/whep/"+in.ID), wheptest.Options{H264: f})
	ttff, err := c.WaitKeyFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("time to first key frame (RTMP with B-frames through the 360p rung, GOP 1 s): %v", ttff)
	f0, a0 := c.VideoFrames(), c.AudioPackets()
	time.Sleep(4 * time.Second)
	if n := c.VideoFrames() - f0; n < 90 {
		t.Errorf("%d video frames in 4 s, want about 120", n)
	}
	if n := c.AudioPackets() - a0; n < 120 {
		t.Errorf("%d opus packets in 4 s, want about 200", n)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("DELETE: %v", err)
	}
	received := c.VideoFrames()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-f", "h264", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	fields := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(fields) != 3 || fields[0] != "640" || fields[1] != "360" {
		t.Fatalf("ffprobe of the received H.264: %q, want 640,360,N", out)
	}
	decoded, _ := strconv.Atoi(fields[2])
	if int64(decoded) < received*9/10 {
		t.Errorf("ffmpeg decoded %d of the %d frames received", decoded, received)
	}
	t.Logf("received %d video frames, ffmpeg decoded %d at %sx%s", received, decoded, fields[0], fields[1])
}

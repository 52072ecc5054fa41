package rtsp

import (
	"context"
	"log/slog"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// feedCamera runs ffmpeg publishing a 320x240 H.264 + AAC test pattern to
// the camera for secs seconds (in real time); it is stopped with the test.
func feedCamera(t *testing.T, cam *rtsptest.Camera, secs int) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-f", "rtsp", "-rtsp_transport", "tcp", cam.PublishURL())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func itoa(n int) string { return strconv.Itoa(n) }

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newPullers(t *testing.T, hub *stream.Hub, logs *syncBuf) *Pullers {
	t.Helper()
	ps, err := NewPullers(PullConfig{Hub: hub, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		ReadTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ps.Close)
	return ps
}

// TestPullCameraRestart: a pulled camera feeds the hub; when it restarts
// mid-stream the puller retries with backoff, reconnects, and the same
// stream goes on with a discontinuity.
func TestPullCameraRestart(t *testing.T) {
	base0 := runtime.NumGoroutine()
	cam, err := rtsptest.Start("127.0.0.1:0", "admin", "s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	addr := cam.Addr()
	feedCamera(t, cam, 30)
	hub := stream.NewHub(stream.HubConfig{ReconnectWindow: 10 * time.Second})
	defer hub.Close()
	logs := &syncBuf{}
	ps := newPullers(t, hub, logs)
	li := auth.LiveInput{ID: "cam"}
	if err := ps.Set(li, Source{URL: cam.URL("admin", "s3cret-pw"), Transport: TransportTCP}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "the pulled stream", func() bool { return hub.Get("cam") != nil })
	s := hub.Get("cam")
	r := s.AddReader("test", stream.ReaderOptions{})
	defer r.Close()
	if st, _ := ps.Status("cam"); st.State != StateConnected {
		t.Fatalf("status %+v, want connected", st)
	}
	tracks := s.Tracks()
	if len(tracks) != 2 || tracks[0].Codec.Name() != "h264" || tracks[1].Codec.Name() != "aac" {
		t.Fatalf("tracks %v, want h264 and aac", tracks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	readUnits(ctx, t, r, 50, false)

	cam.Close() // the camera reboots
	waitUntil(t, 10*time.Second, "status retrying", func() bool {
		st, _ := ps.Status("cam")
		return st.State == StateRetrying && st.LastError != "" && !st.NextRetryAt.IsZero()
	})
	cam2, err := rtsptest.Start(addr, "admin", "s3cret-pw")
	if err != nil {
		t.Fatalf("restart the camera on %s: %v", addr, err)
	}
	defer cam2.Close()
	feedCamera(t, cam2, 30)
	waitUntil(t, 20*time.Second, "reconnected", func() bool {
		st, _ := ps.Status("cam")
		return st.State == StateConnected
	})
	if hub.Get("cam") != s {
		t.Fatal("the reconnect started a new stream instead of continuing the old one")
	}
	readUnits(ctx, t, r, 20, true)
	if strings.Contains(logs.String(), "s3cret-pw") {
		t.Errorf("the camera password appears in the logs:\n%s", logs.String())
	}
	ps.Remove("cam")
	if _, ok := ps.Status("cam"); ok {
		t.Error("status after Remove")
	}
	cam2.Close()
	ps.Close()
	hub.Close()
	goroutinesSettle(t, base0+2) // the ffmpeg waiters of exec
}

// readUnits reads until n units arrived; with disc it also requires one
// marked as a discontinuity.
func readUnits(ctx context.Context, t *testing.T, r *stream.Reader, n int, disc bool) {
	t.Helper()
	sawDisc := false
	for i := 0; i < n || (disc && !sawDisc); i++ {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("after %d units: %v", i, err)
		}
		sawDisc = sawDisc || u.Discontinuity
	}
}

func TestValidateSource(t *testing.T) {
	for _, tc := range []struct {
		s  Source
		ok bool
	}{
		{Source{URL: "rtsp://cam/stream"}, true},
		{Source{URL: "rtsp://u:p@cam:554/s", Transport: "udp"}, true},
		{Source{URL: "rtsps://cam/s", Transport: "udp"}, false},
		{Source{URL: "http://cam/s"}, false},
		{Source{URL: "rtsp:///s"}, false},
		{Source{URL: "rtsp://cam/s", Transport: "quic"}, false},
	} {
		if err := ValidateSource(tc.s); (err == nil) != tc.ok {
			t.Errorf("ValidateSource(%+v) = %v", tc.s, err)
		}
	}
	if got := RedactURL("rtsp://admin:pa%40ss@cam:554/s"); got != "rtsp://admin:***@cam:554/s" {
		t.Errorf("RedactURL = %q", got)
	}
}

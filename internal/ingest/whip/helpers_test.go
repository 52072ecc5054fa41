package whip

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

const (
	testID  = "cam1"
	testKey = "s3cret-key"
)

// testEnv is a WHIP server on loopback with a hub whose new streams are
// handed to the test with a reader attached.
type testEnv struct {
	srv     *Server
	hub     *stream.Hub
	http    *httptest.Server
	started chan startedStream
}

type startedStream struct {
	s *stream.Stream
	r *stream.Reader
}

func newTestEnv(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{started: make(chan startedStream, 8)}
	e.hub = stream.NewHub(stream.HubConfig{
		ReconnectWindow: 300 * time.Millisecond,
		OnStart: func(s *stream.Stream) {
			e.started <- startedStream{s: s, r: s.AddReader("test", stream.ReaderOptions{QueueSize: 4096})}
		},
	})
	dir, err := auth.NewStatic([]auth.StaticEntry{{ID: testID, StreamKey: testKey}, {ID: "other", StreamKey: "other-key"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		UDPAddress: "127.0.0.1:0",
		Directory:  dir,
		Hub:        e.hub,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		if err := e.srv.Close(); err != nil {
			t.Error(err)
		}
		e.hub.Close()
	})
	return e
}

func (e *testEnv) endpoint(id string) string { return e.http.URL + "/whip/" + id }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// testMedia generates seconds of H.264 (libx264 baseline, no B-frames,
// Annex B, 30 fps, GOP 1 s) and Opus (libopus, 20 ms frames, Ogg) with
// ffmpeg, or skips.
func testMedia(t *testing.T, seconds int) (h264 []byte, opus [][]byte) {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH: cannot generate the H.264/Opus test media")
	}
	dir := t.TempDir()
	vid, aud := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := time.Duration(seconds) * time.Second
	run := func(args ...string) {
		out, err := exec.CommandContext(ctx, ff, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	run("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", d.String(),
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
		"-preset", "ultrafast", "-tune", "zerolatency", "-bsf:v", "h264_mp4toannexb", "-f", "h264", vid)
	run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", d.String(),
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", aud)
	h264, err = os.ReadFile(vid)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(aud)
	if err != nil {
		t.Fatal(err)
	}
	opus, err = whiptest.ReadOggOpus(b)
	if err != nil {
		t.Fatal(err)
	}
	return h264, opus
}

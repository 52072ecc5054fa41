package srt

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// recMetrics records ingest metrics.
type recMetrics struct {
	mu       sync.Mutex
	rejected map[string]int
	opened   int
	closed   int
	units    map[stream.Kind]int
	wire     int
}

var _ ingest.Metrics = (*recMetrics)(nil)

func newRecMetrics() *recMetrics {
	return &recMetrics{rejected: map[string]int{}, units: map[stream.Kind]int{}}
}

func (m *recMetrics) SessionOpened(string, string) { m.mu.Lock(); m.opened++; m.mu.Unlock() }
func (m *recMetrics) SessionClosed(string, string) { m.mu.Lock(); m.closed++; m.mu.Unlock() }
func (m *recMetrics) Rejected(_, reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}
func (m *recMetrics) Input(string, string) ingest.InputMetrics { return m }
func (m *recMetrics) Received(k stream.Kind, _ int, _ bool) {
	m.mu.Lock()
	m.units[k]++
	m.mu.Unlock()
}
func (m *recMetrics) WireBytes(n int) { m.mu.Lock(); m.wire += n; m.mu.Unlock() }

func (m *recMetrics) rejects(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejected[reason]
}

// recStats records the StatsSink calls.
type recStats struct {
	mu       sync.Mutex
	samples  []Stats
	tsErrors map[string]int
	dropped  map[stream.Kind]int
	ended    int
}

var _ StatsSink = (*recStats)(nil)

func newRecStats() *recStats {
	return &recStats{tsErrors: map[string]int{}, dropped: map[stream.Kind]int{}}
}

func (r *recStats) SessionStats(_ string, s Stats) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}
func (r *recStats) TSErrors(_, reason string, n int) {
	r.mu.Lock()
	r.tsErrors[reason] += n
	r.mu.Unlock()
}
func (r *recStats) UnitsDropped(_ string, k stream.Kind, n int) {
	r.mu.Lock()
	r.dropped[k] += n
	r.mu.Unlock()
}
func (r *recStats) SessionEnded(string) { r.mu.Lock(); r.ended++; r.mu.Unlock() }

// totals sums the counters of all samples.
func (r *recStats) totals() (s Stats, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.samples {
		s.PacketsReceived += x.PacketsReceived
		s.PacketsLost += x.PacketsLost
		s.PacketsRetransmitted += x.PacketsRetransmitted
		s.PacketsDropped += x.PacketsDropped
		s.RTT = max(s.RTT, x.RTT)
		s.Bitrate = max(s.Bitrate, x.Bitrate)
	}
	return s, len(r.samples)
}

// testLogger logs into the test at debug level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type testEnv struct {
	srv     *Server
	hub     *stream.Hub
	metrics *recMetrics
	stats   *recStats
	logs    *syncBuffer
	port    int
}

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs a Server on a loopback port with a static directory.
func startServer(t *testing.T, entries []auth.StaticEntry, mut func(*Config)) *testEnv {
	t.Helper()
	dir, err := auth.NewStatic(entries)
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{
		hub:     stream.NewHub(stream.HubConfig{ReconnectWindow: 200 * time.Millisecond}),
		metrics: newRecMetrics(),
		stats:   newRecStats(),
		logs:    &syncBuffer{},
	}
	cfg := Config{
		Address:       "127.0.0.1:0",
		Directory:     dir,
		Hub:           env.hub,
		Metrics:       env.metrics,
		Stats:         env.stats,
		Logger:        slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		StatsInterval: 500 * time.Millisecond,
		Throttle:      ingest.NewThrottle(ingest.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}),
	}
	if mut != nil {
		mut(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	env.port = srv.Addr().(*net.UDPAddr).Port
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-ran; err != nil {
			t.Errorf("run: %v", err)
		}
		env.hub.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", env.logs.String())
		}
	})
	return env
}

// needFFmpeg skips the test without an ffmpeg that speaks SRT.
func needFFmpeg(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("ffmpeg tests skipped in -short mode")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-protocols").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("srt")) {
		t.Skip("ffmpeg without SRT (libsrt)")
	}
}

// makeTS encodes a test clip into an MPEG-TS file: H.264 (B-frames, GOP of
// 1 s) and audio with the given ffmpeg audio codec ("aac" or "libopus"),
// or H.265 when video is "libx265".
func makeTS(t *testing.T, seconds int, video, audio string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.ts")
	args := []string{"-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=640x360:rate=30:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
		"-c:v", video, "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p"}
	if video == "libx264" {
		args = append(args, "-bf", "2", "-tune", "zerolatency", "-x264-params", "bframes=2:rc-lookahead=0")
	}
	if video == "libx265" {
		args = append(args, "-x265-params", "log-level=error:bframes=2")
	}
	args = append(args, "-c:a", audio, "-b:a", "64k", "-f", "mpegts", "-y", path)
	cmd := exec.Command("ffmpeg", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg encode: %v\n%s", err, out)
	}
	return path
}

// srtURL is an ffmpeg SRT output URL for the server. The stream id goes in
// as is (ffmpeg 5 does not percent-decode it), or percent-encoded when
// encode is set.
func srtURL(port int, streamID, passphrase string, pbkeylen int, encode bool) string {
	if encode {
		streamID = url.QueryEscape(streamID)
	}
	u := fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", port, streamID)
	if passphrase != "" {
		u += "&passphrase=" + passphrase + "&pbkeylen=" + strconv.Itoa(pbkeylen)
	}
	return u
}

// publish sends file in real time to the SRT URL with ffmpeg and returns
// its error and stderr.
func publish(ctx context.Context, file, dst string, extra ...string) (string, error) {
	args := []string{"-hide_banner", "-loglevel", "warning", "-re", "-i", file, "-c", "copy"}
	args = append(args, extra...)
	args = append(args, "-f", "mpegts", dst)
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	return stderr.String(), err
}

// waitStream waits for the hub to have a stream of id.
func waitStream(t *testing.T, hub *stream.Hub, id string, d time.Duration) *stream.Stream {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s := hub.Get(id); s != nil {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no stream %q within %s", id, d)
	return nil
}

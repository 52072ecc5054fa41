package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

const (
	testKey   = "sk_secret_key_1234"
	testInput = "in1"
)

// syncBuffer is a goroutine-safe log sink.
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

// testMetrics counts what ingest reports.
type testMetrics struct {
	mu       sync.Mutex
	opened   int
	closed   int
	rejected map[string]int
	units    map[stream.Kind]int
	wire     int
}

func newTestMetrics() *testMetrics {
	return &testMetrics{rejected: map[string]int{}, units: map[stream.Kind]int{}}
}

func (m *testMetrics) SessionOpened(string, string) { m.mu.Lock(); m.opened++; m.mu.Unlock() }
func (m *testMetrics) SessionClosed(string, string) { m.mu.Lock(); m.closed++; m.mu.Unlock() }
func (m *testMetrics) Rejected(_ string, reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}
func (m *testMetrics) Input(string, string) ingest.InputMetrics { return m }
func (m *testMetrics) Received(k stream.Kind, _ int, _ bool) {
	m.mu.Lock()
	m.units[k]++
	m.mu.Unlock()
}
func (m *testMetrics) WireBytes(n int) { m.mu.Lock(); m.wire += n; m.mu.Unlock() }

func (m *testMetrics) rejections(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejected[reason]
}

type testEnv struct {
	srv     *Server
	hub     *stream.Hub
	logs    *syncBuffer
	metrics *testMetrics
	readers chan *stream.Reader
	url     string
}

// startServer runs a Server on 127.0.0.1:0 with one live input (testInput,
// testKey) and a hub whose streams get a reader at start.
func startServer(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	dir, err := auth.NewStatic([]auth.StaticEntry{{ID: testInput, Name: "Test", StreamKey: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{logs: &syncBuffer{}, metrics: newTestMetrics(), readers: make(chan *stream.Reader, 16)}
	env.hub = stream.NewHub(stream.HubConfig{
		ReconnectWindow: 300 * time.Millisecond,
		OnStart: func(s *stream.Stream) {
			env.readers <- s.AddReader("test", stream.ReaderOptions{QueueSize: 8192})
		},
	})
	cfg := Config{
		Address:          "127.0.0.1:0",
		Directory:        dir,
		Hub:              env.hub,
		Metrics:          env.metrics,
		Logger:           slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HandshakeTimeout: 3 * time.Second,
		TrackWait:        300 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	env.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
		env.hub.Close()
		if t.Failed() {
			t.Logf("server logs:\n%s", env.logs.String())
		}
	})
	scheme := "rtmp"
	if cfg.TLSConfig != nil {
		scheme = "rtmps"
	}
	env.url = fmt.Sprintf("%s://%s/live/", scheme, env.srv.Addr().String())
	return env
}

// nextReader waits for the hub to start a stream.
func (e *testEnv) nextReader(t *testing.T, timeout time.Duration) *stream.Reader {
	t.Helper()
	select {
	case r := <-e.readers:
		return r
	case <-time.After(timeout):
		t.Fatalf("no stream started within %s\nlogs:\n%s", timeout, e.logs.String())
		return nil
	}
}

// collect reads units from r until the stream ends or ctx is done.
func collect(ctx context.Context, r *stream.Reader) []*stream.Unit {
	var out []*stream.Unit
	for {
		u, err := r.Next(ctx)
		if err != nil {
			return out
		}
		out = append(out, u)
	}
}

func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not found on PATH: install ffmpeg (Debian package ffmpeg) to run this test")
	}
	return p
}

// runFFmpeg runs ffmpeg with args and returns its combined output.
func runFFmpeg(ctx context.Context, t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, needFFmpeg(t), append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return out, fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return out, nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

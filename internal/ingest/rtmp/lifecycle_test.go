package rtmp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// panicky is a Directory whose lookups panic for one key.
type panicky struct{ auth.Directory }

func (p panicky) ByStreamKey(ctx context.Context, key string) (auth.LiveInput, error) {
	if key == "boom" {
		panic("directory exploded")
	}
	return p.Directory.ByStreamKey(ctx, key)
}

func TestPanicInConnectionIsRecovered(t *testing.T) {
	env := startServer(t, func(c *Config) { c.Directory = panicky{c.Directory} })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = publishSynthetic(ctx, env.url+"boom", 200*time.Millisecond)
	waitFor(t, 5*time.Second, "panic log", func() bool {
		return strings.Contains(env.logs.String(), "rtmp connection panic recovered")
	})
	for _, line := range strings.Split(env.logs.String(), "\n") {
		if strings.Contains(line, "panic recovered") && !strings.Contains(line, "remote=127.0.0.1:") {
			t.Errorf("panic log without the peer: %s", line)
		}
	}
	// the server still serves
	go func() { _ = publishSynthetic(ctx, env.url+testKey, 500*time.Millisecond) }()
	r := env.nextReader(t, 5*time.Second)
	if _, err := r.Next(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCloseIdempotentAndBeforeRun(t *testing.T) {
	dir, _ := auth.NewStatic(nil)
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	s, err := New(Config{Address: "127.0.0.1:0", Directory: dir, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() == nil {
		t.Fatal("no address")
	}
	_ = s.Close()
	_ = s.Close()
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}

	s2, err := New(Config{Address: "127.0.0.1:0", Directory: dir, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s2.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	_ = s2.Close()
	_ = s2.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if _, err := New(Config{Address: "127.0.0.1:0"}); err == nil {
		t.Fatal("New without Directory and Hub succeeded")
	}
}

// TestShutdownClosesPublishers: cancelling Run closes live connections and
// returns only after their goroutines exited.
func TestShutdownClosesPublishers(t *testing.T) {
	dir, _ := auth.NewStatic([]auth.StaticEntry{{ID: testInput, StreamKey: testKey}})
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	s, err := New(Config{Address: "127.0.0.1:0", Directory: dir, Hub: hub, TrackWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- publishSynthetic(pctx, "rtmp://"+s.Addr().String()+"/live/"+testKey, 10*time.Second)
	}()
	waitFor(t, 5*time.Second, "stream", func() bool { return hub.Get(testInput) != nil })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	pcancel()
	<-pubDone
}

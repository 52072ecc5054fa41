package rtsp

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

func newDemandPullers(t *testing.T, hub *stream.Hub, logs *syncBuf, start, idle time.Duration) *Pullers {
	t.Helper()
	ps, err := NewPullers(PullConfig{Hub: hub, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		ReadTimeout: 2 * time.Second, OnDemandStartTimeout: start, OnDemandIdleTimeout: idle,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ps.Close)
	return ps
}

// TestPullOnDemand: a camera pulled on demand is not connected before a
// viewer asks; the first Demand waits for its stream; the puller
// disconnects OnDemandIdleTimeout after the last release, goes back to
// idle, and a later viewer starts it again.
func TestPullOnDemand(t *testing.T) {
	base0 := runtime.NumGoroutine()
	cam, err := rtsptest.Start("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	feedCamera(t, cam, 60)
	hub := stream.NewHub(stream.HubConfig{ReconnectWindow: 200 * time.Millisecond})
	defer hub.Close()
	logs := &syncBuf{}
	ps := newDemandPullers(t, hub, logs, 15*time.Second, 500*time.Millisecond)
	if err := ps.Set(auth.LiveInput{ID: "cam"}, Source{URL: cam.URL("", ""), Transport: TransportTCP, OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	// no viewer: no connection
	time.Sleep(time.Second)
	if st, _ := ps.Status("cam"); st.State != StateIdle {
		t.Fatalf("status %+v before a viewer, want idle", st)
	}
	if n := cam.Readers(); n != 0 || hub.Get("cam") != nil {
		t.Fatalf("%d camera readers before a viewer, want 0", n)
	}
	// the first viewer waits for the stream
	t0 := time.Now()
	release, err := ps.Demand(context.Background(), "cam")
	if err != nil {
		t.Fatalf("Demand: %v", err)
	}
	if hub.Get("cam") == nil || cam.Readers() != 1 {
		t.Fatalf("after Demand (%v): stream %v, %d camera readers", time.Since(t0), hub.Get("cam") != nil, cam.Readers())
	}
	if st, _ := ps.Status("cam"); st.State != StateConnected {
		t.Fatalf("status %+v with a viewer, want connected", st)
	}
	// a second request while live returns at once
	t1 := time.Now()
	r2, err := ps.Demand(context.Background(), "cam")
	if err != nil || time.Since(t1) > 100*time.Millisecond {
		t.Fatalf("Demand while live: %v after %v", err, time.Since(t1))
	}
	r2()
	// held: stays connected past the idle timeout
	time.Sleep(time.Second)
	if cam.Readers() != 1 {
		t.Fatal("the camera was disconnected while a viewer held it")
	}
	release()
	release() // idempotent
	waitUntil(t, 5*time.Second, "the idle disconnect", func() bool {
		st, _ := ps.Status("cam")
		return cam.Readers() == 0 && st.State == StateIdle
	})
	if d := time.Since(t0); d < time.Second+500*time.Millisecond {
		t.Fatalf("disconnected after %v, before the idle timeout", d)
	}
	// a viewer after idle starts it again
	release, err = ps.Demand(context.Background(), "cam")
	if err != nil || cam.Readers() != 1 {
		t.Fatalf("second Demand: %v, %d readers", err, cam.Readers())
	}
	release()
	ps.Close()
	hub.Close()
	cam.Close()
	goroutinesSettle(t, base0+2) // the ffmpeg waiters of exec
}

// TestPullOnDemandTimeout: a camera that does not come up makes the
// viewer's Demand fail after OnDemandStartTimeout with
// ErrSourceNotStarted; the puller goes back to idle with nobody waiting.
func TestPullOnDemandTimeout(t *testing.T) {
	base0 := runtime.NumGoroutine()
	cam, err := rtsptest.Start("127.0.0.1:0", "", "") // nothing published: DESCRIBE is 404
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	ps := newDemandPullers(t, hub, &syncBuf{}, 700*time.Millisecond, 300*time.Millisecond)
	if err := ps.Set(auth.LiveInput{ID: "cam"}, Source{URL: cam.URL("", ""), OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	_, err = ps.Demand(context.Background(), "cam")
	if !errors.Is(err, ErrSourceNotStarted) {
		t.Fatalf("Demand = %v, want ErrSourceNotStarted", err)
	}
	if d := time.Since(t0); d < 600*time.Millisecond || d > 3*time.Second {
		t.Fatalf("Demand failed after %v, want about 700ms", d)
	}
	waitUntil(t, 5*time.Second, "back to idle", func() bool {
		st, _ := ps.Status("cam")
		return st.State == StateIdle
	})
	// a viewer that leaves stops the wait
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := ps.Demand(ctx, "cam"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Demand with a cancelled viewer = %v", err)
	}
	// inputs not pulled on demand are not held
	if rel, err := ps.Demand(context.Background(), "other"); rel != nil || err != nil {
		t.Fatalf("Demand of an input without a source = %v, %v", rel != nil, err)
	}
	ps.Close()
	hub.Close()
	cam.Close()
	goroutinesSettle(t, base0)
}

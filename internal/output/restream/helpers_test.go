package restream

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp"
	"github.com/mpegflow/mpegflow/internal/ingest/srt"
	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

const (
	targetID         = "li_target"
	targetKey        = "target-key-0123456789"
	targetPassphrase = "target-passphrase"
)

// testLog is quiet unless RESTREAM_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("RESTREAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// target is an in-process MpegFlow ingest (RTMP and SRT servers over a hub
// of their own) that outputs push to.
type target struct {
	hub      *stream.Hub
	rtmp     *rtmp.Server
	srt      *srt.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	rtmpAddr string
	srtAddr  string
}

func newTarget(t *testing.T, rtmpAddr string) *target {
	t.Helper()
	dir, err := auth.NewStatic([]auth.StaticEntry{{ID: targetID, Name: "target", StreamKey: targetKey, SRTPassphrase: targetPassphrase}})
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{hub: stream.NewHub(stream.HubConfig{ReconnectWindow: 500 * time.Millisecond})}
	if rtmpAddr == "" {
		rtmpAddr = "127.0.0.1:0"
	}
	throttle := ingest.NewThrottle(ingest.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	tg.rtmp, err = rtmp.New(rtmp.Config{Address: rtmpAddr, Directory: dir, Hub: tg.hub, Logger: testLog(), Throttle: throttle})
	if err != nil {
		t.Fatal(err)
	}
	tg.srt, err = srt.New(srt.Config{Address: "127.0.0.1:0", Directory: dir, Hub: tg.hub, Logger: testLog(), Throttle: throttle})
	if err != nil {
		t.Fatal(err)
	}
	tg.rtmpAddr, tg.srtAddr = tg.rtmp.Addr().String(), tg.srt.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	tg.cancel = cancel
	tg.wg.Add(2)
	go func() { defer tg.wg.Done(); _ = tg.rtmp.Run(ctx) }()
	go func() { defer tg.wg.Done(); _ = tg.srt.Run(ctx) }()
	t.Cleanup(tg.close)
	return tg
}

func (tg *target) close() {
	tg.cancel()
	_ = tg.rtmp.Close()
	_ = tg.srt.Close()
	tg.wg.Wait()
	tg.hub.Close()
}

// waitUnits waits until the target's stream delivered n units to a reader
// attached now, and returns them.
func (tg *target) waitUnits(t *testing.T, n int, timeout time.Duration) []*stream.Unit {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var s *stream.Stream
	for s == nil {
		if time.Now().After(deadline) {
			t.Fatal("the target never saw a stream")
		}
		s = tg.hub.Get(targetID)
		time.Sleep(20 * time.Millisecond)
	}
	r := s.AddReader("test", stream.ReaderOptions{QueueSize: 4096})
	defer r.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var out []*stream.Unit
	for len(out) < n {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("target stream after %d of %d units: %v", len(out), n, err)
		}
		out = append(out, u)
	}
	return out
}

// source publishes synthetic H.264 + AAC at 30 fps (a key frame every
// second) into a hub of its own until stopped.
type source struct {
	hub    *stream.Hub
	pub    *stream.Publisher
	cancel context.CancelFunc
	wg     sync.WaitGroup
	frame  int // video bytes per frame
}

func newSource(t *testing.T, frameBytes int) *source {
	t.Helper()
	src := &source{hub: stream.NewHub(stream.HubConfig{}), frame: frameBytes}
	tracks := []stream.Track{
		{Codec: stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}},
		{Codec: stream.AAC{Config: []byte{0x12, 0x10}}},
	}
	var err error
	src.pub, err = src.hub.Publish("li_source", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	src.cancel = cancel
	src.wg.Add(1)
	go src.run(ctx)
	t.Cleanup(src.stop)
	return src
}

func (src *source) stream() *stream.Stream { return src.pub.Stream() }

func (src *source) stop() {
	src.cancel()
	src.wg.Wait()
	src.pub.End()
	src.hub.Close()
}

func (src *source) run(ctx context.Context) {
	defer src.wg.Done()
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	payload := make([]byte, src.frame)
	_, _ = rand.Read(payload)
	aac := make([]byte, 200)
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		dts := time.Duration(i) * time.Second / 30
		key := i%30 == 0
		nal := append([]byte{0x41}, payload...)
		if key {
			nal = append([]byte{0x65}, payload...)
		}
		now := start.Add(dts)
		src.pub.Write(&stream.Unit{Track: 0, DTS: dts, PTS: dts, Wall: time.Now(), Key: key, NALUs: [][]byte{nal}})
		src.pub.Write(&stream.Unit{Track: 1, DTS: dts, PTS: dts, Wall: now, Key: true, Data: aac})
	}
}

// runOutput runs o on s until the test ends.
func runOutput(t *testing.T, o *Output, s *stream.Stream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx, s) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitState waits until o reports st.
func waitState(t *testing.T, o *Output, st State, timeout time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := o.Status()
		if s.State == st {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s (last error %+v)", s.State, st, s.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recObserver records events.
type recObserver struct {
	mu sync.Mutex
	ev []Event
}

func (r *recObserver) OutputEvent(e Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }

func (r *recObserver) count(k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.ev {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// pushToTarget publishes tracks as live input id, runs an RTMP output of
// it to tg until it broadcasts, then calls write with the i-th 30 fps tick
// and its DTS until the test ends.
func pushToTarget(t *testing.T, tg *target, id string, tracks []stream.Track, write func(pub *stream.Publisher, i int, dts time.Duration)) {
	t.Helper()
	hub := stream.NewHub(stream.HubConfig{})
	t.Cleanup(hub.Close)
	pub, err := hub.Publish(id, tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.End)
	o := New(Config{ID: "out_" + id, LiveInputID: id, Logger: testLog(), Target: Target{URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey}})
	runOutput(t, o, pub.Stream())
	waitState(t, o, StateBroadcasting, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			write(pub, i, time.Duration(i)*time.Second/30)
			time.Sleep(time.Second / 30)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

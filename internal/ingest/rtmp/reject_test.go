package rtmp

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

func TestUnknownKeyRejected(t *testing.T) {
	env := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const badKey = "not-a-real-key-777"
	_ = publishSynthetic(ctx, env.url+badKey, 500*time.Millisecond)
	waitFor(t, 5*time.Second, "unknown_key rejection", func() bool { return env.metrics.rejections(reasonUnknownKey) == 1 })
	if ids := env.hub.Streams(); len(ids) != 0 {
		t.Fatalf("streams = %v, want none", ids)
	}
	logs := env.logs.String()
	if strings.Contains(logs, badKey) {
		t.Errorf("the presented key appears in the logs:\n%s", logs)
	}
	if !strings.Contains(logs, "rtmp publish rejected") || !strings.Contains(logs, "remote=127.0.0.1:") {
		t.Errorf("no rejection log line naming the peer:\n%s", logs)
	}
	// the next bad key from the same address is slowed down
	start := time.Now()
	_ = publishSynthetic(ctx, env.url+badKey, 100*time.Millisecond)
	waitFor(t, 5*time.Second, "second rejection", func() bool { return env.metrics.rejections(reasonUnknownKey) == 2 })
	if d := time.Since(start); d < ingest.DefaultThrottleBaseDelay {
		t.Errorf("second bad key answered after %v, want >= %v", d, ingest.DefaultThrottleBaseDelay)
	}
}

func TestDuplicatePublisher(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		name := "reject"
		if takeover {
			name = "takeover"
		}
		t.Run(name, func(t *testing.T) {
			env := startServer(t, func(c *Config) { c.Takeover = takeover })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			firstDone := make(chan error, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				firstDone <- publishSynthetic(ctx, env.url+testKey, 3*time.Second)
			}()
			r := env.nextReader(t, 10*time.Second)
			u, err := r.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = u

			second := make(chan error, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				second <- publishSynthetic(ctx, env.url+testKey, 1500*time.Millisecond)
			}()
			if !takeover {
				waitFor(t, 5*time.Second, "busy rejection", func() bool { return env.metrics.rejections(reasonBusy) == 1 })
				// the first publisher goes on
				n := 0
				deadline := time.Now().Add(500 * time.Millisecond)
				for time.Now().Before(deadline) {
					rctx, rcancel := context.WithDeadline(ctx, deadline)
					_, err := r.Next(rctx)
					rcancel()
					if err == nil {
						n++
					}
				}
				if n < 10 {
					t.Errorf("first publisher delivered %d units after the rejection", n)
				}
				if !strings.Contains(env.logs.String(), "reason=busy") {
					t.Errorf("no busy log line")
				}
				return
			}
			// takeover: the first publisher's connection is closed, the
			// stream continues with the second one after a discontinuity
			waitFor(t, 5*time.Second, "first session closed", func() bool {
				env.metrics.mu.Lock()
				defer env.metrics.mu.Unlock()
				return env.metrics.closed == 1 && env.metrics.opened == 2
			})
			sawDisc := false
			for !sawDisc {
				u, err := r.Next(ctx)
				if err != nil {
					t.Fatalf("no discontinuity after takeover: %v", err)
				}
				sawDisc = u.Discontinuity
			}
			if !strings.Contains(env.logs.String(), errKicked.Error()) {
				t.Errorf("no log line for the replaced publisher")
			}
		})
	}
}

func TestHEVCEnhancedRTMP(t *testing.T) {
	needFFmpeg(t)
	env := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	file := t.TempDir() + "/test.hevc"
	if _, err := runFFmpeg(ctx, t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "2",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=0:keyint=30:log-level=error",
		"-f", "hevc", file); err != nil {
		t.Fatal(err)
	}
	data := readFile(t, file)
	pubErr := make(chan error, 1)
	go func() { pubErr <- rtmptest.PublishHEVC(ctx, env.url+testKey, data, 30) }()
	r := env.nextReader(t, 10*time.Second)
	tracks := env.hub.Get(testInput).Tracks()
	if len(tracks) != 1 {
		t.Fatalf("tracks = %v, want one H.265 track", tracks)
	}
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	checkHEVC(t, tracks[0].Codec, collect(ctx, r))
}

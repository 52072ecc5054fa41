package srt

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// dial connects a Go SRT caller to the server.
func dial(t *testing.T, env *testEnv, streamID, passphrase string) (gosrt.Conn, error) {
	t.Helper()
	cfg := gosrt.DefaultConfig()
	cfg.StreamId = streamID
	cfg.Passphrase = passphrase
	return gosrt.Dial("srt", env.srv.Addr().String(), cfg)
}

// send writes ts in SRT-sized payloads, gently paced.
func send(c gosrt.Conn, ts []byte) error {
	for i := 0; len(ts) > 0; i++ {
		n := min(1316, len(ts))
		if _, err := c.Write(ts[:n]); err != nil {
			return err
		}
		ts = ts[n:]
		if i%8 == 7 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

func synthClip(frames int, start int64) []byte {
	m := mpegtstest.NewMuxer(mpegtstest.StreamTypeH264, mpegtstest.StreamTypeAACADTS)
	mpegtstest.AVClip(m, frames, 30, start, nil)
	return m.Out
}

func TestGoCallerPublishes(t *testing.T) {
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey, SRTPassphrase: testPassphrase}}, nil)
	c, err := dial(t, env, "#!::r="+testKey+",m=publish", testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c, synthClip(45, 900000)); err != nil {
		t.Fatal(err)
	}
	s := waitStream(t, env.hub, "li1", 5*time.Second)
	tracks := s.Tracks()
	if len(tracks) != 2 || !tracks[0].Codec.Equal(stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}) {
		t.Fatalf("tracks %+v", tracks)
	}
	r := s.AddReader("t", stream.ReaderOptions{})
	if err := send(c, synthClip(45, 900000+45*3000)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u.Track == 0 {
			if !u.Key {
				t.Fatalf("first video unit for a new reader is no key frame: %+v", u)
			}
			break
		}
	}
}

func TestDuplicatePublisher(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		name := map[bool]string{false: "busy", true: "takeover"}[takeover]
		t.Run(name, func(t *testing.T) {
			env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey}}, func(c *Config) { c.Takeover = takeover })
			first, err := dial(t, env, testKey, "")
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			if err := send(first, synthClip(35, 900000)); err != nil {
				t.Fatal(err)
			}
			waitStream(t, env.hub, "li1", 5*time.Second)
			second, err := dial(t, env, testKey, "")
			if !takeover {
				if err == nil {
					second.Close()
					t.Fatal("second publisher admitted")
				}
				if env.metrics.rejects(reasonBusy) != 1 {
					t.Fatalf("rejects %v", env.metrics.rejected)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			if err := send(second, synthClip(35, 900000)); err != nil {
				t.Fatal(err)
			}
			// the first publisher is kicked: its connection ends
			readDone := make(chan struct{})
			go func() {
				buf := make([]byte, 1500)
				for {
					if _, err := first.Read(buf); err != nil {
						close(readDone)
						return
					}
				}
			}()
			select {
			case <-readDone:
			case <-time.After(5 * time.Second):
				t.Fatal("the replaced publisher was not disconnected")
			}
		})
	}
}

// panicStats panics on the data path.
type panicStats struct {
	NopStats
	panicked atomic.Bool
}

func (p *panicStats) TSErrors(string, string, int) {
	p.panicked.Store(true)
	panic("boom")
}

func TestSessionPanicRecovered(t *testing.T) {
	ps := &panicStats{}
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey}}, func(c *Config) { c.Stats = ps })
	c, err := dial(t, env, testKey, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = send(c, []byte("not a transport stream at all"))
	deadline := time.Now().Add(5 * time.Second)
	for !contains(env.logs.String(), "srt session panic recovered") {
		if time.Now().After(deadline) {
			t.Fatal("no recovered panic logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// the server goes on serving
	c2, err := dial(t, env, testKey, "")
	if err != nil {
		t.Fatalf("after a panic: %v", err)
	}
	c2.Close()
}

func TestDialRejections(t *testing.T) {
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey, SRTPassphrase: testPassphrase}}, nil)
	tests := []struct {
		name, sid, pass, reason string
	}{
		{"unknown key", "publish:other", "", reasonUnknownKey},
		{"wrong passphrase", testKey, "0123456789abc", reasonBadPassphrase},
		{"malformed stream id", "#!::r=a,r=b", "", reasonProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(t, env, tc.sid, tc.pass)
			if err == nil {
				c.Close()
				t.Fatal("admitted")
			}
			if env.metrics.rejects(tc.reason) != 1 {
				t.Fatalf("rejects %v", env.metrics.rejected)
			}
		})
	}
	if env.hub.Get("li1") != nil {
		t.Fatal("stream created")
	}
}

// Failed attempts are held back, a valid key from the same address is not.
func TestValidKeyNotHeldAfterBadKeys(t *testing.T) {
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey}}, func(c *Config) {
		c.Throttle = ingest.NewThrottle(ingest.ThrottleConfig{BaseDelay: 300 * time.Millisecond, MaxDelay: 300 * time.Millisecond})
	})
	start := time.Now()
	for range 3 {
		if c, err := dial(t, env, "bad", ""); err == nil {
			c.Close()
			t.Fatal("bad key admitted")
		}
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("3 bad keys refused in %v, want each held 300ms", el)
	}
	start = time.Now()
	c, err := dial(t, env, testKey, "")
	if err != nil {
		t.Fatalf("valid key refused after bad ones: %v", err)
	}
	c.Close()
	if el := time.Since(start); el > 250*time.Millisecond {
		t.Fatalf("valid key admitted after %v", el)
	}
}

// Held refusals free their handshake slot: a flood of wrong keys does not
// use up the slots a valid key needs.
func TestHeldRefusalsFreeHandshakeSlots(t *testing.T) {
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey}}, func(c *Config) {
		c.MaxHandshakes = 2
		c.Throttle = ingest.NewThrottle(ingest.ThrottleConfig{BaseDelay: 2 * time.Second, MaxDelay: 2 * time.Second})
	})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := dial(t, env, fmt.Sprint("bad", i), ""); err == nil {
				c.Close()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // the refusals are being held
	c, err := dial(t, env, testKey, "")
	if err != nil {
		t.Fatalf("valid key refused while wrong ones are held: %v", err)
	}
	c.Close()
	wg.Wait()
}

func TestThrottleMaxHeld(t *testing.T) {
	th := ingest.NewThrottle(ingest.ThrottleConfig{BaseDelay: time.Hour, MaxHeld: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Hold(ctx, "1.2.3.4", "a") }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := th.Hold(context.Background(), "1.2.3.4", "b"); err != nil || time.Since(start) > time.Second {
		t.Fatalf("second hold past MaxHeld: %v after %v", err, time.Since(start))
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("held refusal not ended by its context")
	}
}

package whep

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

func TestGOPCache(t *testing.T) {
	key := item{fr: &frame{video: true, key: true}}
	delta := item{fr: &frame{video: true}}
	audio := item{fr: &frame{}, track: 1}
	var c gopCache
	c.add(delta) // before any key frame: nothing to start from
	c.add(audio)
	if got := c.replayable(time.Hour, 1024); got != nil {
		t.Fatalf("replayable before a key frame: %d items", len(got))
	}
	c.add(key)
	c.add(audio)
	c.add(delta)
	if got := c.replayable(time.Hour, 1024); len(got) != 3 || got[0] != key {
		t.Fatalf("replayable = %v, want the key frame and the 2 after it", got)
	}
	if got := c.replayable(time.Hour, 4); got != nil {
		t.Errorf("3 items replayed into a queue of 4 (more than half)")
	}
	if got := c.replayable(-1, 1024); got != nil {
		t.Errorf("replayed with the cache turned off")
	}
	c.keyAt = time.Now().Add(-time.Second)
	if got := c.replayable(500*time.Millisecond, 1024); got != nil {
		t.Errorf("replayed a key frame older than the limit")
	}
	for range maxGOPItems {
		c.add(delta)
	}
	if got := c.replayable(time.Hour, 1<<20); got != nil {
		t.Errorf("a GOP past %d items replayed", maxGOPItems)
	}
	c.add(key)
	if got := c.replayable(time.Hour, 1024); len(got) != 1 {
		t.Errorf("after the next key frame: %d items, want 1", len(got))
	}
}

// TestJoinOrder: a viewer joining mid-GOP gets the frames since the last
// key frame, then the live ones, none twice or missing; one joining at a
// key frame starts with it; one that ended while pending is not added.
func TestJoinOrder(t *testing.T) {
	e := newTestEnv(t, nil)
	f := &feed{srv: e.srv, ended: make(chan struct{})}
	f.subs.Store(&[]*session{})
	newViewer := func() *session {
		ctx, cancel := context.WithCancelCause(context.Background())
		t.Cleanup(func() { cancel(nil) })
		return &session{srv: e.srv, f: f, q: make(chan item, 64), plan: offerPlan{VideoTrack: 0, AudioTrack: 1}, ctx: ctx, cancel: cancel}
	}
	got := func(ss *session) (names []string) {
		for len(ss.q) > 0 {
			it := <-ss.q
			names = append(names, string(it.fr.pkts[0].Payload))
		}
		return names
	}
	fr := func(name string, video, key bool) *frame {
		return &frame{video: video, key: key, pkts: []*rtp.Packet{{Payload: []byte(name)}}}
	}
	early := newViewer()
	if !f.join(early, false) {
		t.Fatal("join refused")
	}
	f.deliver(fr("d0", true, false), 0) // before any key frame: skipped
	f.deliver(fr("K1", true, true), 0)
	f.deliver(fr("a1", false, true), 1)
	f.deliver(fr("d1", true, false), 0)
	mid, gone := newViewer(), newViewer()
	f.join(mid, true)
	f.join(gone, true)
	gone.cancel(errPeerGone)
	f.remove(gone)
	f.deliver(fr("d2", true, false), 0)
	atKey := newViewer()
	f.join(atKey, true)
	f.deliver(fr("K2", true, true), 0)
	f.deliver(fr("d3", true, false), 0)
	for _, tt := range []struct {
		name string
		ss   *session
		want string
	}{
		{"early", early, "K1 a1 d1 d2 K2 d3"},
		{"mid-GOP", mid, "K1 a1 d1 d2 K2 d3"},
		{"at a key frame", atKey, "K2 d3"},
		{"ended while pending", gone, ""},
	} {
		if g := strings.Join(got(tt.ss), " "); g != tt.want {
			t.Errorf("%s viewer got %q, want %q", tt.name, g, tt.want)
		}
	}
	if n := len(*f.subs.Load()); n != 3 {
		t.Errorf("%d subscribers, want 3", n)
	}
	if n := value(e.srv.met.joinReplays); n != 1 {
		t.Errorf("join replays = %v, want 1", n)
	}
}

// joinEnv runs a 10 s GOP source nobody can ask for key frames (no
// Keyframes: an RTMP/SRT publisher) whose feed exists before its first key
// frame, with joinMaxAge.
func joinEnv(t *testing.T, joinMaxAge time.Duration) *testEnv {
	e := newTestEnv(t, func(c *Config) { c.JoinMaxAge, c.QueueSize = joinMaxAge, 1024 })
	end, _ := publishThen(t, e.hub, testID, 300, false, func(s *stream.Stream) {
		if _, err := e.srv.feedOf(s); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(end)
	time.Sleep(300 * time.Millisecond) // the key frame at 0 s is past
	return e
}

// TestJoinAtLastKeyFrame: a viewer of a source that cannot be asked for a
// key frame starts at the last one the feed holds, at once, rather than at
// the next one 10 s later; with the cache off it waits.
func TestJoinAtLastKeyFrame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Run("replayed", func(t *testing.T) {
		e := joinEnv(t, time.Minute)
		c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		ttff, err := c.WaitKeyFrame(wctx)
		if err != nil {
			t.Fatalf("no key frame within 5 s of a 10 s GOP: %v", err)
		}
		t.Logf("first key frame %v after the offer", ttff)
		if n := value(e.srv.met.joinReplays); n != 1 {
			t.Errorf("join replays = %v, want 1", n)
		}
	})
	t.Run("off", func(t *testing.T) {
		e := joinEnv(t, -1)
		c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		defer wcancel()
		if _, err := c.WaitKeyFrame(wctx); err == nil {
			t.Fatal("a key frame came with the cache off, mid-GOP")
		}
		if n := value(e.srv.met.joinReplays); n != 0 {
			t.Errorf("join replays = %v, want 0", n)
		}
	})
}

// TestPLIOnRung: viewers' PLIs on a transcoded rung, which is shared by
// every viewer and LL-HLS, never go upstream (not even to a publisher
// that could take them) and are counted as waiting for the next key frame;
// on a source that takes them they are forwarded at most once per
// keyframeRequestGap and the rest counted as rate-limited.
func TestPLIOnRung(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plis := func(t *testing.T, e *testEnv, n int) {
		t.Helper()
		c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.WaitKeyFrame(ctx); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := c.SendPLI(); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for total(e) < float64(n) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Run("rung", func(t *testing.T) {
		kf := &countingKeyframes{}
		e := newTestEnv(t, func(c *Config) { c.Standins, c.Keyframes = fakeStandins{}, kf })
		defer sourceWithBFrames(t, e)()
		transcodeWithoutBFrames(t, e.hub.Get(testID))
		plis(t, e, 5)
		if got := value(e.srv.met.pli.WithLabelValues("next_key_frame")); got != 5 {
			t.Errorf("PLIs counted next_key_frame = %v, want 5", got)
		}
		if n := kf.n.Load(); n != 0 {
			t.Errorf("%d key-frame requests upstream for a rung", n)
		}
	})
	t.Run("publisher", func(t *testing.T) {
		kf := &countingKeyframes{}
		e := newTestEnv(t, func(c *Config) { c.Keyframes = kf })
		defer publish(t, e.hub, testID, 15, false)()
		plis(t, e, 5)
		fw := value(e.srv.met.pli.WithLabelValues("forwarded"))
		rl := value(e.srv.met.pli.WithLabelValues("rate_limited"))
		if fw+rl != 5 || fw > 2 {
			t.Errorf("PLIs forwarded %v, rate_limited %v; want 5 in all, at most 2 forwarded (a burst within the gap)", fw, rl)
		}
	})
}

func total(e *testEnv) float64 {
	var n float64
	for _, o := range []keyOutcome{keyForwarded, keyRateLimited, keyNext} {
		n += value(e.srv.met.pli.WithLabelValues(o.String()))
	}
	return n
}

// value is the value of counter m.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil || d.Counter == nil {
		return -1
	}
	return d.Counter.GetValue()
}

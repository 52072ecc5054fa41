package whep

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

func TestPlayAndDelete(t *testing.T) {
	e := newTestEnv(t, nil)
	defer publish(t, e.hub, testID, 15, false)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ttff, err := c.WaitKeyFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("time to first key frame: %v", ttff)
	time.Sleep(time.Second)
	if c.VideoFrames() < 10 || c.AudioPackets() < 10 {
		t.Fatalf("received %d video frames, %d audio packets", c.VideoFrames(), c.AudioPackets())
	}
	if n := e.srv.Viewers(testID); n != 1 {
		t.Fatalf("viewers = %d, want 1", n)
	}
	// PATCH: documented 405
	resp, _, err := wheptest.Do(ctx, http.MethodPatch, c.URL, "", "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH: %v %v", resp, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	if n := e.srv.Viewers(testID); n != 0 {
		t.Fatalf("viewers after DELETE = %d", n)
	}
	resp, _, err = wheptest.Do(ctx, http.MethodDelete, c.URL, "", "", "")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second DELETE: %v %v", resp, err)
	}
}

var chromeLikeOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " +
	strings.Repeat("AA:", 31) + "AA\r\na=setup:actpass\r\na=rtpmap:96 VP8/90000\r\n"

func TestRefusals(t *testing.T) {
	e := newTestEnv(t, nil)
	defer publish(t, e.hub, testID, 15, false)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	big := "v=0\r\n" + strings.Repeat("a=x-padding:0123456789012345678901234567890123456789\r\n", 1400)
	for _, tc := range []struct {
		name, id, ctype, body string
		code                  int
		word                  string
	}{
		{"unknown input", "nope", "application/sdp", chromeLikeOffer, 404, "not_found"},
		{"not live", "idle", "application/sdp", chromeLikeOffer, 409, "not_live"},
		{"wrong type", testID, "text/plain", chromeLikeOffer, 415, "unsupported_media_type"},
		{"64 KiB+", testID, "application/sdp", big, 413, "offer_too_large"},
		{"garbage", testID, "application/sdp", "hello\x00world", 400, "malformed_sdp"},
		{"no media", testID, "application/sdp", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 400, "malformed_sdp"},
		{"no usable codec", testID, "application/sdp", chromeLikeOffer, 406, "no_usable_codec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := wheptest.Do(ctx, http.MethodPost, e.endpoint(tc.id), "", tc.ctype, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(body, `"`+tc.word+`"`) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.code, tc.word)
			}
			if tc.code == 406 && !strings.Contains(body, "H.264") {
				t.Fatalf("406 does not name the supported codecs: %s", body)
			}
		})
	}
	resp, _, err := wheptest.Do(ctx, http.MethodOptions, e.endpoint(testID), "", "", "")
	if err != nil || resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("OPTIONS: %v %v", resp, err)
	}
	if n := e.sessions(); n != 0 {
		t.Fatalf("%d sessions after refusals", n)
	}
}

func TestToken(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Gate = tokenGate{} })
	defer publish(t, e.hub, testID, 15, false)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{Token: "bad"})
	var se *wheptest.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{Token: "good"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBFramesRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	defer publish(t, e.hub, testID, 15, true)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// the first viewer starts the feed, which notices the B-frames
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(nil)
	for {
		_, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{SkipConnect: true})
		var se *wheptest.StatusError
		if errors.As(err, &se) && se.Code == http.StatusConflict && strings.Contains(se.Body, "-bf 0") {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("B-frames never refused: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestReaped(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond })
	defer publish(t, e.hub, testID, 15, false)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{SkipConnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(nil)
	for e.sessions() != 0 {
		if ctx.Err() != nil {
			t.Fatal("session never reaped")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestManySessionsNoLeak opens and drops a thousand sessions (half
// deleted, half left to the reaper) and checks that goroutines and file
// descriptors come back to the baseline.
func TestManySessionsNoLeak(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	// long enough that a session is still there for its DELETE on a
	// loaded machine; the other half is reaped after it
	e := newTestEnv(t, func(c *Config) { c.ConnectTimeout = 5 * time.Second })
	stop := publish(t, e.hub, testID, 15, false)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// warm up: one full session, so lazily started pieces are in the baseline
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	time.Sleep(200 * time.Millisecond)
	baseG, baseFD := runtime.NumGoroutine(), openFDs()
	offer := offerSDP(t, ctx, e)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				resp, _, err := wheptest.Do(ctx, http.MethodPost, e.endpoint(testID), "", "application/sdp", offer)
				if err != nil || resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("post %d: %v %v", i, resp, err)
					continue
				}
				if i%2 == 0 {
					loc := e.http.URL + resp.Header.Get("Location")
					if r, _, err := wheptest.Do(ctx, http.MethodDelete, loc, "", "", ""); err != nil || r.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("delete %d: %v %v", i, r, err)
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), openFDs()
		if e.sessions() == 0 && g <= baseG+5 && fd <= baseFD+5 {
			t.Logf("%d sessions: goroutines %d (baseline %d), fds %d (baseline %d)", n, g, baseG, fd, baseFD)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("leak: sessions %d, goroutines %d (baseline %d), fds %d (baseline %d)\n%s",
				e.sessions(), g, baseG, fd, baseFD, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// offerSDP is a real pion offer, reused for every POST of the leak test.
func offerSDP(t *testing.T, ctx context.Context, e *testEnv) string {
	t.Helper()
	var sdp string
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{SkipConnect: true, Offer: &sdp})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	return sdp
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// TestPublisherReconnect: the publisher drops and returns within the
// reconnect window; the viewer stays connected and gets the new
// publisher's frames from its first key frame on.
func TestPublisherReconnect(t *testing.T) {
	e := newTestEnv(t, nil) // reconnect window 500 ms
	_, leave := publishFor(t, e.hub, testID, 15, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
	leave()
	time.Sleep(200 * time.Millisecond)
	f0, k0 := c.VideoFrames(), c.KeyFrames()
	defer publish(t, e.hub, testID, 15, false)()
	time.Sleep(2 * time.Second)
	if c.VideoFrames()-f0 < 30 || c.KeyFrames() <= k0 {
		t.Fatalf("after the reconnect: %d frames, %d key frames", c.VideoFrames()-f0, c.KeyFrames()-k0)
	}
	if st := c.ConnectionState().String(); st != "connected" {
		t.Fatalf("viewer %s after the reconnect", st)
	}
}

// TestICETCP: a player whose network blocks UDP connects over ICE-TCP on
// the shared TCP port.
func TestICETCP(t *testing.T) {
	e := newTestEnvICE(t, webrtcice.Config{UDPAddress: "127.0.0.1:0", TCPAddress: "127.0.0.1:0"}, nil)
	defer publish(t, e.hub, testID, 15, false)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
}

// countingKeyframes records the key-frame requests the server sends
// upstream.
type countingKeyframes struct{ n atomic.Int64 }

func (c *countingKeyframes) RequestKeyframe(string) bool { c.n.Add(1); return true }

// TestKeyframeRequestsRateLimited: viewers joining at once make one
// key-frame request upstream, not one each.
func TestKeyframeRequestsRateLimited(t *testing.T) {
	kf := &countingKeyframes{}
	e := newTestEnv(t, func(c *Config) { c.Keyframes = kf })
	defer publish(t, e.hub, testID, 300, false)() // a 10 s GOP: joining needs the request
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first, last time.Time
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(ctx)
			for c.ConnectionState().String() != "connected" && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			if now := time.Now(); first.IsZero() || now.Before(first) {
				first = now
			} else if now.After(last) {
				last = now
			}
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}()
	}
	wg.Wait()
	// at most one per keyframeRequestGap over the time the joins spread
	limit := int64(last.Sub(first)/keyframeRequestGap) + 2
	if n := kf.n.Load(); n < 1 || n > limit {
		t.Fatalf("%d key-frame requests upstream for 5 viewers joining within %v", n, last.Sub(first))
	}
}

// fakeStandins names rendition "top" as the stand-in, or fails with err,
// or (block) waits for ctx.
type fakeStandins struct {
	err   error
	block bool
}

func (f fakeStandins) Standin(ctx context.Context, _ *stream.Stream) (string, error) {
	if f.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "top", f.err
}

// transcodeWithoutBFrames stands for the transcoder: it republishes src as
// its rendition "top" with PTS = DTS until src ends.
func transcodeWithoutBFrames(t *testing.T, src *stream.Stream) {
	t.Helper()
	r := src.AddReader("fake-transcoder", stream.ReaderOptions{})
	rp, err := src.PublishRendition("top", src.Tracks())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rp.End()
		defer r.Close()
		for {
			u, err := r.Next(context.Background())
			if err != nil {
				return
			}
			v := *u
			v.PTS = v.DTS
			_ = rp.Write(&v)
		}
	}()
	t.Cleanup(func() { <-done })
}

// sourceWithBFrames publishes a source with B-frames and waits until the
// server's feed of it has seen them.
func sourceWithBFrames(t *testing.T, e *testEnv) (stop func()) {
	t.Helper()
	stop = publish(t, e.hub, testID, 15, true)
	f, err := e.srv.feedOf(e.hub.Get(testID))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; !f.bframes.Load(); i++ {
		if i > 100 {
			t.Fatal("the feed never saw the B-frames")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop
}

// TestBFramesStandin: viewers of a source with B-frames play the
// rendition the Standins name; without one the offer is refused saying
// why (409) or, while it is not ready, 503 with Retry-After.
func TestBFramesStandin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Run("plays the rung", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.Standins = fakeStandins{} })
		stop := sourceWithBFrames(t, e)
		defer stop()
		transcodeWithoutBFrames(t, e.hub.Get(testID))
		c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.WaitKeyFrame(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if c.VideoFrames() < 10 || c.AudioPackets() < 10 {
			t.Fatalf("received %d video frames, %d audio packets", c.VideoFrames(), c.AudioPackets())
		}
		e.srv.mu.Lock()
		for _, ss := range e.srv.sessions {
			if r := ss.f.s.Rendition(); r != "top" {
				t.Errorf("session plays rendition %q, want top", r)
			}
		}
		e.srv.mu.Unlock()
		if n := e.srv.Viewers(testID); n != 1 {
			t.Errorf("viewers = %d, want 1 (on the rung)", n)
		}
	})
	t.Run("not transcoded", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.Standins = fakeStandins{err: errors.New("the live input is not transcoded")} })
		defer sourceWithBFrames(t, e)()
		_, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{SkipConnect: true})
		var se *wheptest.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.Contains(se.Body, "source_has_bframes") ||
			!strings.Contains(se.Body, "not transcoded") || !strings.Contains(se.Body, "-bf 0") {
			t.Fatalf("got %v, want 409 source_has_bframes saying why and what to change", err)
		}
	})
	t.Run("rung not ready", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.Standins = fakeStandins{block: true}; c.StandinWait = 300 * time.Millisecond })
		defer sourceWithBFrames(t, e)()
		resp, body, err := wheptest.Do(ctx, http.MethodPost, e.endpoint(testID), "", "application/sdp", chromeLikeOffer)
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "not ready") {
			t.Fatalf("got %v %s %v, want 503 with Retry-After", resp, body, err)
		}
	})
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
)

// dialWHEP retries a WHEP offer while the input is not live yet (409
// not_live) or its transcoded rung is not ready (503) and returns the
// playing client.
func dialWHEP(ctx context.Context, t *testing.T, d *daemon, endpoint string, o wheptest.Options) *wheptest.Client {
	t.Helper()
	var c *wheptest.Client
	waitFor(ctx, t, 30*time.Second, "a WHEP session of "+endpoint, func() bool {
		if !d.Alive() {
			t.Fatalf("mpegflow exited: %v", d.waitErr)
		}
		var err error
		c, err = wheptest.Dial(ctx, endpoint, o)
		var se *wheptest.StatusError
		if errors.As(err, &se) && (se.Code == http.StatusConflict && strings.Contains(se.Body, "not_live") ||
			se.Code == http.StatusServiceUnavailable && strings.Contains(se.Body, "not ready")) {
			return false
		}
		if err != nil {
			t.Fatalf("whep dial: %v", err)
		}
		return true
	})
	t.Cleanup(func() { _ = c.Close(nil) })
	return c
}

// TestWHEPFromRTMP plays an RTMP publish (ffmpeg, H.264 without B-frames,
// AAC) over WHEP with a pion player: it receives H.264 key frames at a
// steady frame rate and Opus made from the AAC; DELETE ends the session.
// A second input, not transcoded, published with B-frames is refused with
// 409 naming the fixes.
func TestWHEPFromRTMP(t *testing.T) {
	e2eTest(t)
	requireTools(t, "ffmpeg")
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nob, bf := newInput("whep-nob"), newInput("whep-bf")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{nob, bf}})
	publish(ctx, t, d.RTMPURL(nob.Key), publishOpts{Seconds: 60, NoBFrames: true})
	publish(ctx, t, d.RTMPURL(bf.Key), publishOpts{Seconds: 60})

	c := dialWHEP(ctx, t, d, d.URL("/whep/"+nob.ID), wheptest.Options{})
	ttff, err := c.WaitKeyFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("time to first key frame (RTMP, GOP 1 s): %v", ttff)
	f0 := c.VideoFrames()
	time.Sleep(3 * time.Second)
	if n := c.VideoFrames() - f0; n < 60 {
		t.Fatalf("%d video frames in 3 s, want about 90", n)
	}
	if c.KeyFrames() < 2 {
		t.Fatalf("%d key frames", c.KeyFrames())
	}
	if c.AudioPackets() < 50 {
		t.Fatalf("%d opus packets", c.AudioPackets())
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("DELETE: %v", err)
	}

	// B-frames: x264 says so in the SPS (max_num_reorder_frames), so even
	// the first offer is refused; the input is not transcoded, so there is
	// no rung to play instead (TestWHEPBFramesRung)
	waitFor(ctx, t, 30*time.Second, "409 source_has_bframes", func() bool {
		c, err := wheptest.Dial(ctx, d.URL("/whep/"+bf.ID), wheptest.Options{SkipConnect: true})
		if err == nil {
			_ = c.Close(ctx)
			t.Fatal("a viewer of a source with B-frames was accepted")
		}
		var se *wheptest.StatusError
		if errors.As(err, &se) && se.Code == http.StatusConflict && strings.Contains(se.Body, "not_live") {
			return false
		}
		if !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.Contains(se.Body, "source_has_bframes") ||
			!strings.Contains(se.Body, "-bf 0") || !strings.Contains(se.Body, "transcode.mode") {
			t.Fatalf("offer for a B-frame source: %v", err)
		}
		return true
	})
}

// TestWHEPSigned: a live input with require_signed_urls is refused over
// WHEP without a token (401) and with another input's token (403), and
// plays with its token as a bearer token or as ?token=; the API shows
// webrtc_playback.
func TestWHEPSigned(t *testing.T) {
	e2eTest(t)
	requireTools(t, "ffmpeg")
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	api := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		st, r := apiCall(t, d, admin, method, path, body)
		if st != want {
			t.Fatalf("%s %s: HTTP %d, want %d: %v", method, path, st, want, r)
		}
		return data(r)
	}
	li := api("POST", "/v1/live_inputs", map[string]any{"name": "E2E whep signed", "require_signed_urls": true, "transcode": map[string]any{"mode": "off"}}, http.StatusCreated)
	id, key := li["id"].(string), li["rtmp"].(map[string]any)["stream_key"].(string)
	wp, _ := li["webrtc_playback"].(map[string]any)
	endpoint, _ := wp["url"].(string)
	// a signed input read by a writer: the endpoint carries a fresh token
	if !strings.Contains(endpoint, "/whep/"+id+"?token=") {
		t.Fatalf("webrtc_playback = %v", li["webrtc_playback"])
	}
	endpoint = d.URL("/whep/" + id)
	other := api("POST", "/v1/live_inputs", map[string]any{"name": "E2E other"}, http.StatusCreated)["id"].(string)
	tok := api("POST", "/v1/live_inputs/"+id+"/token", nil, http.StatusOK)["token"].(string)
	foreign := api("POST", "/v1/live_inputs/"+other+"/token", nil, http.StatusOK)["token"].(string)
	publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 60, NoBFrames: true})

	c := dialWHEP(ctx, t, d, endpoint, wheptest.Options{Token: tok})
	if _, err := c.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
	// the session of the live input counts the WHEP viewer
	st, r := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id+"/sessions", nil)
	list, _ := r["data"].([]any)
	if st != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["viewers"].(float64) < 1 {
		t.Errorf("sessions: HTTP %d %v, want one session with a viewer", st, r)
	}
	_ = c.Close(ctx)
	q := dialWHEP(ctx, t, d, endpoint+"?token="+tok, wheptest.Options{})
	if _, err := q.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
	_ = q.Close(ctx)
	for _, tc := range []struct {
		name, token string
		code        int
	}{{"no token", "", 401}, {"wrong token", "garbage.token.here", 401}, {"another input's token", foreign, 403}} {
		_, err := wheptest.Dial(ctx, endpoint, wheptest.Options{Token: tc.token, SkipConnect: true})
		var se *wheptest.StatusError
		if !errors.As(err, &se) || se.Code != tc.code {
			t.Errorf("%s: %v, want HTTP %d", tc.name, err, tc.code)
		}
	}
}

// TestBrowserWHIPToWHEP goes live from headless Chromium's fake camera on
// the publish page (WHIP) and plays it on the player page with
// ?protocol=webrtc (WHEP) in a second page: WebRTC plays, with no fall
// back to LL-HLS, for 10 s. Not parallel, like the other browser tests.
func TestBrowserWHIPToWHEP(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node")
	for _, need := range []string{chromiumPath(), filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(need); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need)
			}
			t.Skipf("missing %s (run scripts/deps.sh)", need)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	in := newInput("browser-whep")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms"})
	const watch = 10
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "publish.mjs"),
		"--base", d.URL(""), "--id", in.ID, "--key", in.Key, "--seconds", fmt.Sprint(watch), "--timeout", "120",
		"--chromium", chromiumPath(), "--play-query", "?protocol=webrtc")
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	t.Logf("publish.mjs: %s", line)
	var r publishResult
	var fb struct {
		Play struct {
			Fallback string `json:"fallback"`
		} `json:"play"`
	}
	if jerr := errors.Join(json.Unmarshal([]byte(line), &r), json.Unmarshal([]byte(line), &fb)); jerr != nil {
		t.Fatalf("publish.mjs: %v; output %q; stderr %s: %v", err, out, stderr.String(), jerr)
	}
	if !r.OK {
		t.Fatalf("browser WHIP→WHEP failed: %v (publish %q %q; console %v; player errors %v, console %v)",
			r.Errors, r.Publish.State, r.Publish.Detail, r.Console, r.Play.Errors, r.Play.Console)
	}
	p := r.Play
	if p.Engine != "WebRTC (WHEP)" || fb.Play.Fallback != "" {
		t.Fatalf("engine %q, fallback %q: want WebRTC without fallback", p.Engine, fb.Play.Fallback)
	}
	if adv := *p.CurrentTimeEnd - *p.CurrentTimeStart; adv < 0.85*watch {
		t.Errorf("currentTime advanced %.2f s in %d s", adv, watch)
	}
	if p.VideoWidth == 0 || p.VideoHeight == 0 {
		t.Errorf("no picture: %dx%d", p.VideoWidth, p.VideoHeight)
	}
	if p.FrozenMs > 1500 {
		t.Errorf("currentTime stood still for %d ms", p.FrozenMs)
	}
	t.Logf("WHIP→WHEP in Chromium: first frame %v ms after the player page loaded, %dx%d", *p.FirstFrameMs, p.VideoWidth, p.VideoHeight)
}

// g2gLatency is one player's figures from test/browser/g2g.mjs.
type g2gLatency struct {
	Engine, Fallback   string
	P50, P95, Min, Max *int
	N, Bad             int
	// Chromium's WebRTC jitter buffer and decoder, average per frame
	JitterBufferMs, DecodeMs *int
	FramesDropped            int
}

// runG2G runs test/browser/g2g.mjs against input in of d for secs per
// player; publish is "whip" (a canvas in Chromium) or "none" (the caller
// publishes painted frames). It fails the test unless WHEP was measured.
func runG2G(ctx context.Context, t *testing.T, d *daemon, in liveInput, publish string, secs int) (webrtc, hls *g2gLatency) {
	t.Helper()
	for _, need := range []string{chromiumPath(), filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(need); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need)
			}
			t.Skipf("missing %s (run scripts/deps.sh)", need)
		}
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "g2g.mjs"),
		"--base", d.URL(""), "--id", in.ID, "--key", in.Key, "--seconds", fmt.Sprint(secs), "--publish", publish, "--chromium", chromiumPath())
	if m := os.Getenv("E2E_G2G_MODES"); m != "" {
		cmd.Args = append(cmd.Args, "--modes", m) // e.g. webrtc: WHEP only
	}
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	t.Logf("g2g.mjs: %s", line)
	var r struct {
		OK     bool
		WebRTC *g2gLatency `json:"webrtc"`
		HLS    *g2gLatency `json:"hls"`
	}
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil || !r.OK || r.WebRTC == nil {
		t.Fatalf("g2g.mjs: %v / %v: %+v; stderr %s", err, jerr, r, stderr.String())
	}
	w := r.WebRTC
	if w.Engine != "WebRTC (WHEP)" || w.Fallback != "" || w.N < 10*secs || w.P50 == nil {
		t.Fatalf("WHEP not measured: %+v", *w)
	}
	return w, r.HLS
}

func g2gSeconds() int {
	if v, err := strconv.Atoi(os.Getenv("E2E_G2G_SECONDS")); err == nil && v > 0 {
		return v
	}
	return 20
}

func logG2G(t *testing.T, source string, w, h *g2gLatency) {
	t.Logf("glass to glass, %s → WHEP: p50 %d ms, p95 %d ms (n=%d, %d unreadable frames)", source, *w.P50, *w.P95, w.N, w.Bad)
	if w.JitterBufferMs != nil && w.DecodeMs != nil {
		t.Logf("of which in Chromium: jitter buffer %d ms, decode %d ms per frame, %d frames dropped", *w.JitterBufferMs, *w.DecodeMs, w.FramesDropped)
	}
	if h != nil && h.P50 != nil {
		t.Logf("glass to glass, %s → LL-HLS (hls.js): p50 %d ms, p95 %d ms (n=%d)", source, *h.P50, *h.P95, h.N)
	}
}

// TestBrowserGlassToGlass measures glass-to-glass latency in Chromium: a
// canvas painted with the wall clock is published over WHIP and read back
// from the frames the player page shows over WHEP and over LL-HLS
// (test/browser/g2g.mjs). It logs p50/p95 of both and asserts only that
// WebRTC played and was measured (timing on a shared machine is reported,
// not judged). E2E_G2G_SECONDS sets the time per player (default 20),
// E2E_G2G_MODES the players (default webrtc,hls).
func TestBrowserGlassToGlass(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node")
	secs := g2gSeconds()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2*secs+180)*time.Second)
	defer cancel()
	in := newInput("g2g")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "1s", PartDuration: "200ms"})
	w, h := runG2G(ctx, t, d, in, "whip", secs)
	logG2G(t, "WHIP canvas", w, h)
}

// TestBrowserGlassToGlassRTMP is the same measure for RTMP: frames
// painted with the wall clock here (the code of g2g.mjs: 32 blocks of a
// 640x360 picture) go through ffmpeg (libx264 zerolatency, no B-frames,
// GOP 1 s) over RTMP.
func TestBrowserGlassToGlassRTMP(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node", "ffmpeg")
	secs := g2gSeconds()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2*secs+180)*time.Second)
	defer cancel()
	in := newInput("g2g-rtmp")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "1s", PartDuration: "200ms"})
	w, h := g2gRTMP(ctx, t, d, in, secs, "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0")
	logG2G(t, "RTMP (ffmpeg -tune zerolatency -bf 0)", w, h)
}

// TestBrowserGlassToGlassRTMPBFrames is the same measure for RTMP with
// B-frames (libx264 veryfast as OBS and ffmpeg default to: B-frames and
// lookahead), which WHEP plays from the input's 360p rung: the source's
// encoder delay, the transcode and the rung's encode are all in it.
func TestBrowserGlassToGlassRTMPBFrames(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node", "ffmpeg")
	secs := g2gSeconds()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2*secs+180)*time.Second)
	defer cancel()
	d, in := transcodedInput(t, "360p")
	w, h := g2gRTMP(ctx, t, d, in, secs, "-preset", "veryfast", "-bf", "2")
	logG2G(t, "RTMP with B-frames (ffmpeg veryfast -bf 2) through the 360p rung", w, h)
}

// g2gRTMP publishes frames painted with the wall clock to in over RTMP
// through ffmpeg (libx264 with x264Args, 30 fps, GOP 1 s) and runs
// g2g.mjs on them.
func g2gRTMP(ctx context.Context, t *testing.T, d *daemon, in liveInput, secs int, x264Args ...string) (webrtc, hls *g2gLatency) {
	t.Helper()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "640x360", "-r", "30", "-i", "pipe:0", "-c:v", "libx264"}
	args = append(append(args, x264Args...), "-g", "30", "-f", "flv", d.RTMPURL(in.Key))
	ff := exec.CommandContext(pctx, "ffmpeg", args...)
	stdin, err := ff.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var ffErr strings.Builder
	ff.Stderr = &ffErr
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stdin.Close()
		frame := make([]byte, 640*360*3/2)
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for {
			paintClock(frame, 640, 360, time.Now().UnixMilli())
			if _, err := stdin.Write(frame); err != nil {
				return
			}
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() {
		stop()
		<-done
		_ = ff.Wait()
		if t.Failed() {
			t.Logf("ffmpeg: %s", ffErr.String())
		}
	}()
	// the player falls back to LL-HLS on a refusal: offer only once WHEP
	// answers (the stream is live and, with B-frames, its rung ready)
	_ = dialWHEP(ctx, t, d, d.URL("/whep/"+in.ID), wheptest.Options{SkipConnect: true}).Close(ctx)
	webrtc, hls = runG2G(ctx, t, d, in, "none", secs)
	// what a rung adds, when one stood in (the publisher still runs), and
	// how the viewer joined
	if f, err := get(ctx, "http://"+d.Metric+"/metrics"); err == nil {
		for _, l := range strings.Split(string(f.Body), "\n") {
			if strings.HasPrefix(l, "mpegflow_transcode_delay_seconds{") || strings.HasPrefix(l, "mpegflow_whep_join_replays_total") || strings.HasPrefix(l, "mpegflow_whep_pli_total") {
				t.Logf("metric %s", l)
			}
		}
	}
	return webrtc, hls
}

// paintClock paints ms as g2g.mjs does: 24 bits of ms and 8 check bits
// (the low byte inverted), one bit per block of an 8x4 grid, white = 1,
// into a yuv420p frame.
func paintClock(f []byte, w, h int, ms int64) {
	v := uint32(ms) & 0xffffff
	bw, bh := w/8, h/4
	for i := 0; i < 32; i++ {
		bit := v >> i & 1
		if i >= 24 {
			bit = ^v >> (i - 24) & 1
		}
		y := byte(16)
		if bit == 1 {
			y = 235
		}
		x0, y0 := (i%8)*bw, (i/8)*bh
		for yy := y0; yy < y0+bh; yy++ {
			row := f[yy*w+x0 : yy*w+x0+bw]
			for j := range row {
				row[j] = y
			}
		}
	}
	for j := w * h; j < len(f); j++ {
		f[j] = 128
	}
}

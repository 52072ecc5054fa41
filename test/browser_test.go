package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// playResult is the JSON line printed by test/browser/play.mjs.
type playResult struct {
	OK           bool   `json:"ok"`
	Engine       string `json:"engine"`
	Page         string `json:"page"`
	FirstFrameMs *int   `json:"firstFrameMs"`
	LatencyMs    struct {
		P50, P95, Min, Max *int
		N                  int
	} `json:"latencyMs"`
	Stalls           int      `json:"stalls"`
	StallStartsMs    []int    `json:"stallStartsMs"` // after the first frame
	LongestStallMs   int      `json:"longestStallMs"`
	StallMsTotal     int      `json:"stallMsTotal"`
	FrozenMs         int      `json:"frozenMs"`
	CurrentTimeStart *float64 `json:"currentTimeStart"`
	CurrentTimeEnd   *float64 `json:"currentTimeEnd"`
	WatchedMs        int      `json:"watchedMs"`
	// hls.js's latency (behind its live edge estimate) and target
	// latency at the first frame
	HLSLatencyStartMs  *int     `json:"hlsLatencyStartMs"`
	HLSTargetLatencyMs *int     `json:"hlsTargetLatencyMs"`
	Errors             []string `json:"errors"`
	Console            []string `json:"console"`
}

// chromiumPath is Debian's Chromium, or $CHROMIUM.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// player is test/browser/play.mjs running in the background.
type player struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	stderr syncBuffer
	done   chan struct{}
	err    error
}

// startPlay starts play.mjs on the player page pageURL (mode "daemon" or
// "repo") to watch seconds of playback after the first frame; extra are
// more play.mjs options.
func startPlay(ctx context.Context, t *testing.T, pageURL, mode string, seconds int, extra ...string) *player {
	t.Helper()
	p := &player{done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, "node", append([]string{filepath.Join(repoRoot, "test", "browser", "play.mjs"),
		"--url", pageURL, "--seconds", strconv.Itoa(seconds), "--timeout", strconv.Itoa(seconds + 40), "--page", mode, "--chromium", chromiumPath()}, extra...)...)
	p.cmd.Dir = repoRoot
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start play.mjs: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

// playing reports whether the video has played its first frame.
func (p *player) playing() bool { return strings.Contains(p.stderr.String(), "playing\n") }

// exited reports whether play.mjs has ended (its watch is over).
func (p *player) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// result waits for play.mjs and returns its measurements; a failed
// playback fails the test.
func (p *player) result(t *testing.T) playResult {
	t.Helper()
	<-p.done
	line := strings.TrimSpace(p.out.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	t.Logf("play.mjs: %s", line)
	if e := strings.TrimSpace(strings.TrimPrefix(p.stderr.String(), "playing\n")); e != "" {
		t.Logf("play.mjs stderr:\n%s", e)
	}
	var r playResult
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		t.Fatalf("play.mjs: %v; output %q: %v", p.err, p.out.String(), jerr)
	}
	if !r.OK {
		t.Fatalf("playback failed: %v (console: %v)", r.Errors, r.Console)
	}
	return r
}

// TestBrowserPlayback plays the daemon's player page (hls.js) in headless
// Chromium for 20 s while ffmpeg publishes, and reports the first-frame time
// and the latency Date.now() - hls.playingDate. Not parallel: it runs alone so
// that the figures are not skewed by the other tests' encoders.
func TestBrowserPlayback(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node")
	for _, need := range []struct{ path, hint string }{
		{chromiumPath(), "chromium (apt-get install chromium)"},
		{filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json"), "node_modules (npm ci)"},
		{filepath.Join(repoRoot, "node_modules", "hls.js", "dist", "hls.min.js"), "node_modules (npm ci)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need.hint)
			}
			t.Skipf("missing %s (run scripts/deps.sh)", need.hint)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	in := newInput("browser")
	// The daemon's defaults: 2 s segments, 200 ms parts.
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms"})
	pub := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 40})
	waitLive(ctx, t, d, in.ID, 15*time.Second)

	pageURL := d.URL("/live/" + in.ID + "/")
	mode := "daemon"
	f, err := get(ctx, pageURL)
	if err != nil || f.Status != http.StatusOK || !bytes.Contains(f.Body, []byte("<video")) {
		t.Errorf("GET %s: the daemon does not serve the player page (err %v, HTTP %d); playing web/player.html from the repository instead", pageURL, err, f.Status)
		mode = "repo"
	} else if hf, err := get(ctx, d.URL("/static/hls.min.js")); err != nil || hf.Status != http.StatusOK {
		t.Errorf("GET /static/hls.min.js: err %v HTTP %d: hls.js is not embedded (Makefile: cp node_modules/hls.js/dist/hls.min.js web/static/); playing web/player.html from the repository instead", err, hf.Status)
		mode = "repo"
	}

	const watch = 20
	r := startPlay(ctx, t, pageURL, mode, watch).result(t)
	if pub.Exited() {
		t.Errorf("the publisher ended during playback (%v): the test did not watch a live stream", pub.err)
	}
	advanced := *r.CurrentTimeEnd - *r.CurrentTimeStart
	if advanced < 0.85*watch {
		t.Errorf("currentTime advanced %.2f s in %d s of watching", advanced, watch)
	}
	if r.LongestStallMs > 1000 {
		t.Errorf("playback stalled: %d stalls, longest %d ms, %d ms in all", r.Stalls, r.LongestStallMs, r.StallMsTotal)
	}
	if r.FrozenMs > 1500 {
		t.Errorf("currentTime stood still for %d ms", r.FrozenMs)
	}
	if len(r.Errors) > 0 {
		t.Errorf("page errors: %v", r.Errors)
	}
	if r.LatencyMs.N == 0 || r.LatencyMs.P50 == nil {
		t.Errorf("no latency samples: hls.playingDate never set (EXT-X-PROGRAM-DATE-TIME missing?)")
	} else {
		t.Logf("first frame %d ms after page load; latency p50 %d ms, p95 %d ms (min %d, max %d, %d samples); %d stalls (%d ms); engine %s, page %s",
			*r.FirstFrameMs, *r.LatencyMs.P50, *r.LatencyMs.P95, *r.LatencyMs.Min, *r.LatencyMs.Max, r.LatencyMs.N, r.Stalls, r.StallMsTotal, r.Engine, r.Page)
	}
	if !strings.HasPrefix(r.Engine, "hls.js") {
		t.Errorf("engine %q, want hls.js", r.Engine)
	}
	d.assertNoKeys(t, in.Key)
}

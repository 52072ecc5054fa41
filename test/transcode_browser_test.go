package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// abrResult is the JSON line printed by test/browser/abr.mjs.
type abrResult struct {
	OK     bool   `json:"ok"`
	Engine string `json:"engine"`
	Levels []struct {
		Height  int    `json:"height"`
		Bitrate int    `json:"bitrate"`
		URL     string `json:"url"`
	} `json:"levels"`
	Switches []struct {
		Level       int     `json:"level"`
		Height      int     `json:"height"`
		ShownMs     *int    `json:"shownMs"`
		VideoHeight int     `json:"videoHeight"`
		Advanced    float64 `json:"advanced"`
		OK          bool    `json:"ok"`
	} `json:"switches"`
	Stalls         int      `json:"stalls"`
	LongestStallMs int      `json:"longestStallMs"`
	StallMsTotal   int      `json:"stallMsTotal"`
	FrozenMs       int      `json:"frozenMs"`
	WatchedMs      int      `json:"watchedMs"`
	Errors         []string `json:"errors"`
	HLSErrors      []string `json:"hlsErrors"`
	Console        []string `json:"console"`
}

// requireBrowser skips (fails in CI) when Chromium, node or the npm
// packages the browser tests drive are missing.
func requireBrowser(t *testing.T) {
	t.Helper()
	requireTools(t, "node")
	for _, need := range []struct{ path, hint string }{
		{chromiumPath(), "chromium (apt-get install chromium)"},
		{filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json"), "node_modules (npm ci)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need.hint)
			}
			t.Skipf("missing %s (run scripts/deps.sh)", need.hint)
		}
	}
}

// smallLadderYAML are transcode profiles small enough for the 2-core test
// machines: a 640x360 source gets 240p and 160p rungs.
const smallLadderYAML = `transcode:
  profiles:
    - {name: 240p, height: 240, video_bitrate: 400k, max_fps: 30, codec: h264}
    - {name: 160p, height: 160, video_bitrate: 200k, max_fps: 30, codec: h264}
`

// TestTranscodeBrowserABR: hls.js in Chromium plays a transcoded ladder
// (640x360 source passed through + 240p + 160p from libx264), is forced
// onto every level in turn with hls.currentLevel (lowest, up to the
// source, back to the lowest), shows each level's frames and keeps playing
// without a stall. Not parallel: the encoders and the browser share the
// machine's cores.
func TestTranscodeBrowserABR(t *testing.T) {
	e2eTest(t)
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: smallLadderYAML})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed:\n%s", d.Output())
	}
	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "E2E ABR",
		"transcode": map[string]any{"mode": "on", "ladder": []string{"240p", "160p"}}})
	if st != http.StatusCreated {
		t.Fatalf("create: HTTP %d %v", st, r)
	}
	id := data(r)["id"].(string)
	key := data(r)["rtmp"].(map[string]any)["stream_key"].(string)

	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 90})
	waitLive(ctx, t, d, id, 20*time.Second)
	waitFor(ctx, t, 25*time.Second, "source, 240p and 160p in the multivariant playlist", func() bool {
		return len(getPlaylist(ctx, t, d.PlaylistURL(id)).Variants) >= 3
	})

	const dwell = 5
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "abr.mjs"),
		"--url", d.URL("/live/"+id+"/"), "--dwell", "5", "--switch-timeout", "15", "--timeout", "100", "--chromium", chromiumPath())
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	t.Logf("abr.mjs: %s", line)
	if stderr.Len() > 0 {
		t.Logf("abr.mjs stderr:\n%s", stderr.String())
	}
	var res abrResult
	if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
		t.Fatalf("abr.mjs: %v; output %q: %v", err, out, jerr)
	}
	if !res.OK {
		t.Fatalf("playback failed: %v (console: %v)", res.Errors, res.Console)
	}
	if pub.Exited() {
		t.Errorf("the publisher ended during playback (%v): the test did not watch a live stream", pub.err)
	}
	heights := map[int]bool{}
	for _, l := range res.Levels {
		heights[l.Height] = true
	}
	for _, h := range []int{360, 240, 160} {
		if !heights[h] {
			t.Errorf("hls.js levels %v: no %dp level", res.Levels, h)
		}
	}
	if len(res.Switches) != len(res.Levels)+1 {
		t.Errorf("%d switches done, want %d: %+v", len(res.Switches), len(res.Levels)+1, res.Switches)
	}
	for i, s := range res.Switches {
		switch {
		case s.ShownMs == nil:
			t.Errorf("switch %d to level %d (%dp): never showed (video height %d)", i, s.Level, s.Height, s.VideoHeight)
		case !s.OK:
			t.Errorf("switch %d to level %d (%dp): video height %d at the end of the dwell", i, s.Level, s.Height, s.VideoHeight)
		case s.Advanced < 0.5*dwell:
			t.Errorf("switch %d to level %d (%dp): currentTime advanced %.2f s in %d s", i, s.Level, s.Height, s.Advanced, dwell)
		default:
			t.Logf("switch %d to %dp shown after %d ms; played %.2f s in %d s", i, s.Height, *s.ShownMs, s.Advanced, dwell)
		}
	}
	if res.LongestStallMs > 1000 {
		t.Errorf("playback stalled: %d stalls, longest %d ms, %d ms in all", res.Stalls, res.LongestStallMs, res.StallMsTotal)
	} else {
		t.Logf("%d stalls (%d ms in all, longest %d ms); currentTime stood still at most %d ms", res.Stalls, res.StallMsTotal, res.LongestStallMs, res.FrozenMs)
	}
	if res.FrozenMs > 1500 {
		t.Errorf("currentTime stood still for %d ms", res.FrozenMs)
	}
	if len(res.Errors) > 0 {
		t.Errorf("page errors: %v", res.Errors)
	}
	for _, e := range res.HLSErrors {
		if strings.HasPrefix(e, "fatal") {
			t.Errorf("hls.js error: %s", e)
		} else {
			t.Logf("hls.js non-fatal error: %s", e)
		}
	}
}

package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// consoleResult is the JSON line printed by test/browser/console.mjs.
type consoleResult struct {
	OK      bool     `json:"ok"`
	Steps   []string `json:"steps"`
	StepMs  []int    `json:"stepMs"`
	Errors  []string `json:"errors"`
	Console []string `json:"console"`
	Figures struct {
		TimeToInteractiveMs int     `json:"timeToInteractiveMs"`
		DOMContentLoadedMs  int     `json:"domContentLoadedMs"`
		SignInMs            int     `json:"signInMs"`
		SpawnToBadgeMs      int     `json:"spawnToBadgeMs"`
		ConnectToBadgeMs    float64 `json:"connectToBadgeMs"`
		Viewers             int     `json:"viewers"`
		Clip                string  `json:"clip"`
		OutputBroadcastMs   int     `json:"outputBroadcastMs"`
		OutputEditMs        int     `json:"outputEditMs"`
		PipelineApplyMs     int     `json:"pipelineApplyMs"`
		UploadReadyMs       int     `json:"uploadReadyMs"`
		NewViewsMs          int     `json:"newViewsMs"`
	} `json:"figures"`
}

// TestConsoleBrowser drives the web console in headless Chromium through a
// streamer's and an operator's tasks (see test/browser/console.mjs), then
// signs in with a read-only token and finds no write controls. It also
// adds a restream output (to a second live input of the same daemon) and
// edits it, applies a pipeline through the paste-plan-apply flow and
// uploads a generated clip with tus, paused and resumed. It logs the
// figures: bundle size, time to interactive, live badge latency. With
// MPEGFLOW_CONSOLE_SCREENSHOTS=DIR (relative to the repository) it writes
// screenshots of the main views there (docs/console); without it nothing
// is written.
func TestConsoleBrowser(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node", "ffmpeg")
	for _, need := range []struct{ path, hint string }{
		{chromiumPath(), "chromium (apt-get install chromium)"},
		{filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json"), "node_modules (npm ci)"},
		{filepath.Join(repoRoot, "web", "console", "dist", "app.js"), "the console bundle (make console) before the binary is built"},
		{filepath.Join(repoRoot, "web", "static", "hls.min.js"), "hls.js in web/static (make build)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need.hint)
			}
			t.Skipf("missing %s", need.hint)
		}
	}
	t.Parallel()
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	defer hook.Close()
	d, admin := recordingDaemonWith(t.Context(), t, t.TempDir(), daemonConfig{ExtraYAML: "webhooks:\n  allow_private_targets: true\n" + restreamPrivateYAML})
	// the bundle as served (JS and CSS, hls.js is loaded apart), gzipped
	bundle := 0
	for _, p := range []string{"/console/app.js", "/console/app.css"} {
		f, err := get(t.Context(), d.URL(p))
		if err != nil || f.Status != http.StatusOK {
			t.Fatalf("GET %s: %v %v: the binary was built without the console bundle", p, f.Status, err)
		}
		bundle += gzipLen(t, f.Body)
	}
	st, r := apiCall(t, d, admin, "POST", "/v1/tokens", map[string]any{"name": "read only",
		"scopes": []string{"live_inputs:read", "videos:read", "webhooks:read"}})
	if st != http.StatusCreated {
		t.Fatalf("create token: HTTP %d %v", st, r)
	}
	readOnly := data(r)["token"].(string)
	// two more live inputs of the same daemon: the target of the restream
	// output the console adds, and the input of the pipeline it applies
	// (apart, so that the pipeline's publisher does not come within the
	// reconnect window of the restream output's broadcast)
	newInput := func(name string) (id, key string) {
		st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": name})
		if st != http.StatusCreated {
			t.Fatalf("create live input: HTTP %d %v", st, r)
		}
		li := data(r)
		return li["id"].(string), li["rtmp"].(map[string]any)["stream_key"].(string)
	}
	_, targetKey := newInput("restream target")
	pipelineInput, pipelineKey := newInput("pipeline input")

	args := []string{filepath.Join(repoRoot, "test", "browser", "console.mjs"), "--url", "http://" + d.HTTP,
		"--token", admin, "--readonly", readOnly, "--webhook", hook.URL + "/hook", "--chromium", chromiumPath(), "--timeout", "300",
		"--restream", "rtmp://" + d.RTMP + "/live", "--restreamkey", targetKey, "--pipelineinput", pipelineInput, "--pipelinekey", pipelineKey,
		"--upload", uploadClip(t, 3, "320x240")}
	if dir := os.Getenv("MPEGFLOW_CONSOLE_SCREENSHOTS"); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(repoRoot, dir)
		}
		args = append(args, "--screenshots", dir)
	}
	cmd := exec.CommandContext(t.Context(), "node", args...)
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var res consoleResult
	if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
		t.Fatalf("console.mjs: %v; output %q: %v\n%s", err, out, jerr, stderr.String())
	}
	if !res.OK {
		t.Fatalf("console.mjs failed after %v: %v\nbrowser console: %v\n%s", res.Steps, res.Errors, res.Console, stderr.String())
	}
	if len(res.Errors) > 0 {
		t.Errorf("page errors: %v", res.Errors)
	}
	if hits.Load() == 0 {
		t.Error("the webhook receiver got nothing")
	}
	var took strings.Builder
	for i, ms := range res.StepMs {
		if i < len(res.Steps) {
			fmt.Fprintf(&took, "[%s] %d ms ", res.Steps[i], ms)
		}
	}
	t.Logf("console: steps: %s", took.String())
	f := res.Figures
	t.Logf("console: interactive %d ms after navigation (DOMContentLoaded %d ms), signed in %d ms after the click; live badge %.0f ms after the connected event (%d ms after ffmpeg was started); clip %s",
		f.TimeToInteractiveMs, f.DOMContentLoadedMs, f.SignInMs, f.ConnectToBadgeMs, f.SpawnToBadgeMs, f.Clip)
	t.Logf("console: restream output broadcasting %d ms after Add; pipeline applied and drawn %d ms after Plan; upload ready %d ms after Upload; the outputs, pipeline and upload steps took %d ms",
		f.OutputBroadcastMs, f.PipelineApplyMs, f.UploadReadyMs, f.NewViewsMs)
	t.Logf("console: bundle %.1f KB gzipped (JS + CSS, without hls.js); output edited and broadcasting again %d ms after Save",
		float64(bundle)/1024, f.OutputEditMs)
	if bundle > 150<<10 {
		t.Errorf("the console bundle is %d bytes gzipped; at most 150 KB", bundle)
	}
	if f.ConnectToBadgeMs > 2000 {
		t.Errorf("the live badge came %.0f ms after the publisher connected", f.ConnectToBadgeMs)
	}
	d.assertNoKeys(t, readOnly) // the admin token is printed once at first start, by design
}

// gzipLen is the length of b gzipped at the default level (as a server or
// CDN would send it).
func gzipLen(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

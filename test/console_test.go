package e2e

import (
	"bytes"
	"encoding/json"
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
		PipelineApplyMs     int     `json:"pipelineApplyMs"`
		UploadReadyMs       int     `json:"uploadReadyMs"`
		NewViewsMs          int     `json:"newViewsMs"`
	} `json:"figures"`
}

// TestConsoleBrowser drives the web console in headless Chromium through a
// streamer's and an operator's tasks (see test/browser/console.mjs), then
// signs in with a read-only token and finds no write controls. It also
// adds a restream output (to a second live input of the same daemon),
// applies a pipeline through the paste-plan-apply flow and uploads a
// generated clip. With
// MPEGFLOW_CONSOLE_SCREENSHOTS=DIR it writes screenshots of the main views
// there (docs/console for the closing note).
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
	if f, err := get(t.Context(), d.URL("/console/app.js")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /console/app.js: %v %v: the binary was built without the console bundle", f.Status, err)
	}
	st, r := apiCall(t, d, admin, "POST", "/v1/tokens", map[string]any{"name": "read only",
		"scopes": []string{"live_inputs:read", "videos:read", "webhooks:read"}})
	if st != http.StatusCreated {
		t.Fatalf("create token: HTTP %d %v", st, r)
	}
	readOnly := data(r)["token"].(string)
	// a second live input of the same daemon: the target of the restream
	// output the console adds, and the input of the pipeline it applies
	st, r = apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "restream target"})
	if st != http.StatusCreated {
		t.Fatalf("create live input: HTTP %d %v", st, r)
	}
	target := data(r)
	targetKey := target["rtmp"].(map[string]any)["stream_key"].(string)

	args := []string{filepath.Join(repoRoot, "test", "browser", "console.mjs"), "--url", "http://" + d.HTTP,
		"--token", admin, "--readonly", readOnly, "--webhook", hook.URL + "/hook", "--chromium", chromiumPath(), "--timeout", "300",
		"--restream", "rtmp://" + d.RTMP + "/live", "--restreamkey", targetKey, "--pipelineinput", target["id"].(string),
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
	f := res.Figures
	t.Logf("console: interactive %d ms after navigation (DOMContentLoaded %d ms), signed in %d ms after the click; live badge %.0f ms after the connected event (%d ms after ffmpeg was started); clip %s",
		f.TimeToInteractiveMs, f.DOMContentLoadedMs, f.SignInMs, f.ConnectToBadgeMs, f.SpawnToBadgeMs, f.Clip)
	t.Logf("console: restream output broadcasting %d ms after Add; pipeline applied and drawn %d ms after Plan; upload ready %d ms after Upload; the outputs, pipeline and upload steps took %d ms",
		f.OutputBroadcastMs, f.PipelineApplyMs, f.UploadReadyMs, f.NewViewsMs)
	if f.ConnectToBadgeMs > 2000 {
		t.Errorf("the live badge came %.0f ms after the publisher connected", f.ConnectToBadgeMs)
	}
	d.assertNoKeys(t, readOnly) // the admin token is printed once at first start, by design
}

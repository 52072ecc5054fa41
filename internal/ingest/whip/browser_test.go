package whip

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// browserScript drives headless Chromium with playwright-core: open the
// publish page, fill in the key, click Go live, stay live for 6 s, stop.
const browserScript = `
const { chromium } = require(process.env.PW_CORE);
(async () => {
  // a persistent context on a fresh directory is the --user-data-dir
  const browser = await chromium.launchPersistentContext(process.env.USER_DATA_DIR, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  try {
    const page = browser.pages()[0] || await browser.newPage();
    page.on('console', (m) => console.log('console:', m.text()));
    await page.goto(process.env.PAGE_URL);
    await page.fill('#key', process.env.STREAM_KEY);
    await page.click('#start');
    await page.waitForFunction(() => window.mpegflowPublish.state() === 'live' || window.mpegflowPublish.state() === 'error', null, { timeout: 20000 });
    const st = await page.evaluate(() => window.mpegflowPublish.state() + ' ' + document.getElementById('detail').textContent);
    console.log('state:', st);
    if (!st.startsWith('live')) { process.exitCode = 2; return; }
    await page.waitForTimeout(6000);
    console.log('stats:', JSON.stringify(await page.evaluate(() => window.mpegflowPublish.stats())));
    await page.click('#start');
    await page.waitForFunction(() => window.mpegflowPublish.state() === 'stopped', null, { timeout: 10000 });
    console.log('state: stopped');
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`

func TestBrowserPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	chromium := "/usr/bin/chromium"
	pwCore := filepath.Join(root, "node_modules", "playwright-core")
	node, nodeErr := exec.LookPath("node")
	_, chromeErr := os.Stat(chromium)
	_, pwErr := os.Stat(pwCore)
	if nodeErr != nil || chromeErr != nil || pwErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser test needs node, %s and %s (node: %v, chromium: %v, playwright-core: %v)", chromium, pwCore, nodeErr, chromeErr, pwErr)
		}
		t.Skipf("browser test skipped: needs node, %s and %s (install chromium and run npm ci)", chromium, pwCore)
	}
	page, err := os.ReadFile(filepath.Join(root, "web", "publish.html"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/whip/", e.srv.Handler())
	mux.HandleFunc("/live/{id}/publish", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	script := filepath.Join(dir, "publish.js")
	if err := os.WriteFile(script, []byte(browserScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"PW_CORE="+pwCore, "CHROMIUM="+chromium, "USER_DATA_DIR="+filepath.Join(dir, "profile"),
		"PAGE_URL="+hs.URL+"/live/"+testID+"/publish", "STREAM_KEY="+testKey)
	done := make(chan []byte, 1)
	var runErr error
	go func() {
		out, err := cmd.CombinedOutput()
		runErr = err
		done <- out
	}()

	var st startedStream
	select {
	case st = <-e.started:
	case out := <-done:
		t.Fatalf("browser finished without the stream starting: %v\n%s", runErr, out)
	case <-ctx.Done():
		t.Fatal("stream never started")
	}
	tracks := st.s.Tracks()
	if _, ok := tracks[0].Codec.(stream.H264); !ok {
		t.Fatalf("video track %s, want h264", tracks[0].Codec.Name())
	}
	stats := make(chan unitStats, 1)
	go func() { stats <- collect(ctx, st.r, tracks) }()
	out := <-done
	t.Logf("browser:\n%s", out)
	if runErr != nil {
		t.Fatalf("browser script: %v", runErr)
	}
	select {
	case <-st.s.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end after Stop (DELETE)")
	}
	s := <-stats
	t.Logf("units: %+v", s)
	if s.video < 60 || s.keys < 1 {
		t.Errorf("video units %d keys %d, want ≥ 60 frames in 6 s and a key frame", s.video, s.keys)
	}
	if d := s.lastVideo - s.firstVideo; d < 4*time.Second {
		t.Errorf("video spans %v, want ≥ 4 s", d)
	}
	if len(tracks) > 1 && s.audio < 100 {
		t.Errorf("audio units %d, want ≥ 100", s.audio)
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
)

// TestRTSPToLLHLS: ffmpeg publishes RTSP (ANNOUNCE/RECORD) over TCP
// interleaved and over UDP; each becomes an LL-HLS stream that fills while
// live, ends after the reconnect window, and decodes cleanly end to end.
func TestRTSPToLLHLS(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	tcpIn, udpIn := newInput("rtsp-tcp"), newInput("rtsp-udp")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{tcpIn, udpIn}, SegmentDuration: "2s", PartDuration: "200ms", ReconnectWindow: "3s"})
	for _, tc := range []struct {
		transport string
		in        liveInput
	}{{"tcp", tcpIn}, {"udp", udpIn}} {
		t.Run(tc.transport, func(t *testing.T) {
			t.Parallel()
			// the deadline starts when the subtest runs: parallel subtests
			// wait for a free slot after this function returns
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const published = 8.0
			pub := publish(ctx, t, d.RTSPURL(tc.in.Key), publishOpts{Seconds: published, Format: "rtsp",
				OutputArgs: []string{"-rtsp_transport", tc.transport}})
			mediaURL, multi := waitLive(ctx, t, d, tc.in.ID, 15*time.Second)
			if c := multi.Variants[0].Attrs["CODECS"]; !strings.Contains(c, "avc1.") || !strings.Contains(c, "mp4a.40.2") {
				t.Errorf("multivariant CODECS=%q, want avc1.* and mp4a.40.2", c)
			}
			rec := newRecorder(ctx, t, mediaURL)
			followWhileLive(ctx, t, rec, pub.Exited)
			if pub.err != nil {
				t.Errorf("ffmpeg RTSP publisher failed: %v\n%s", pub.err, pub.stderr.String())
			}
			if rec.blocking < 8 {
				t.Errorf("only %d blocking reloads completed while live", rec.blocking)
			}
			waitFor(ctx, t, 18*time.Second, "EXT-X-ENDLIST after the publisher stopped", func() bool { return rec.poll(false).Endlist })
			msns, sum := checkContiguous(t, rec)
			file := rec.concat(t, "rtsp-"+tc.transport+".mp4", msns)
			v := ffprobe(ctx, t, file, "v")
			if v.Codec != "h264" || v.Width != 640 || v.Height != 360 {
				t.Errorf("ffprobe video: %s %dx%d, want h264 640x360", v.Codec, v.Width, v.Height)
			}
			if math.Abs(sum-published) > 0.15*published {
				t.Errorf("EXTINF durations add up to %.3f s, want %.1f s ± 15%%", sum, published)
			}
			if a := ffprobe(ctx, t, file, "a"); a.Codec != "aac" {
				t.Errorf("ffprobe audio codec %q, want aac", a.Codec)
			}
			if err := ffmpegDecodes(ctx, file); err != nil {
				t.Errorf("ffmpeg cannot decode the concatenated stream cleanly: %v", err)
			}
			t.Logf("%s: %d segments, EXTINF total %.3f s, video %.3f s in %d packets; %d blocking reloads",
				tc.transport, len(msns), sum, v.Duration, v.Packets, rec.blocking)
		})
	}
	t.Cleanup(func() { d.assertNoKeys(t, tcpIn.Key, udpIn.Key) })
}

// TestRTSPRejects: a wrong key is refused with 401 and a Motion JPEG
// publisher with 415 naming the codecs to use; the log names the peer and
// the reason, never a key, and the daemon goes on serving.
func TestRTSPRejects(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := newInput("rtsp-rejects")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}})
	run := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-t", "2"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("ffmpeg %v succeeded, want a refusal", args)
		}
		return string(out)
	}
	wrong := "sk" + randomHex(12)
	out := run("-c:v", "libx264", "-f", "rtsp", d.RTSPURL(wrong))
	if !strings.Contains(out, "401") {
		t.Errorf("wrong key: ffmpeg said %q, want 401", out)
	}
	out = run("-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-f", "rtsp", d.RTSPURL(in.Key))
	if !strings.Contains(out, "415") {
		t.Errorf("mjpeg: ffmpeg said %q, want 415", out)
	}
	logs := d.Output()
	for _, want := range []string{"reason=unknown_key", "reason=unsupported", "remote=127.0.0.1:"} {
		if !strings.Contains(logs, want) {
			t.Errorf("daemon log lacks %q", want)
		}
	}
	if !d.Alive() {
		t.Fatal("daemon died")
	}
	d.assertNoKeys(t, in.Key, wrong)
}

// TestRTSPBrowserPlayback plays an RTSP-published stream in hls.js in
// headless Chromium (test/browser/play.mjs).
func TestRTSPBrowserPlayback(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := newInput("rtsp-browser")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms"})
	pub := publish(ctx, t, d.RTSPURL(in.Key), publishOpts{Seconds: 30, Format: "rtsp", OutputArgs: []string{"-rtsp_transport", "tcp"}})
	waitLive(ctx, t, d, in.ID, 15*time.Second)
	const watch = 10
	mode := "daemon" // the daemon's player page with its embedded hls.js
	if f, err := get(ctx, d.URL("/static/hls.min.js")); err != nil || f.Status != 200 {
		mode = "repo" // a build without `make build`: web/player.html with node_modules' hls.js
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "play.mjs"),
		"--url", d.URL("/live/"+in.ID+"/"), "--seconds", "10", "--timeout", "60", "--page", mode, "--chromium", chromiumPath())
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, _ := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var r playResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("play.mjs output %q: %v\n%s", out, err, stderr.String())
	}
	if !r.OK || len(r.Errors) > 0 {
		t.Fatalf("playback failed: %v (console: %v)", r.Errors, r.Console)
	}
	t.Logf("play.mjs: %s", line)
	if adv := *r.CurrentTimeEnd - *r.CurrentTimeStart; adv < 0.8*watch {
		t.Errorf("currentTime advanced %.2f s in %d s of watching (machine load may starve Chromium)", adv, watch)
	}
	if pub.Exited() {
		t.Errorf("the publisher ended during playback: %v", pub.err)
	}
	if !strings.HasPrefix(r.Engine, "hls.js") {
		t.Errorf("engine %q, want hls.js", r.Engine)
	}
	if r.LatencyMs.P50 != nil {
		t.Logf("hls.js (%s): first frame %d ms, latency p50 %d ms p95 %d ms, %d stalls", r.Engine, *r.FirstFrameMs, *r.LatencyMs.P50, *r.LatencyMs.P95, r.Stalls)
	}
}

// TestRTSPPullCamera: a live input with a source pulls an RTSP camera (an
// in-process test camera fed by ffmpeg) into LL-HLS; the API reports the
// puller connected, with the camera password masked. The camera restarts
// mid-stream: the status goes to retrying with next_retry_at, the puller
// reconnects and the same playlist continues after an
// EXT-X-DISCONTINUITY. Wrong credentials give a retrying status naming
// 401, never the password.
func TestRTSPPullCamera(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const pass = "cam-Pa55-" + "x9"
	cam, err := rtsptest.Start("127.0.0.1:0", "admin", pass)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cam.Close() }()
	addr := cam.Addr()
	feed := func(c *rtsptest.Camera, secs float64) *publisher {
		return publish(ctx, t, c.PublishURL(), publishOpts{Seconds: secs, Format: "rtsp", OutputArgs: []string{"-rtsp_transport", "tcp"}})
	}
	feed(cam, 60)
	admin, extra := adminYAML()
	d := startDaemon(t, daemonConfig{ExtraYAML: extra, SegmentDuration: "1s", ReconnectWindow: "20s"})
	li := apiOK(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "camera",
		"source": map[string]any{"url": cam.URL("admin", pass), "transport": "tcp"}}, 201)
	id := li["id"].(string)
	if src := li["source"].(map[string]any); !strings.Contains(src["url"].(string), "admin:***@") {
		t.Errorf("source url %v is not masked", src["url"])
	}
	mediaURL, _ := waitLive(ctx, t, d, id, 20*time.Second)
	sourceState := func(id string) map[string]any {
		_, body := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id, nil)
		src, _ := data(body)["source"].(map[string]any)
		st, _ := src["status"].(map[string]any)
		return st
	}
	if st := sourceState(id); st["state"] != "connected" {
		t.Errorf("source status %v, want connected", st)
	}
	rec := newRecorder(ctx, t, mediaURL)
	waitFor(ctx, t, 15*time.Second, "3 segments before the restart", func() bool { return len(rec.poll(false).Segments) >= 3 })

	cam.Close() // the camera reboots
	var st map[string]any
	waitFor(ctx, t, 15*time.Second, "a retrying status", func() bool {
		st = sourceState(id)
		return st["state"] == "retrying" && st["next_retry_at"] != nil
	})
	t.Logf("while the camera is down: %v", st)
	time.Sleep(2 * time.Second)
	if cam, err = rtsptest.Start(addr, "admin", pass); err != nil {
		t.Fatalf("restart the camera: %v", err)
	}
	feed(cam, 60)
	waitFor(ctx, t, 40*time.Second, "connected again", func() bool { return sourceState(id)["state"] == "connected" })
	waitFor(ctx, t, 20*time.Second, "a discontinuity and 2 segments after it", func() bool {
		p := rec.poll(false)
		after := -1
		for _, s := range p.Segments {
			if s.Discontinuity {
				after = 0
			} else if after >= 0 {
				after++
			}
		}
		return after >= 2
	})
	if p := rec.poll(false); p.Endlist {
		t.Error("the playlist ended across the camera restart")
	}

	bad := apiOK(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "wrong password",
		"source": map[string]any{"url": cam.URL("admin", "not-"+pass), "transport": "tcp"}}, 201)
	badID := bad["id"].(string)
	waitFor(ctx, t, 15*time.Second, "a 401 status", func() bool {
		st = sourceState(badID)
		le, _ := st["last_error"].(string)
		return st["state"] == "retrying" && strings.Contains(le, "401")
	})
	t.Logf("wrong credentials: %v", st)
	d.assertNoKeys(t, pass, "not-"+pass)
}

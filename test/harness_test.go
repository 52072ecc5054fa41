// Package e2e holds MpegFlow's black-box end-to-end tests: they build the
// real mpegflow binary, start it on free loopback ports with a temporary
// config, publish with real ffmpeg, read what it serves over HTTP and play it
// in headless Chromium with hls.js.
//
// Run: make test, or go test ./test/ (add -run TestName to pick one; -short
// skips every end-to-end test and keeps the playlist-parser unit tests).
// Required tools: ffmpeg and ffprobe (Debian ffmpeg), for the browser test
// node with node_modules (npm ci) and /usr/bin/chromium. A missing tool skips
// the tests that need it, unless CI is set: then it fails them
// (scripts/deps.sh installs everything in CI).
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	repoRoot  string // the module root, parent of test/
	buildDir  string // holds the built binary
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildLog  []byte
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(wd)
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// inCI reports whether missing tools must fail tests instead of skipping them.
func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// requireTools skips (or under CI fails) t when a command is not available.
func requireTools(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s (run scripts/deps.sh, or apt-get install ffmpeg chromium and npm ci)", strings.Join(missing, ", "))
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// e2eTest marks t as an end-to-end test: skipped with -short, needs ffmpeg.
func e2eTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	requireTools(t, "ffmpeg", "ffprobe")
}

// buildBinary builds ./cmd/mpegflow once per test run and returns its path,
// or returns $E2E_MPEGFLOW_BIN when set (a binary built beforehand, e.g. to
// test a snapshot while the working tree is being edited).
func buildBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("E2E_MPEGFLOW_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mpegflow-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "mpegflow")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "./cmd/mpegflow")
		cmd.Dir = repoRoot
		buildLog, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/mpegflow: %v\n%s", buildErr, buildLog)
	}
	return binPath
}

// freeUDPPort returns a loopback UDP address with a port that was free a
// moment ago (SRT, WebRTC).
func freeUDPPort(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free udp port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// freeUDPPair returns a loopback UDP address with an even port that, with
// the next port, was free a moment ago (RTSP's RTP and RTCP ports).
func freeUDPPair(t testing.TB) string {
	t.Helper()
	for range 100 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free udp port: %v", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		a, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatal("no free udp port pair")
	return ""
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// liveInput is one entry of live_inputs.
type liveInput struct {
	ID, Key, Name string
	// SRTPassphrase, when set, is written as srt_passphrase (10-79 characters).
	SRTPassphrase string
}

func newInput(id string) liveInput {
	return liveInput{ID: id, Key: "sk" + randomHex(12), Name: "E2E " + id}
}

// daemonConfig is what a test chooses; everything else is filled in.
type daemonConfig struct {
	Inputs          []liveInput
	SegmentDuration string // default "1s"
	PartDuration    string // default "200ms"
	ReconnectWindow string // default "3s"
	OnDuplicate     string // default "reject"
	// HTTPAddress is http.address (host:port) for startDaemonAt; "" = a
	// free port. A daemon restarted on the same data keeps its URLs with it.
	HTTPAddress string
	// HTTPByEnv passes http.address as MPEGFLOW_HTTP_ADDRESS instead of in the file.
	HTTPByEnv bool
	// TrustedProxies is http.trusted_proxies (CIDRs whose X-Forwarded-For
	// and Forwarded are believed).
	TrustedProxies []string
	// GeoIPDatabase is geoip.database (a MaxMind .mmdb path).
	GeoIPDatabase string
	// AdmissionPlayURL, AdmissionPublishURL and AdmissionOnError (allow |
	// deny) are admission.play_url, .publish_url and .on_error.
	AdmissionPlayURL, AdmissionPublishURL, AdmissionOnError string
	// ExtraYAML is appended to the generated file as is: top-level
	// sections the harness does not write (api, webhooks...); not http,
	// rtmp, metrics, srt, webrtc, data_dir, hls, log, live_inputs, geoip
	// or admission, which the fields above cover.
	ExtraYAML string
	// Env are more MPEGFLOW_* variables (keys of sections the harness
	// writes, e.g. MPEGFLOW_RTSP_ON_DEMAND_IDLE_TIMEOUT=2s).
	Env []string

	rtsp, rtspUDP string // filled in by tryStartDaemon
}

// daemon is a running mpegflow serve.
type daemon struct {
	t                  testing.TB
	HTTP, RTMP, Metric string // host:port
	SRT, WebRTC        string // UDP host:port
	// RTSP is the RTSP (TCP) host:port; RTSPUDP the even UDP RTP port's
	// host:port (RTCP on the next port).
	RTSP, RTSPUDP string
	cfg           daemonConfig
	cmd           *exec.Cmd
	out           *syncBuffer
	done          chan struct{}
	waitErr       error
	stopOnce      sync.Once
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func q(s string) string { return fmt.Sprintf("%q", s) }

func (c daemonConfig) yaml(httpAddr, rtmpAddr, metricsAddr, srtAddr, webrtcAddr, dataDir string) string {
	var b strings.Builder
	if !c.HTTPByEnv || len(c.TrustedProxies) > 0 {
		b.WriteString("http:\n")
		if !c.HTTPByEnv {
			fmt.Fprintf(&b, "  address: %s\n", q(httpAddr))
		}
		if len(c.TrustedProxies) > 0 {
			b.WriteString("  trusted_proxies:\n")
			for _, p := range c.TrustedProxies {
				fmt.Fprintf(&b, "    - %s\n", q(p))
			}
		}
	}
	fmt.Fprintf(&b, "rtmp:\n  address: %s\n  reconnect_window: %s\n  on_duplicate: %s\n", q(rtmpAddr), q(c.ReconnectWindow), q(c.OnDuplicate))
	fmt.Fprintf(&b, "metrics:\n  address: %s\n", q(metricsAddr))
	fmt.Fprintf(&b, "srt:\n  address: %s\n", q(srtAddr))
	fmt.Fprintf(&b, "webrtc:\n  udp_address: %s\n", q(webrtcAddr))
	if c.rtsp != "" {
		host, port, _ := net.SplitHostPort(c.rtspUDP)
		p, _ := strconv.Atoi(port)
		fmt.Fprintf(&b, "rtsp:\n  address: %s\n  udp_rtp_address: %s\n  udp_rtcp_address: %s\n",
			q(c.rtsp), q(c.rtspUDP), q(net.JoinHostPort(host, strconv.Itoa(p+1))))
	} else {
		// no ports chosen (startDaemonAt): RTSP off rather than the fixed defaults
		b.WriteString("rtsp:\n  address: \"\"\n  udp_rtp_address: \"\"\n  udp_rtcp_address: \"\"\n")
	}
	fmt.Fprintf(&b, "data_dir: %s\n", q(dataDir))
	fmt.Fprintf(&b, "hls:\n  segment_duration: %s\n  part_duration: %s\n", q(c.SegmentDuration), q(c.PartDuration))
	b.WriteString("log:\n  format: text\n  level: debug\n")
	b.WriteString("live_inputs:\n")
	for _, in := range c.Inputs {
		fmt.Fprintf(&b, "  - id: %s\n    stream_key: %s\n    name: %s\n", q(in.ID), q(in.Key), q(in.Name))
		if in.SRTPassphrase != "" {
			fmt.Fprintf(&b, "    srt_passphrase: %s\n", q(in.SRTPassphrase))
		}
	}
	if c.GeoIPDatabase != "" {
		fmt.Fprintf(&b, "geoip:\n  database: %s\n", q(c.GeoIPDatabase))
	}
	if c.AdmissionPlayURL != "" || c.AdmissionPublishURL != "" || c.AdmissionOnError != "" {
		b.WriteString("admission:\n")
		for _, kv := range [][2]string{{"play_url", c.AdmissionPlayURL}, {"publish_url", c.AdmissionPublishURL}, {"on_error", c.AdmissionOnError}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "  %s: %s\n", kv[0], q(kv[1]))
			}
		}
	}
	if c.ExtraYAML != "" {
		b.WriteString(strings.TrimSuffix(c.ExtraYAML, "\n") + "\n")
	}
	return b.String()
}

// startDaemon starts mpegflow serve and waits for /readyz. It is stopped
// (SIGTERM, must exit cleanly within 10 s) when the test ends; its output is
// logged when the test failed.
func startDaemon(t *testing.T, cfg daemonConfig) *daemon {
	t.Helper()
	bin := buildBinary(t)
	if cfg.SegmentDuration == "" {
		cfg.SegmentDuration = "1s"
	}
	if cfg.PartDuration == "" {
		cfg.PartDuration = "200ms"
	}
	if cfg.ReconnectWindow == "" {
		cfg.ReconnectWindow = "3s"
	}
	if cfg.OnDuplicate == "" {
		cfg.OnDuplicate = "reject"
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		d, err := tryStartDaemon(t, bin, cfg)
		if err == nil {
			return d
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start daemon: %v", lastErr)
	return nil
}

func tryStartDaemon(t *testing.T, bin string, cfg daemonConfig) (*daemon, error) {
	dir := t.TempDir()
	d := &daemon{t: t, cfg: cfg, HTTP: freePort(t), RTMP: freePort(t), Metric: freePort(t), SRT: freeUDPPort(t), WebRTC: freeUDPPort(t), out: &syncBuffer{}, done: make(chan struct{})}
	d.RTSP, d.RTSPUDP = freePort(t), freeUDPPair(t)
	cfg.rtsp, cfg.rtspUDP = d.RTSP, d.RTSPUDP
	cfgPath := filepath.Join(dir, "mpegflow.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.yaml(d.HTTP, d.RTMP, d.Metric, d.SRT, d.WebRTC, filepath.Join(dir, "data"))), 0o600); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	d.cmd.Dir = dir
	d.cmd.Stdout = d.out
	d.cmd.Stderr = d.out
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MPEGFLOW_") {
			env = append(env, kv)
		}
	}
	if cfg.HTTPByEnv {
		env = append(env, "MPEGFLOW_HTTP_ADDRESS="+d.HTTP)
	}
	d.cmd.Env = append(env, cfg.Env...)
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-d.done:
			return nil, fmt.Errorf("mpegflow exited during start-up (%v); output:\n%s", d.waitErr, d.out.String())
		default:
		}
		if resp, err := http.Get(d.URL("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			<-d.done
			return nil, fmt.Errorf("GET /readyz never answered 200 within 20 s; output:\n%s", d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			out := d.out.String()
			if len(out) > 256<<10 {
				out = "...\n" + out[len(out)-256<<10:]
			}
			t.Logf("mpegflow output (http %s rtmp %s metrics %s):\n%s", d.HTTP, d.RTMP, d.Metric, out)
		}
	})
	return d, nil
}

// Stop sends SIGTERM and asserts that the daemon exits cleanly within 10 s.
func (d *daemon) Stop() {
	d.stopOnce.Do(func() {
		select {
		case <-d.done:
			d.t.Errorf("mpegflow had already exited: %v", d.waitErr)
			return
		default:
		}
		start := time.Now()
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
			if d.waitErr != nil {
				d.t.Errorf("mpegflow exited with %v after SIGTERM", d.waitErr)
			}
			d.t.Logf("mpegflow stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			// SIGQUIT makes the Go runtime print every goroutine's stack
			// into the captured output: the log shows where it hangs.
			d.t.Errorf("mpegflow did not exit within 10 s of SIGTERM; sent SIGQUIT for a goroutine dump (in the output below)")
			d.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-d.done:
			case <-time.After(3 * time.Second):
				d.cmd.Process.Kill()
				<-d.done
			}
		}
	})
}

// Alive reports whether the process is still running.
func (d *daemon) Alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Output returns everything the daemon printed so far.
func (d *daemon) Output() string { return d.out.String() }

// URL returns an http URL on the daemon's HTTP listener.
func (d *daemon) URL(path string) string { return "http://" + d.HTTP + path }

// RTMPURL returns the publish URL for a stream key.
func (d *daemon) RTMPURL(key string) string { return "rtmp://" + d.RTMP + "/live/" + key }

// RTSPURL is the RTSP publish URL of key on the daemon.
func (d *daemon) RTSPURL(key string) string { return "rtsp://" + d.RTSP + "/live/" + key }

// SRTURL returns an SRT caller URL for the daemon's SRT listener (or addr,
// when not empty, e.g. a relay in front of it) with the given stream id and
// passphrase (omitted when empty), as ffmpeg's libsrt takes it.
func (d *daemon) SRTURL(addr, streamID, passphrase string) string {
	if addr == "" {
		addr = d.SRT
	}
	v := url.Values{}
	v.Set("streamid", streamID)
	if passphrase != "" {
		v.Set("passphrase", passphrase)
		v.Set("pbkeylen", "16")
	}
	return "srt://" + addr + "?" + v.Encode()
}

// PlaylistURL returns the multivariant playlist URL of a live input.
func (d *daemon) PlaylistURL(id string) string { return d.URL("/live/" + id + "/index.m3u8") }

// assertNoKeys fails t if any stream key shows in the daemon's output.
func (d *daemon) assertNoKeys(t *testing.T, keys ...string) {
	t.Helper()
	out := d.Output()
	for _, k := range keys {
		if i := strings.Index(out, k); i >= 0 {
			lo, hi := max(0, strings.LastIndexByte(out[:i], '\n')+1), len(out)
			if j := strings.IndexByte(out[i:], '\n'); j >= 0 {
				hi = i + j
			}
			t.Errorf("stream key %q appears in the daemon's log: %s", k, out[lo:hi])
		}
	}
}

// httpClient is used for every request; blocking reloads take up to 3 target durations.
var httpClient = &http.Client{Timeout: 20 * time.Second}

type fetched struct {
	Status  int
	Body    []byte
	Header  http.Header
	Elapsed time.Duration
}

func get(ctx context.Context, u string) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetched{}, err
	}
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return fetched{Status: resp.StatusCode, Body: body, Header: resp.Header, Elapsed: time.Since(start)}, err
}

// getPlaylist fetches and parses a playlist, failing t on any error.
func getPlaylist(ctx context.Context, t *testing.T, u string) *playlist {
	t.Helper()
	f, err := get(ctx, u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if f.Status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %.200s", u, f.Status, f.Body)
	}
	if ct := f.Header.Get("Content-Type"); !strings.Contains(strings.ToLower(ct), "mpegurl") {
		t.Errorf("GET %s: Content-Type %q, want application/vnd.apple.mpegurl", u, ct)
	}
	p, err := parsePlaylist(string(f.Body))
	if err != nil {
		t.Fatalf("GET %s: unparsable playlist: %v\n%s", u, err, f.Body)
	}
	return p
}

// waitFor polls cond every 200 ms until it returns true or timeout passes.
func waitFor(ctx context.Context, t *testing.T, timeout time.Duration, what string, cond func() bool) {
	const interval = 200 * time.Millisecond
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// waitLive waits until the multivariant playlist of id answers 200 and
// returns the URL of its first media playlist.
func waitLive(ctx context.Context, t *testing.T, d *daemon, id string, timeout time.Duration) (mediaURL string, multi *playlist) {
	t.Helper()
	u := d.PlaylistURL(id)
	waitFor(ctx, t, timeout, "GET "+u+" to answer 200", func() bool {
		if !d.Alive() {
			t.Fatalf("mpegflow exited: %v", d.waitErr)
		}
		f, err := get(ctx, u)
		return err == nil && f.Status == http.StatusOK
	})
	multi = getPlaylist(ctx, t, u)
	if !multi.Multi || len(multi.Variants) == 0 {
		t.Fatalf("GET %s: not a multivariant playlist:\n%s", u, multi.Raw)
	}
	mediaURL = resolve(u, multi.Variants[0].URI)
	// Wait until the media playlist lists a complete segment.
	waitFor(ctx, t, timeout, "a complete segment in "+mediaURL, func() bool {
		f, err := get(ctx, mediaURL)
		if err != nil || f.Status != http.StatusOK {
			return false
		}
		p, err := parsePlaylist(string(f.Body))
		return err == nil && len(p.Segments) > 0
	})
	return mediaURL, multi
}

// publisher is a running ffmpeg publishing to RTMP.
type publisher struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
	start  time.Time
	ended  time.Time
}

// publishOpts shapes the ffmpeg publisher.
type publishOpts struct {
	Seconds float64 // -t
	NoAudio bool
	// Format is the output muxer: "flv" (default, RTMP), "mpegts" (SRT)
	// or "rtsp".
	Format string
	// NoBFrames encodes without B-frames (-bf 0), as WebRTC playback needs.
	NoBFrames bool
	// OutputArgs go right before the URL (e.g. -rtsp_transport tcp).
	OutputArgs []string
	// GOP is the key frame interval in frames (-g); default 30 (1 s).
	GOP int
}

// publish starts ffmpeg publishing a 640x360 30 fps test pattern with a 440 Hz
// tone (H.264 with B-frames, GOP 1 s, AAC) in real time to url.
func publish(ctx context.Context, t *testing.T, url string, o publishOpts) *publisher {
	t.Helper()
	if o.Seconds == 0 {
		o.Seconds = 10
	}
	secs := fmt.Sprintf("%g", o.Seconds)
	bframes := "2"
	if o.NoBFrames {
		bframes = "0"
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"}
	if !o.NoAudio {
		args = append(args, "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	gop := "30"
	if o.GOP > 0 {
		gop = strconv.Itoa(o.GOP)
	}
	args = append(args, "-t", secs,
		"-c:v", "libx264", "-preset", "veryfast", "-bf", bframes, "-g", gop, "-pix_fmt", "yuv420p")
	if !o.NoAudio {
		args = append(args, "-c:a", "aac", "-b:a", "96k")
	}
	if o.Format == "" {
		o.Format = "flv"
	}
	args = append(args, "-f", o.Format)
	args = append(args, o.OutputArgs...)
	args = append(args, url)
	p := &publisher{stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, "ffmpeg", args...)
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.ended = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() && p.stderr.String() != "" {
			t.Logf("ffmpeg publisher stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// Wait waits up to timeout for ffmpeg to exit and returns whether it did
// and its exit error.
func (p *publisher) Wait(timeout time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Exited reports whether ffmpeg has exited.
func (p *publisher) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ffprobeStream returns the first stream of the given type ("v" or "a") of
// file: codec_name, width, height, and the duration in seconds computed from
// its packets (first pts to last pts + duration), which works for
// concatenated fragmented MP4.
type probed struct {
	Codec         string
	Width, Height int
	Duration      float64
	Packets       int
}

func ffprobe(ctx context.Context, t *testing.T, file, sel string) probed {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", sel+":0",
		"-show_entries", "stream=codec_name,width,height", "-of", "default=nw=1", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", file, err, out)
	}
	var p probed
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), "=")
		switch k {
		case "codec_name":
			p.Codec = v
		case "width":
			fmt.Sscan(v, &p.Width)
		case "height":
			fmt.Sscan(v, &p.Height)
		}
	}
	out, err = exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", sel+":0",
		"-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe packets %s: %v\n%.2000s", file, err, out)
	}
	first, last := -1.0, -1.0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var pts, dur float64
		f := strings.Split(l, ",")
		if len(f) < 1 {
			continue
		}
		if _, err := fmt.Sscan(f[0], &pts); err != nil {
			continue
		}
		if len(f) > 1 {
			fmt.Sscan(f[1], &dur)
		}
		p.Packets++
		if first < 0 || pts < first {
			first = pts
		}
		if pts+dur > last {
			last = pts + dur
		}
	}
	if p.Packets > 0 {
		p.Duration = last - first
	}
	return p
}

// ffmpegDecodes runs ffmpeg -i file -f null - and returns the decode errors
// it reports. The null muxer keeps a 1/90000 s video time base instead of
// 1/frame rate: RTMP carries millisecond timestamps, so frames sit up to
// 1 ms off the 1/30 s grid, and when a file's first video frame falls half
// a frame after its first audio sample (a clip starts wherever its key
// frame is), rounding to 1/30 s gives two frames one tick and ffmpeg
// reports "non monotonically increasing dts to muxer", which is no decode
// error. Decoding errors are still reported.
func ffmpegDecodes(ctx context.Context, file string) error {
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-nostdin", "-i", file, "-enc_time_base:v", "1:90000", "-f", "null", "-").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return errors.New(s)
	}
	return nil
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

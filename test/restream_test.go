package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// restreamPrivateYAML lets the source daemon push to targets on loopback.
const restreamPrivateYAML = "restream:\n  allow_private_targets: true\n"

// restartDaemon starts d's binary again on d's configuration file, so on
// the same addresses and data directory (a target that comes back).
func restartDaemon(t *testing.T, d *daemon) *daemon {
	t.Helper()
	n := &daemon{t: t, cfg: d.cfg, HTTP: d.HTTP, RTMP: d.RTMP, Metric: d.Metric, SRT: d.SRT, WebRTC: d.WebRTC, out: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(d.cmd.Path, d.cmd.Args[1:]...)
	n.cmd.Dir, n.cmd.Env = d.cmd.Dir, d.cmd.Env
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.waitErr = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("restarted target output:\n%s", n.Output())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !n.Alive() {
			t.Fatalf("restarted daemon exited: %v\n%s", n.waitErr, n.Output())
		}
		if r, err := http.Get(n.URL("/readyz")); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted daemon never ready:\n%s", n.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// selfSignedPEM writes a certificate for 127.0.0.1 and its key.
func selfSignedPEM(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "restream e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	certFile = writeFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile = writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
	return certFile, keyFile
}

// outputState returns the output's status object.
func outputState(t *testing.T, d *daemon, admin, li, id string) map[string]any {
	t.Helper()
	o := apiOK(t, d, admin, "GET", "/v1/live_inputs/"+li+"/outputs/"+id, nil, 200)
	st, _ := o["status"].(map[string]any)
	return st
}

func waitOutput(ctx context.Context, t *testing.T, d *daemon, admin, li, id, state string, timeout time.Duration) map[string]any {
	t.Helper()
	var st map[string]any
	waitFor(ctx, t, timeout, "output "+id+" "+state, func() bool {
		st = outputState(t, d, admin, li, id)
		return st["state"] == state
	})
	return st
}

// checkTargetHLS waits for the target input's HLS, decodes its latest
// segment with ffprobe and ffmpeg, and returns the segment's
// PROGRAM-DATE-TIME. src, when set, is called as soon as the segment is
// read, before the decoding, which takes seconds on a loaded machine.
func checkTargetHLS(ctx context.Context, t *testing.T, d *daemon, id string, src func()) time.Time {
	t.Helper()
	mediaURL, _ := waitLive(ctx, t, d, id, 60*time.Second)
	file, pdt := latestSegmentFile(ctx, t, mediaURL, id)
	if src != nil {
		src()
	}
	v := ffprobe(ctx, t, file, "v")
	a := ffprobe(ctx, t, file, "a")
	if v.Codec != "h264" || v.Width != 640 || a.Codec != "aac" {
		t.Fatalf("target %s: video %+v audio %+v", id, v, a)
	}
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Fatalf("target %s does not decode: %v", id, err)
	}
	return pdt
}

// latestSegmentFile writes the newest segment of a media playlist, after
// its initialization section, to a file; it returns the file and the
// segment's PROGRAM-DATE-TIME.
func latestSegmentFile(ctx context.Context, t *testing.T, mediaURL, name string) (string, time.Time) {
	t.Helper()
	p := getPlaylist(ctx, t, mediaURL)
	seg := p.Segments[len(p.Segments)-1]
	var data []byte
	for _, u := range []string{seg.Map, seg.URI} {
		if u == "" {
			continue
		}
		f, err := get(ctx, resolve(mediaURL, u))
		if err != nil || f.Status != 200 {
			t.Fatalf("GET %s: %v %d", u, err, f.Status)
		}
		data = append(data, f.Body...)
	}
	return writeFile(t, name+".mp4", data), seg.PDT
}

// latestPDT is the PROGRAM-DATE-TIME of the newest segment of a live input.
func latestPDT(ctx context.Context, t *testing.T, d *daemon, id string) time.Time {
	t.Helper()
	mediaURL, _ := waitLive(ctx, t, d, id, 30*time.Second)
	p := getPlaylist(ctx, t, mediaURL)
	return p.Segments[len(p.Segments)-1].PDT
}

// TestRestreamOutputs: a live input on one daemon pushes to a second
// daemon over RTMP, SRT with a passphrase and RTMPS with a self-signed
// certificate the source trusts; each target's HLS decodes and its
// PROGRAM-DATE-TIME follows the source's; a wrong key ends errored with
// the reason; the target stopped → retrying with last_error and
// next_retry_at, back → broadcasting; outputs added and removed while
// live leave the others alone.
func TestRestreamOutputs(t *testing.T) {
	e2eTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	certFile, keyFile := selfSignedPEM(t)
	t.Setenv("SSL_CERT_FILE", certFile) // the source daemon trusts the target's certificate
	tgRTMP, tgSRT, tgTLS, tgLive := newInput("tg_rtmp"), newInput("tg_srt"), newInput("tg_tls"), newInput("tg_live")
	tgSRT.SRTPassphrase = "restream-pass-" + randomHex(4)
	rtmpsAddr := freePort(t)
	tg := startDaemon(t, daemonConfig{Inputs: []liveInput{tgRTMP, tgSRT, tgTLS, tgLive},
		ExtraYAML: fmt.Sprintf("rtmps:\n  address: %s\n  cert_file: %s\n  key_file: %s\n", q(rtmpsAddr), q(certFile), q(keyFile))})

	admin, adminY := adminYAML()
	src := newInput("src")
	sd := startDaemon(t, daemonConfig{Inputs: []liveInput{src}, ExtraYAML: adminY + restreamPrivateYAML})
	events := openEvents(ctx, t, sd, admin)

	base := "/v1/live_inputs/" + src.ID + "/outputs"
	mk := func(body map[string]any) string {
		return apiOK(t, sd, admin, "POST", base, body, 201)["id"].(string)
	}
	outRTMP := mk(map[string]any{"name": "rtmp", "url": "rtmp://" + tg.RTMP + "/live", "stream_key": tgRTMP.Key})
	outSRT := mk(map[string]any{"name": "srt", "url": tg.SRTURL("", "publish:"+tgSRT.Key, tgSRT.SRTPassphrase)})
	outTLS := mk(map[string]any{"name": "rtmps", "url": "rtmps://" + rtmpsAddr + "/live", "stream_key": tgTLS.Key})
	outBad := mk(map[string]any{"name": "bad", "url": "rtmp://" + tg.RTMP + "/live", "stream_key": "wrong-" + randomHex(8)})

	publish(ctx, t, sd.RTMPURL(src.Key), publishOpts{Seconds: 240})
	for _, id := range []string{outRTMP, outSRT, outTLS} {
		waitOutput(ctx, t, sd, admin, src.ID, id, "broadcasting", 60*time.Second)
	}
	bad := waitOutput(ctx, t, sd, admin, src.ID, outBad, "errored", 60*time.Second)
	le, _ := bad["last_error"].(map[string]any)
	if le["code"] != "refused" || !strings.Contains(fmt.Sprint(le["message"]), "NetStream.Publish") {
		t.Fatalf("wrong key: last_error %v", le)
	}
	// the WebSocket got both kinds, each about its output
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for !seen["live_input.output.connected"] || !seen["live_input.output.errored"] {
		select {
		case ev := <-events.ch:
			d, _ := ev["data"].(map[string]any)
			typ, _ := ev["type"].(string)
			if typ == "live_input.output.errored" && d["id"] != outBad {
				t.Fatalf("errored event about %v", d["id"])
			}
			seen[typ] = true
		case <-deadline:
			t.Fatalf("output events seen: %v", seen)
		}
	}

	for _, in := range []liveInput{tgRTMP, tgSRT, tgTLS} {
		var srcPDT time.Time
		pdt := checkTargetHLS(ctx, t, tg, in.ID, func() { srcPDT = latestPDT(ctx, t, sd, src.ID) })
		if d := pdt.Sub(srcPDT); math.Abs(d.Seconds()) > 4 {
			t.Errorf("target %s PROGRAM-DATE-TIME %v is %v off the source's %v", in.ID, pdt, d, srcPDT)
		}
	}

	// Live edits: add an output, then remove it; the others keep their
	// connection, and the source's own playlist runs on without a gap.
	srcMedia, _ := waitLive(ctx, t, sd, src.ID, 30*time.Second)
	msnBefore := getPlaylist(ctx, t, srcMedia).Segments
	before := outputState(t, sd, admin, src.ID, outRTMP)["connected_at"]
	outLive := mk(map[string]any{"name": "added live", "url": "rtmp://" + tg.RTMP + "/live", "stream_key": tgLive.Key})
	waitOutput(ctx, t, sd, admin, src.ID, outLive, "broadcasting", 60*time.Second)
	waitLive(ctx, t, tg, tgLive.ID, 60*time.Second)
	apiOK(t, sd, admin, "DELETE", base+"/"+outLive, nil, 204)
	if st, _ := apiCall(t, sd, admin, "GET", base+"/"+outLive, nil); st != 404 {
		t.Fatalf("deleted output: HTTP %d", st)
	}
	apiOK(t, sd, admin, "PATCH", base+"/"+outSRT, map[string]any{"enabled": false}, 200)
	waitOutput(ctx, t, sd, admin, src.ID, outSRT, "disabled", 10*time.Second)
	apiOK(t, sd, admin, "PATCH", base+"/"+outSRT, map[string]any{"enabled": true}, 200)
	waitOutput(ctx, t, sd, admin, src.ID, outSRT, "broadcasting", 60*time.Second)
	if after := outputState(t, sd, admin, src.ID, outRTMP); after["connected_at"] != before || after["state"] != "broadcasting" {
		t.Fatalf("the RTMP output was disturbed by edits of others: %v → %v", before, after)
	}
	for _, seg := range getPlaylist(ctx, t, srcMedia).Segments {
		if seg.MSN > msnBefore[len(msnBefore)-1].MSN && (seg.Discontinuity || seg.Gap) {
			t.Fatalf("the source's playlist has a discontinuity or gap at %d during the edits", seg.MSN)
		}
	}

	// The target goes away: retrying with the reason and the next try;
	// it comes back: broadcasting again.
	tg.Stop()
	st := waitOutput(ctx, t, sd, admin, src.ID, outRTMP, "retrying", 60*time.Second)
	if st["last_error"] == nil || st["next_retry_at"] == nil {
		t.Fatalf("retrying without last_error/next_retry_at: %v", st)
	}
	t.Logf("target stopped: %v", st["last_error"])
	time.Sleep(3 * time.Second)
	tg2 := restartDaemon(t, tg)
	back := time.Now()
	waitOutput(ctx, t, sd, admin, src.ID, outRTMP, "broadcasting", 60*time.Second)
	t.Logf("figure: RTMP output broadcasting again %v after the target was ready", time.Since(back).Round(time.Millisecond))
	waitOutput(ctx, t, sd, admin, src.ID, outSRT, "broadcasting", 60*time.Second)
	checkTargetHLS(ctx, t, tg2, tgRTMP.ID, nil)

	sd.assertNoKeys(t, tgRTMP.Key, tgSRT.Key, tgTLS.Key, tgSRT.SRTPassphrase)
}

// procStat returns a process's CPU time and resident set size.
func procStat(t *testing.T, pid int) (time.Duration, int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, rss * int64(os.Getpagesize())
}

// TestRestreamTwentyOutputs pushes one 2.5 Mb/s live input to 20 outputs,
// all broadcasting; with RESTREAM_FIGURES=1 it reports the source daemon's
// CPU and RSS with and without them.
func TestRestreamTwentyOutputs(t *testing.T) {
	e2eTest(t)
	figures := os.Getenv("RESTREAM_FIGURES") != ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 20
	var targets []liveInput
	for i := range n {
		targets = append(targets, newInput(fmt.Sprintf("tg%02d", i)))
	}
	tg := startDaemon(t, daemonConfig{Inputs: targets})
	admin, adminY := adminYAML()
	src := newInput("src")
	sd := startDaemon(t, daemonConfig{Inputs: []liveInput{src}, ExtraYAML: adminY + restreamPrivateYAML})
	pub := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "200",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2400k", "-maxrate", "2400k", "-bufsize", "2400k", "-g", "30",
		"-c:a", "aac", "-b:a", "96k", "-f", "flv", sd.RTMPURL(src.Key))
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pub.Process.Kill(); _ = pub.Wait() }()
	waitLive(ctx, t, sd, src.ID, 60*time.Second)
	measure := func() (float64, int64) {
		if !figures {
			return 0, 0
		}
		c0, _ := procStat(t, sd.cmd.Process.Pid)
		time.Sleep(15 * time.Second)
		c1, rss := procStat(t, sd.cmd.Process.Pid)
		return float64(c1-c0) / float64(15*time.Second) * 100, rss
	}
	cpu0, rss0 := measure()
	var ids []string
	for _, in := range targets {
		ids = append(ids, apiOK(t, sd, admin, "POST", "/v1/live_inputs/"+src.ID+"/outputs", map[string]any{"url": "rtmp://" + tg.RTMP + "/live", "stream_key": in.Key}, 201)["id"].(string))
	}
	for _, id := range ids {
		waitOutput(ctx, t, sd, admin, src.ID, id, "broadcasting", 90*time.Second)
	}
	if !figures {
		return
	}
	time.Sleep(3 * time.Second)
	cpu1, rss1 := measure()
	var kbps float64
	for _, id := range ids {
		if b, ok := outputState(t, sd, admin, src.ID, id)["bitrate"].(float64); ok {
			kbps += b / 1000
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("figure: source daemon without outputs: %.1f %% of a core, RSS %d MiB", cpu0, rss0>>20)
	t.Logf("figure: with %d RTMP outputs (%.0f kb/s each): %.1f %% of a core (+%.2f %% per output), RSS %d MiB (+%.1f MiB per output); load %s",
		n, kbps/n, cpu1, (cpu1-cpu0)/n, rss1>>20, float64(rss1-rss0)/float64(n)/(1<<20), strings.TrimSpace(string(load)))
}

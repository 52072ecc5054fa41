package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/srt/srttest"
)

// followWhileLive polls the media playlist with blocking reloads (and now
// and then a preload hint) until pub exits, checking the LL-HLS rules on
// every version through rec.
func followWhileLive(ctx context.Context, t *testing.T, rec *recorder, exited func() bool) {
	t.Helper()
	p := rec.poll(true)
	for i := 0; !exited(); i++ {
		if ctx.Err() != nil {
			t.Fatal("publisher did not finish in time")
		}
		if i%5 == 2 {
			rec.checkPreloadHint(p)
		}
		rec.checkBlockingReload(p)
		if exited() {
			break
		}
		p = rec.poll(true)
	}
}

// checkContiguous fails t when the recorded segments have gaps and returns
// their MSNs and the sum of their EXTINF durations.
func checkContiguous(t *testing.T, rec *recorder) ([]int, float64) {
	t.Helper()
	msns := rec.msns()
	if len(msns) == 0 {
		t.Fatal("no segments recorded")
	}
	for i := 1; i < len(msns); i++ {
		if msns[i] != msns[i-1]+1 {
			t.Errorf("segments %d..%d missing (sliding window moved faster than the playlist was read?)", msns[i-1]+1, msns[i]-1)
		}
	}
	sum := 0.0
	for _, m := range msns {
		sum += rec.segDur[m]
	}
	return msns, sum
}

// metricLines returns the lines of /metrics whose metric name starts with
// one of prefixes (comments left out).
func metricLines(ctx context.Context, d *daemon, prefixes ...string) []string {
	f, err := get(ctx, "http://"+d.Metric+"/metrics")
	if err != nil || f.Status != http.StatusOK {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(f.Body))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// TestSRTToLLHLS publishes H.264 (B-frames) + AAC in MPEG-TS over SRT with
// an encrypted caller connection and streamid=publish:KEY, follows the
// LL-HLS output with every rule checked, and probes the whole broadcast.
func TestSRTToLLHLS(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	in := newInput("srt-studio")
	in.SRTPassphrase = "pp" + randomHex(10) // 22 characters
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms", ReconnectWindow: "3s"})
	const published = 8.0
	pub := publish(ctx, t, d.SRTURL("", "publish:"+in.Key, in.SRTPassphrase), publishOpts{Seconds: published, Format: "mpegts"})

	mediaURL, multi := waitLive(ctx, t, d, in.ID, 15*time.Second)
	t.Logf("multivariant playlist:\n%s", multi.Raw)
	for _, v := range checkMultivariant(multi) {
		t.Errorf("multivariant: %s", v)
	}
	vr := multi.Variants[0]
	if c := vr.Attrs["CODECS"]; !strings.Contains(c, "avc1.") || !strings.Contains(c, "mp4a.40.2") {
		t.Errorf("multivariant CODECS=%q, want avc1.* and mp4a.40.2", c)
	}
	if res := vr.Attrs["RESOLUTION"]; res != "640x360" {
		t.Errorf("multivariant RESOLUTION=%q, want 640x360", res)
	}

	rec := newRecorder(ctx, t, mediaURL)
	rec.bodies = append(rec.bodies, multi.Raw)
	followWhileLive(ctx, t, rec, pub.Exited)
	if pub.err != nil {
		t.Errorf("ffmpeg SRT publisher failed: %v\n%s", pub.err, pub.stderr.String())
	}
	if rec.blocking < 8 {
		t.Errorf("only %d blocking reloads completed while live", rec.blocking)
	}
	if rec.hints == 0 {
		t.Error("no preload hint could be fetched while live")
	}
	t.Logf("publisher ran %v; %d blocking reloads and %d preload hints checked", pub.ended.Sub(pub.start).Round(time.Millisecond), rec.blocking, rec.hints)

	var final *playlist
	waitFor(ctx, t, 3*time.Second+15*time.Second, "EXT-X-ENDLIST after the SRT publisher stopped and the 3 s reconnect window passed", func() bool {
		final = rec.poll(false)
		return final.Endlist
	})
	t.Logf("EXT-X-ENDLIST %v after the publisher stopped", time.Since(pub.ended).Round(100*time.Millisecond))
	if len(final.Hints) > 0 {
		t.Errorf("ended playlist has EXT-X-PRELOAD-HINT")
	}

	msns, sum := checkContiguous(t, rec)
	t.Logf("%d segments (MSN %d..%d), EXTINF total %.3f s", len(msns), msns[0], msns[len(msns)-1], sum)
	file := rec.concat(t, "srt.mp4", msns)
	v := ffprobe(ctx, t, file, "v")
	if v.Codec != "h264" || v.Width != 640 || v.Height != 360 {
		t.Errorf("ffprobe video: %s %dx%d, want h264 640x360", v.Codec, v.Width, v.Height)
	}
	if math.Abs(v.Duration-published) > 0.1*published {
		t.Errorf("ffprobe video duration %.3f s, want %.1f s ± 10%%", v.Duration, published)
	}
	if math.Abs(sum-published) > 0.1*published {
		t.Errorf("EXTINF durations add up to %.3f s, want %.1f s ± 10%%", sum, published)
	}
	a := ffprobe(ctx, t, file, "a")
	if a.Codec != "aac" {
		t.Errorf("ffprobe audio codec %q, want aac", a.Codec)
	}
	t.Logf("ffprobe: video %s %dx%d %.3f s in %d packets; audio %q %.3f s", v.Codec, v.Width, v.Height, v.Duration, v.Packets, a.Codec, a.Duration)
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Errorf("ffmpeg cannot decode the concatenated stream cleanly: %v", err)
	}
	if !strings.Contains(d.Output(), "srt publish accepted") || !strings.Contains(d.Output(), "encrypted=true") {
		t.Errorf("the daemon's log has no `srt publish accepted ... encrypted=true` line")
	}
	t.Logf("metrics: %s", strings.Join(metricLines(ctx, d, "mpegflow_srt_", "mpegflow_ingest_ts_errors_total"), "; "))

	for _, b := range rec.bodies {
		if strings.Contains(b, in.Key) || strings.Contains(b, url.QueryEscape(in.Key)) || strings.Contains(b, in.SRTPassphrase) {
			t.Errorf("the stream key or passphrase appears in a playlist:\n%s", b)
			break
		}
	}
	d.assertNoKeys(t, in.Key, in.SRTPassphrase)
}

// TestSRTRejects covers the stream id and passphrase checks of the SRT
// handshake: the Access Control form `#!::r=KEY,m=publish` is accepted on
// an input without a passphrase; a wrong passphrase, a missing passphrase
// and an unknown key are refused (ffmpeg fails, no stream), and the log
// names the peer but never a key or passphrase.
func TestSRTRejects(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	locked := newInput("srt-locked")
	locked.SRTPassphrase = "pp" + randomHex(10)
	open := newInput("srt-open")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{locked, open}, ReconnectWindow: "2s"})

	// Accepted first, before any failure makes the daemon throttle 127.0.0.1.
	pub := publish(ctx, t, d.SRTURL("", "#!::r="+open.Key+",m=publish", ""), publishOpts{Seconds: 5, Format: "mpegts"})
	waitLive(ctx, t, d, open.ID, 15*time.Second)
	if exited, err := pub.Wait(15 * time.Second); !exited || err != nil {
		t.Errorf("publisher with streamid #!::r=KEY,m=publish: exited %v, err %v\n%s", exited, err, pub.stderr.String())
	}

	badKey := "sk" + randomHex(12)
	wrongPass := "wrong" + randomHex(8)
	cases := []struct {
		name, streamID, pass string
	}{
		{"wrong passphrase", "publish:" + locked.Key, wrongPass},
		{"no passphrase on an input that requires one", "publish:" + locked.Key, ""},
		{"unknown key", "publish:" + badKey, ""},
		{"unknown key, bare", badKey, locked.SRTPassphrase},
		{"read mode", "#!::r=" + locked.Key + ",m=request", locked.SRTPassphrase},
	}
	for _, c := range cases {
		before := strings.Count(d.Output(), "srt connection rejected")
		const secs = 8
		p := publish(ctx, t, d.SRTURL("", c.streamID, c.pass), publishOpts{Seconds: secs, Format: "mpegts"})
		exited, err := p.Wait(secs*time.Second - 2*time.Second)
		switch {
		case !exited:
			t.Errorf("%s: ffmpeg was still running after %d s: the daemon accepted it", c.name, secs-2)
		case err == nil:
			t.Errorf("%s: ffmpeg exited successfully", c.name)
		default:
			t.Logf("%s: ffmpeg failed after %v as it should: %v: %s", c.name, p.ended.Sub(p.start).Round(time.Millisecond), err, lastLine(p.stderr.String()))
		}
		if f, err := get(ctx, d.PlaylistURL(locked.ID)); err != nil || f.Status != http.StatusNotFound {
			t.Errorf("%s: GET %s: HTTP %d (err %v), want 404 (no stream)", c.name, d.PlaylistURL(locked.ID), f.Status, err)
		}
		// Give the log line a moment: the reject is logged before it is sent.
		waitFor(ctx, t, 3*time.Second, c.name+": a `srt connection rejected` log line", func() bool {
			return strings.Count(d.Output(), "srt connection rejected") > before
		})
	}
	rejected := regexp.MustCompile(`(?m)^.*srt connection rejected.*$`).FindAllString(d.Output(), -1)
	for _, l := range rejected {
		t.Logf("daemon: %s", l)
		if !strings.Contains(l, "remote=127.0.0.1:") {
			t.Errorf("rejection log line does not name the peer (remote=127.0.0.1:PORT): %s", l)
		}
	}
	if len(rejected) < len(cases) {
		t.Errorf("%d `srt connection rejected` log lines for %d refused publishers", len(rejected), len(cases))
	}
	t.Logf("metrics: %s", strings.Join(metricLines(ctx, d, "mpegflow_ingest_rejected_total"), "; "))
	if !d.Alive() {
		t.Fatal("daemon died")
	}
	d.assertNoKeys(t, locked.Key, open.Key, badKey, locked.SRTPassphrase, wrongPass)
}

// lastLine returns the last line of ffmpeg's stderr without the URL it
// starts with (which holds the key and passphrase).
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "srt://") {
		if i := strings.LastIndex(s, ": "); i >= 0 {
			s = "srt://…" + s[i:]
		}
	}
	return s
}

// TestSRTPacketLoss publishes through a UDP relay that drops ~2.5% of the
// SRT data packets: retransmission repairs it, the playlist keeps advancing
// for the whole publish, and the recorded output decodes.
func TestSRTPacketLoss(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	in := newInput("srt-lossy")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "1s", PartDuration: "200ms", ReconnectWindow: "3s"})
	relay, err := srttest.NewRelay(d.SRT, 0.025, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	const published = 15.0
	pub := publish(ctx, t, d.SRTURL(relay.Addr().String(), "publish:"+in.Key, ""), publishOpts{Seconds: published, Format: "mpegts"})
	mediaURL, _ := waitLive(ctx, t, d, in.ID, 20*time.Second)
	rec := newRecorder(ctx, t, mediaURL)

	// Plain reloads every 200 ms: the longest time without progress (a new
	// part or segment) while the publisher runs.
	last := rec.poll(true)
	lastProgress, longest := time.Now(), time.Duration(0)
	for !pub.Exited() {
		if ctx.Err() != nil {
			t.Fatal("publisher did not finish in time")
		}
		time.Sleep(200 * time.Millisecond)
		if pub.Exited() {
			break
		}
		p := rec.poll(true)
		if p.progress() > last.progress() {
			lastProgress = time.Now()
		} else {
			longest = max(longest, time.Since(lastProgress))
		}
		if p.Endlist {
			t.Fatalf("EXT-X-ENDLIST while the publisher is still sending:\n%s", p.Raw)
		}
		last = p
	}
	if pub.err != nil {
		t.Errorf("ffmpeg SRT publisher failed: %v\n%s", pub.err, pub.stderr.String())
	}
	t.Logf("relay dropped %d of %d data packets (%.1f%%); playlist longest without progress %v",
		relay.Dropped(), relay.Dropped()+relay.Forwarded(), 100*float64(relay.Dropped())/float64(max(1, relay.Dropped()+relay.Forwarded())), longest.Round(time.Millisecond))
	if relay.Dropped() == 0 {
		t.Error("the relay dropped nothing: the test did not exercise loss")
	}
	if longest > 2*time.Second {
		t.Errorf("the playlist stood still for %v while the publisher was sending (parts are 200 ms)", longest)
	}
	waitFor(ctx, t, 20*time.Second, "EXT-X-ENDLIST after the publisher stopped", func() bool { return rec.poll(false).Endlist })

	msns, sum := checkContiguous(t, rec)
	for _, m := range msns {
		if dur := rec.segDur[m]; dur <= 0 || dur > float64(rec.target)+0.5 {
			t.Errorf("segment %d: EXTINF %.3f s (target %d)", m, dur, rec.target)
		}
	}
	t.Logf("%d segments (MSN %d..%d), EXTINF total %.3f s", len(msns), msns[0], msns[len(msns)-1], sum)
	if sum < 0.8*published || sum > 1.1*published {
		t.Errorf("EXTINF durations add up to %.3f s, want about %.0f s", sum, published)
	}
	file := rec.concat(t, "lossy.mp4", msns)
	v := ffprobe(ctx, t, file, "v")
	if v.Codec != "h264" || v.Width != 640 || v.Height != 360 || v.Duration < 0.8*published {
		t.Errorf("ffprobe video: %s %dx%d %.3f s, want h264 640x360 about %.0f s", v.Codec, v.Width, v.Height, v.Duration, published)
	}
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-nostdin", "-i", file, "-f", "null", "-").CombinedOutput()
	warnings := 0
	if s := strings.TrimSpace(string(out)); s != "" {
		warnings = len(strings.Split(s, "\n"))
	}
	switch {
	case err != nil:
		t.Errorf("ffmpeg cannot decode the output of a lossy publish: %v\n%.3000s", err, out)
	case warnings > 10:
		t.Errorf("ffmpeg reports %d decode errors on the output of a lossy publish (retransmission should repair 2.5%% loss):\n%.3000s", warnings, out)
	default:
		t.Logf("decode: %d error lines%s", warnings, fmtIf(warnings > 0, ":\n%s", out))
	}
	t.Logf("metrics: %s", strings.Join(metricLines(ctx, d, "mpegflow_srt_", "mpegflow_ingest_ts_errors_total", "mpegflow_ingest_units_dropped_total"), "; "))
	d.assertNoKeys(t, in.Key)
}

func fmtIf(cond bool, format string, a ...any) string {
	if !cond {
		return ""
	}
	return fmt.Sprintf(format, a...)
}

package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"
)

// TestBrowserPlainHLSLatency plays the daemon's player page with hls.js in
// its plain-HLS mode (lowLatencyMode off: whole segments, HOLD-BACK behind
// the live edge, as ffplay, VLC and smart-TV players play) while ffmpeg
// publishes with a 2 s GOP: the target duration is fitted to the GOP (2 s,
// HOLD-BACK 6 s), and the player plays near live: its delay behind ingest
// (Date.now() - hls.playingDate) is logged (7.4-7.6 s in most runs on the
// 2-core host, 1-1.5 s of it hls.js's start-up) and held under a loose
// bound. Not parallel: like TestBrowserPlayback it
// measures latency, which the other tests' encoders would skew.
func TestBrowserPlainHLSLatency(t *testing.T) {
	e2eTest(t)
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	in := newInput("plain")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms"})
	pub := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 45, GOP: 60})
	mediaURL, _ := waitLive(ctx, t, d, in.ID, 15*time.Second)

	// Start once the playlist is longer than the bound: a young stream
	// would put the player near live whatever its hold-back (hls.js starts
	// no earlier than the playlist's first segment).
	var p *playlist
	waitFor(ctx, t, 30*time.Second, "10 s of segments in "+mediaURL, func() bool {
		f, err := get(ctx, mediaURL)
		if err != nil || f.Status != http.StatusOK {
			return false
		}
		if p, err = parsePlaylist(string(f.Body)); err != nil {
			return false
		}
		listed := 0.0
		for _, s := range p.Segments {
			listed += s.Duration
		}
		return listed >= 10
	})
	hb, _ := p.Server.float("HOLD-BACK")
	if p.Target != 2 || hb != 6 {
		t.Errorf("2 s GOP: TARGETDURATION %d, HOLD-BACK %v; want 2 and 6", p.Target, hb)
	}

	pageURL := d.URL("/live/" + in.ID + "/")
	if f, err := get(ctx, pageURL); err != nil || f.Status != http.StatusOK || !bytes.Contains(f.Body, []byte("<video")) {
		t.Fatalf("GET %s: no player page (err %v)", pageURL, err)
	}
	const watch = 10
	r := startPlay(ctx, t, pageURL, "daemon", watch, "--hls-config", `{"lowLatencyMode":false}`).result(t)
	if pub.Exited() {
		t.Errorf("the publisher ended during playback (%v)", pub.err)
	}
	if len(r.Errors) > 0 {
		t.Errorf("page errors: %v", r.Errors)
	}
	if r.LatencyMs.N == 0 || r.LatencyMs.P50 == nil {
		t.Fatal("no latency samples: hls.playingDate never set")
	}
	t.Logf("plain HLS (hls.js lowLatencyMode off), 2 s GOP: first frame %d ms after page load; behind ingest p50 %d ms, p95 %d ms (min %d, max %d, %d samples); %d stalls (%d ms); engine %s",
		*r.FirstFrameMs, *r.LatencyMs.P50, *r.LatencyMs.P95, *r.LatencyMs.Min, *r.LatencyMs.Max, r.LatencyMs.N, r.Stalls, r.StallMsTotal, r.Engine)
	if r.HLSTargetLatencyMs != nil && *r.HLSTargetLatencyMs != 6000 {
		t.Errorf("hls.js target latency %d ms, want HOLD-BACK 6000", *r.HLSTargetLatencyMs)
	}
	// hls.js aims at HOLD-BACK behind its estimate of the live edge when it
	// loads the playlist and starts there once the first segment is
	// buffered: the time that takes (0-1.6 s on this loaded 2-core host)
	// adds to the latency for good, as hls.js corrects it only in
	// low-latency mode. The server's share, what remains, is about 6.3 s
	// on this host (HOLD-BACK 6 s and the part of a segment in progress);
	// it is logged, and held here only to 12 s, a bound that a busy host
	// does not reach and a playlist that holds players back by 3 x 10 s
	// (the fixed TARGETDURATION before it was fitted to the GOP) does.
	slip := 0
	if r.HLSLatencyStartMs != nil && r.HLSTargetLatencyMs != nil {
		slip = max(0, *r.HLSLatencyStartMs-*r.HLSTargetLatencyMs)
	}
	t.Logf("hls.js start-up slip %d ms (it played %v ms behind its live edge estimate at the first frame)", slip, ptrInt(r.HLSLatencyStartMs))
	if *r.LatencyMs.P50-slip > 12000 {
		t.Errorf("plain HLS plays %d ms behind ingest (p50), %d ms of it hls.js's start-up: want at most 12000 without it", *r.LatencyMs.P50, slip)
	}
	if advanced := *r.CurrentTimeEnd - *r.CurrentTimeStart; advanced < 0.5*watch {
		t.Errorf("currentTime advanced %.2f s in %d s of watching", advanced, watch)
	}
}

func ptrInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

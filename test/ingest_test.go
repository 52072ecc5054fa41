package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestUnknownKeyRejected(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	in := newInput("known")
	// http.address comes from MPEGFLOW_HTTP_ADDRESS here, to cover the env override.
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, HTTPByEnv: true})
	badKey := "sk" + randomHex(12)
	const secs = 8
	pub := publish(ctx, t, d.RTMPURL(badKey), publishOpts{Seconds: secs})
	exited, err := pub.Wait(secs*time.Second - 2*time.Second)
	switch {
	case !exited:
		t.Errorf("ffmpeg publishing with an unknown key was still running after %d s: the daemon accepted it", secs-2)
	case err == nil:
		t.Errorf("ffmpeg publishing with an unknown key exited successfully")
	default:
		t.Logf("ffmpeg with an unknown key failed after %v as it should: %v", pub.ended.Sub(pub.start).Round(time.Millisecond), err)
	}
	for _, id := range []string{in.ID, badKey} {
		f, err := get(ctx, d.PlaylistURL(id))
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d, want 404 (no stream)", d.PlaylistURL(id), f.Status)
		}
	}
	if !d.Alive() {
		t.Fatal("daemon died")
	}
	// The log names the peer, never the key (nor the rejected key, which may be a typo of a real one).
	d.assertNoKeys(t, in.Key, badKey)
}

func TestDuplicatePublisherRejected(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	in := newInput("dup")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, OnDuplicate: "reject"})
	first := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 16})
	mediaURL, _ := waitLive(ctx, t, d, in.ID, 15*time.Second)
	before := getPlaylist(ctx, t, mediaURL)

	second := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 6})
	exited, err := second.Wait(5 * time.Second)
	switch {
	case !exited:
		t.Errorf("the second publisher on a live key was still running after 5 s: not rejected")
	case err == nil:
		t.Errorf("the second publisher on a live key exited successfully")
	}
	if first.Exited() {
		t.Fatalf("the first publisher stopped when the second connected: %v\n%s", first.err, first.stderr.String())
	}
	// The first stream goes on: the playlist keeps advancing without a discontinuity.
	time.Sleep(3 * time.Second)
	after := getPlaylist(ctx, t, mediaURL)
	if after.lastMSN() < before.lastMSN()+2 {
		t.Errorf("playlist did not advance while the first publisher kept going: last MSN %d -> %d", before.lastMSN(), after.lastMSN())
	}
	if after.Endlist {
		t.Errorf("playlist ended while the first publisher is live")
	}
	for _, s := range after.Segments {
		if s.Discontinuity {
			t.Errorf("segment %d has EXT-X-DISCONTINUITY: the rejected publisher disturbed the stream", s.MSN)
		}
	}
	d.assertNoKeys(t, in.Key)
}

func TestReconnectWithinWindowContinues(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	in := newInput("flaky")
	// A 6 s window: long enough to restart ffmpeg on a busy 2-core machine.
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, ReconnectWindow: "6s"})
	first := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 4})
	mediaURL, _ := waitLive(ctx, t, d, in.ID, 15*time.Second)
	rec := newRecorder(ctx, t, mediaURL)
	for !first.Exited() {
		rec.poll(true)
		time.Sleep(100 * time.Millisecond)
	}
	if first.err != nil {
		t.Fatalf("first publisher: %v", first.err)
	}
	gapStart := time.Now()
	lastFirst := rec.last.lastMSN()

	second := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 4})
	sawDisc := false
	for !second.Exited() {
		p := rec.poll(false)
		if p.Endlist {
			t.Fatalf("EXT-X-ENDLIST %v after the first publisher stopped, within the 6 s window:\n%s", time.Since(gapStart), p.Raw)
		}
		for _, s := range p.Segments {
			if s.Discontinuity && s.MSN > lastFirst {
				sawDisc = true
			}
		}
		if p.Pending.Discontinuity && p.Pending.MSN > lastFirst {
			sawDisc = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if second.err != nil {
		t.Errorf("second publisher (reconnect within the window) failed: %v\n%s", second.err, second.stderr.String())
	}
	msns := rec.msns()
	if len(msns) == 0 || msns[len(msns)-1] <= lastFirst+1 {
		t.Fatalf("the playlist did not continue after the reconnect: last MSN %d before, segments %v", lastFirst, msns)
	}
	for i := 1; i < len(msns); i++ {
		if msns[i] != msns[i-1]+1 {
			t.Errorf("MSN gap %d -> %d across the reconnect", msns[i-1], msns[i])
		}
	}
	t.Logf("first session ended at segment %d; segments seen %d..%d; discontinuity after the reconnect seen: %v", lastFirst, msns[0], msns[len(msns)-1], sawDisc)
	if !sawDisc {
		t.Errorf("no EXT-X-DISCONTINUITY after segment %d (the last of the first session) in the playlist:\n%s", lastFirst, rec.last.Raw)
	}
	waitFor(ctx, t, 6*time.Second+15*time.Second, "EXT-X-ENDLIST after the second publisher stopped and the window passed", func() bool {
		return rec.poll(false).Endlist
	})
	d.assertNoKeys(t, in.Key)
}

package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipelineManifest is a pipeline of live input li: the source, a ladder
// of rungs, the LL-HLS packager of both, a recording, and extra nodes.
func pipelineManifest(li string, rungs []map[string]any, extra ...map[string]any) map[string]any {
	nodes := []any{
		map[string]any{"id": "cam", "type": "source.live", "config": map[string]any{"live_input": li}},
		map[string]any{"id": "ladder", "type": "transcode.abr", "inputs": []string{"cam"}, "when": "source.video.height >= 360",
			"config": map[string]any{"renditions": rungs}},
		map[string]any{"id": "hls", "type": "package.llhls", "inputs": []string{"cam", "ladder"}},
		map[string]any{"id": "rec", "type": "record.vod", "inputs": []string{"cam"}},
	}
	for _, n := range extra {
		nodes = append(nodes, n)
	}
	return map[string]any{"api_version": "mpegflow.io/v1", "kind": "Pipeline",
		"metadata": map[string]any{"name": "e2e"}, "spec": map[string]any{"nodes": nodes}}
}

var (
	rung240 = []map[string]any{{"name": "240p", "height": 240, "video_bitrate": "400k"}}
	rung160 = []map[string]any{{"name": "160p", "height": 160, "video_bitrate": "200k"}}
)

// pipelineNodes returns the state of every node of pipeline name.
func pipelineNodes(t *testing.T, d *daemon, admin, name string) (states map[string]string, observed float64) {
	t.Helper()
	p := apiOK(t, d, admin, "GET", "/v1/pipelines/"+name, nil, 200)
	states = map[string]string{}
	nodes, _ := p["nodes"].([]any)
	for _, n := range nodes {
		m, _ := n.(map[string]any)
		states[m["id"].(string)], _ = m["state"].(string)
	}
	observed, _ = p["observed_generation"].(float64)
	return states, observed
}

func allRunning(states map[string]string, ids ...string) bool {
	for _, id := range ids {
		if states[id] != "running" {
			return false
		}
	}
	return true
}

// partWatch polls a media playlist and records when each new part
// appears: the longest gap between parts is how long the rendition
// stopped, as a player polling it would see it.
type partWatch struct {
	mu      sync.Mutex
	last    string
	lastAt  time.Time
	longest time.Duration
	target  float64
}

func (w *partWatch) run(ctx context.Context, t *testing.T, u string) {
	for ctx.Err() == nil {
		f, err := get(ctx, u)
		if err == nil && f.Status == http.StatusOK {
			if p, err := parsePlaylist(string(f.Body)); err == nil {
				var lastPart string
				for _, s := range p.Segments {
					for _, pt := range s.Parts {
						lastPart = pt.URI
					}
				}
				for _, pt := range p.Pending.Parts {
					lastPart = pt.URI
				}
				now := time.Now()
				w.mu.Lock()
				w.target = p.PartTarget
				if lastPart != "" && lastPart != w.last {
					if !w.lastAt.IsZero() {
						w.longest = max(w.longest, now.Sub(w.lastAt))
					}
					w.last, w.lastAt = lastPart, now
				}
				w.mu.Unlock()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *partWatch) reset() {
	w.mu.Lock()
	w.longest = 0
	w.mu.Unlock()
}

func (w *partWatch) result() (time.Duration, float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.longest, w.target
}

// TestPipelineApplyLive: a pipeline applied over REST drives a live
// input's graph: its ladder is in the multivariant playlist and its
// recording appears; while hls.js plays, a generation adding a thumbnail
// and a webhook node is applied hot (no stall, the same session), then
// one changing the ladder restarts only the rungs (the source rendition
// plays on); a rollback to generation 1 brings the first ladder back; a
// bad manifest changes nothing. Not parallel: the encoders and the
// browser share the machine's cores.
func TestPipelineApplyLive(t *testing.T) {
	e2eTest(t)
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Setenv("MPEGFLOWTEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "1")
	admin, adminY := adminYAML()
	src := newInput("src")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{src}, SegmentDuration: "2s", PartDuration: "200ms",
		ExtraYAML: adminY + smallLadderYAML})
	hook, _ := createWebhook(t, d, admin, map[string]any{"url": "http://127.0.0.1:9/hook"})

	// generation 1 on an idle input: every node waits for its input
	putAt := time.Now()
	apiOK(t, d, admin, "PUT", "/v1/pipelines/e2e", pipelineManifest(src.ID, rung240), 200)
	if st, _ := pipelineNodes(t, d, admin, "e2e"); st["hls"] != "waiting_for_input" {
		t.Fatalf("idle pipeline: %v", st)
	}
	pub := publish(ctx, t, d.RTMPURL(src.Key), publishOpts{Seconds: 150})
	pubAt := time.Now()
	waitFor(ctx, t, 60*time.Second, "every node running", func() bool {
		st, _ := pipelineNodes(t, d, admin, "e2e")
		return allRunning(st, "cam", "ladder", "hls", "rec")
	})
	t.Logf("figure: idle input: PUT to every node running %v (of which publish to running %v)",
		time.Since(putAt).Round(time.Millisecond), time.Since(pubAt).Round(time.Millisecond))
	_, multi := waitLive(ctx, t, d, src.ID, 60*time.Second)
	var sourceURL string
	for _, v := range multi.Variants {
		if !strings.HasPrefix(v.URI, "240p/") {
			sourceURL = resolve(d.PlaylistURL(src.ID), v.URI)
		}
	}
	waitFor(ctx, t, 60*time.Second, "the 240p rung in the multivariant playlist", func() bool {
		return strings.Contains(getPlaylist(ctx, t, d.PlaylistURL(src.ID)).Raw, "240p/")
	})
	waitFor(ctx, t, 30*time.Second, "a recording of the broadcast", func() bool {
		_, r := apiCall(t, d, admin, "GET", "/v1/videos?live_input_id="+src.ID, nil)
		vs, _ := r["data"].([]any)
		return len(vs) > 0
	})
	eff := apiOK(t, d, admin, "GET", "/v1/live_inputs/"+src.ID+"/pipeline", nil, 200)
	if eff["pipeline"] != "e2e" {
		t.Fatalf("effective pipeline of the bound input: %v", eff)
	}

	watch := &partWatch{}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go watch.run(wctx, t, sourceURL)

	const seconds = 30
	p := startPlay(ctx, t, d.URL("/live/"+src.ID+"/"), "daemon", seconds)
	waitFor(ctx, t, 60*time.Second, "the viewer's first frame", func() bool { return p.playing() || p.exited() })
	firstFrame := time.Now()
	if p.exited() {
		p.result(t)
		t.Fatal("play.mjs ended before the first frame")
	}
	// the longest gap between source parts with no change, for comparison
	watch.reset()
	time.Sleep(4 * time.Second)
	gapBase, _ := watch.result()

	// generation 2: a thumbnail and a webhook node, hot
	watch.reset()
	addStart := time.Since(firstFrame)
	thumbs := map[string]any{"id": "thumbs", "type": "thumbnail", "inputs": []string{"cam"}, "config": map[string]any{"every": "2s"}}
	notify := map[string]any{"id": "hook", "type": "notify.webhook", "on": []string{"rec.ready", "cam.disconnected"}, "config": map[string]any{"webhook": hook}}
	putAt = time.Now()
	apiOK(t, d, admin, "PUT", "/v1/pipelines/e2e", pipelineManifest(src.ID, rung240, thumbs, notify), 200)
	waitFor(ctx, t, 10*time.Second, "the new nodes running", func() bool {
		st, obs := pipelineNodes(t, d, admin, "e2e")
		return obs == 2 && allRunning(st, "thumbs", "hook", "hls", "ladder", "rec")
	})
	t.Logf("figure: live input: PUT to the added nodes running %v", time.Since(putAt).Round(time.Millisecond))
	time.Sleep(4 * time.Second)
	addEnd := time.Since(firstFrame)
	gapHot, target := watch.result()

	// generation 3: another ladder: only the rungs restart
	watch.reset()
	putAt = time.Now()
	apiOK(t, d, admin, "PUT", "/v1/pipelines/e2e", pipelineManifest(src.ID, rung160, thumbs, notify), 200)
	waitFor(ctx, t, 60*time.Second, "the 160p rung replacing 240p", func() bool {
		raw := getPlaylist(ctx, t, d.PlaylistURL(src.ID)).Raw
		return strings.Contains(raw, "160p/") && !strings.Contains(raw, "240p/")
	})
	t.Logf("figure: live input: PUT of a new ladder to its rung in the multivariant playlist %v", time.Since(putAt).Round(time.Millisecond))
	gapLadder, _ := watch.result()

	r := p.result(t)
	t.Logf("figure: hot changes during playback: %d stalls (longest %d ms, at %v ms after the first frame), frozen %d ms; longest gap between source parts: %v while adding nodes, %v while changing the ladder, %v in 4 s before any change (PART-TARGET %.3f s, polled every 50 ms); engine %s",
		r.Stalls, r.LongestStallMs, r.StallStartsMs, r.FrozenMs, gapHot.Round(time.Millisecond), gapLadder.Round(time.Millisecond), gapBase.Round(time.Millisecond), target, r.Engine)
	// Adding nodes is hot: no stall from the PUT to 4 s after the nodes
	// ran. (Changing the ladder withdraws the rungs: a player on a rung
	// moves to another variant, as when a transcoder gives up; the source
	// rendition is what must play on, checked by its part gaps.)
	inAdd := 0
	for _, ms := range r.StallStartsMs {
		if at := time.Duration(ms) * time.Millisecond; at >= addStart && at <= addEnd {
			inAdd++
		}
	}
	t.Logf("figure: nodes added from %v to %v after the first frame: %d stalls in that window", addStart.Round(time.Millisecond), addEnd.Round(time.Millisecond), inAdd)
	if inAdd != 0 {
		t.Errorf("the viewer stalled %d times while nodes were added hot", inAdd)
	}
	// The part gaps are polled over HTTP: on a machine so loaded that the
	// source's parts already come further apart than 2 x PART-TARGET with
	// no change at all, the measurement cannot resolve the target, and
	// the check says so rather than failing on the load.
	limit := time.Duration(2 * target * float64(time.Second))
	switch {
	case target == 0:
		t.Error("no PART-TARGET in the source's playlist")
	case gapBase > limit:
		t.Logf("NOT CHECKED: the source's parts came %v apart with no change (over 2 x PART-TARGET = %v): the machine is too loaded to resolve the hot changes' gaps", gapBase.Round(time.Millisecond), limit)
	case gapHot > limit || gapLadder > limit:
		t.Errorf("the source rendition paused for %v / %v, over 2 x PART-TARGET (%v)", gapHot, gapLadder, limit)
	}

	// rollback to generation 1: the first ladder, no thumbnail
	apiOK(t, d, admin, "POST", "/v1/pipelines/e2e/rollback", map[string]any{"generation": 1}, 200)
	waitFor(ctx, t, 60*time.Second, "the 240p rung back", func() bool {
		raw := getPlaylist(ctx, t, d.PlaylistURL(src.ID)).Raw
		return strings.Contains(raw, "240p/") && !strings.Contains(raw, "160p/")
	})
	st, obs := pipelineNodes(t, d, admin, "e2e")
	if obs != 4 || st["thumbs"] != "" || !allRunning(st, "cam", "ladder", "hls", "rec") {
		t.Fatalf("after the rollback: generation %v, %v", obs, st)
	}

	// a bad manifest (a cycle) changes nothing
	bad := pipelineManifest(src.ID, rung240)
	nodes := bad["spec"].(map[string]any)["nodes"].([]any)
	nodes[1].(map[string]any)["inputs"] = []string{"hls"}
	if code, _ := apiCall(t, d, admin, "PUT", "/v1/pipelines/e2e", bad); code != http.StatusBadRequest {
		t.Fatalf("a manifest with a cycle: HTTP %d, want 400", code)
	}
	if _, obs := pipelineNodes(t, d, admin, "e2e"); obs != 4 {
		t.Fatalf("a refused manifest moved the generation to %v", obs)
	}
	if pub.Exited() {
		t.Errorf("the publisher ended during the test (%v)", pub.err)
	}
}

package e2e

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPipelineThumbnailBoundLive: a pipeline bound to a live input while
// it is live takes effect on the running broadcast (its packager takes
// over the default one: the media playlist's sequence goes on, it does
// not start again), and its thumbnail node makes JPEGs that the API
// serves at /v1/live_inputs/ID/thumbnail.jpg. Under 10 s of publishing.
func TestPipelineThumbnailBoundLive(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, adminY := adminYAML()
	src := newInput("thumbsrc")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{src}, ExtraYAML: adminY})
	pub := publish(ctx, t, d.RTMPURL(src.Key), publishOpts{Seconds: 10})
	mediaURL, _ := waitLive(ctx, t, d, src.ID, 20*time.Second)
	before := getPlaylist(ctx, t, mediaURL)

	thumbURL := "/v1/live_inputs/" + src.ID + "/thumbnail.jpg"
	if st, _ := apiCall(t, d, admin, "GET", thumbURL, nil); st != http.StatusNotFound {
		t.Fatalf("GET %s before any thumbnail node: HTTP %d, want 404", thumbURL, st)
	}
	m := map[string]any{"api_version": "mpegflow.io/v1", "kind": "Pipeline", "metadata": map[string]any{"name": "thumbs"},
		"spec": map[string]any{"nodes": []any{
			map[string]any{"id": "cam", "type": "source.live", "config": map[string]any{"live_input": src.ID}},
			map[string]any{"id": "hls", "type": "package.llhls", "inputs": []string{"cam"}},
			map[string]any{"id": "thumbs", "type": "thumbnail", "inputs": []string{"cam"}, "config": map[string]any{"every": "2s", "width": 320}},
		}}}
	putAt := time.Now()
	apiOK(t, d, admin, "PUT", "/v1/pipelines/thumbs", m, 200)

	var img []byte
	waitFor(ctx, t, 15*time.Second, "a thumbnail", func() bool {
		req, _ := http.NewRequestWithContext(ctx, "GET", d.URL(thumbURL), nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := httpClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return false
		}
		if ct := res.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("Content-Type %q", ct)
		}
		img = b
		return true
	})
	t.Logf("figure: pipeline bound while live: PUT to its first thumbnail served %v", time.Since(putAt).Round(time.Millisecond))
	pic, err := jpeg.Decode(bytes.NewReader(img))
	if err != nil || pic.Bounds().Dx() != 320 {
		t.Fatalf("not a 320 px wide JPEG (%d bytes): %v", len(img), err)
	}
	after := getPlaylist(ctx, t, mediaURL)
	if after.MediaSeq < before.MediaSeq || len(after.Segments) == 0 {
		t.Fatalf("the media playlist started again when the pipeline was bound: sequence %d then %d", before.MediaSeq, after.MediaSeq)
	}
	states, observed := pipelineNodes(t, d, admin, "thumbs")
	if observed != 1 || !allRunning(states, "cam", "hls", "thumbs") {
		t.Fatalf("pipeline status while live: %v (observed generation %v)", states, observed)
	}
	if st, _ := apiCall(t, d, "", "GET", thumbURL, nil); st != http.StatusUnauthorized {
		t.Fatalf("GET %s without a token: HTTP %d, want 401", thumbURL, st)
	}
	if pub.Exited() {
		t.Fatalf("the publisher ended early: %v", pub.err)
	}
}

// TestPipelineMediaMisfitLive: while a live input is live with audio
// only, a manifest that feeds it into a ladder is refused (400, the node
// and the input's JSON pointer), by plan and by PUT, and nothing is
// stored. About 15 s of publishing at most.
func TestPipelineMediaMisfitLive(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	admin, adminY := adminYAML()
	src := newInput("audioonly")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{src}, ExtraYAML: adminY})
	// an audio-only publisher (the harness's publishes video too)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "15",
		"-c:a", "aac", "-b:a", "96k", "-f", "flv", d.RTMPURL(src.Key))
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	})
	m := map[string]any{"api_version": "mpegflow.io/v1", "kind": "Pipeline", "metadata": map[string]any{"name": "misfit"},
		"spec": map[string]any{"nodes": []any{
			map[string]any{"id": "cam", "type": "source.live", "config": map[string]any{"live_input": src.ID}},
			map[string]any{"id": "ladder", "type": "transcode.abr", "inputs": []string{"cam"},
				"config": map[string]any{"renditions": []any{map[string]any{"name": "r240", "height": 240, "video_bitrate": "400k"}}}},
			map[string]any{"id": "hls", "type": "package.llhls", "inputs": []string{"cam", "ladder"}},
		}}}
	var body map[string]any
	waitFor(ctx, t, 30*time.Second, "the plan refused once the input is live", func() bool {
		st, r := apiCall(t, d, admin, "POST", "/v1/pipelines/misfit/plan", m)
		if st != http.StatusOK && st != http.StatusBadRequest {
			t.Fatalf("plan: HTTP %d %v", st, r)
		}
		body = r
		return st == http.StatusBadRequest
	})
	e, _ := body["error"].(map[string]any)
	details, _ := e["details"].(map[string]any)
	msg, _ := e["message"].(string)
	if details["field"] != "/spec/nodes/1/inputs/0" || !strings.Contains(msg, `node "ladder"`) || !strings.Contains(msg, "audio only") {
		t.Fatalf("plan refusal: %v", body)
	}
	if st, r := apiCall(t, d, admin, "PUT", "/v1/pipelines/misfit", m); st != http.StatusBadRequest {
		t.Fatalf("PUT: HTTP %d %v", st, r)
	}
	if st, _ := apiCall(t, d, admin, "GET", "/v1/pipelines/misfit", nil); st != http.StatusNotFound {
		t.Fatalf("a refused manifest was stored: GET HTTP %d", st)
	}
}

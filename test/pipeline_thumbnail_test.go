package e2e

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestPipelineThumbnailBoundLive: a pipeline bound to a live input while
// it is live takes effect on the running broadcast (its packager takes
// over the default one: the media playlist's sequence goes on, it does
// not start again), and its thumbnail node makes JPEGs that the API
// serves at /v1/live_inputs/ID/thumbnail.jpg. About 10 s of publishing.
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
	if exited, err := pub.Wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("publisher: exited %v, %v", exited, err)
	}
}

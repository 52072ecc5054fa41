package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
)

// TestRTSPPullOnDemand: a camera pulled on demand is not connected until
// a viewer asks for its playlist; the first playlist request waits for
// the camera and answers 200; the camera is disconnected
// rtsp.on_demand_idle_timeout after the last request and the source goes
// back to idle. A camera that does not come up answers the viewer 503
// with Retry-After after rtsp.on_demand_start_timeout.
func TestRTSPPullOnDemand(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cam, err := rtsptest.Start("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	publish(ctx, t, cam.PublishURL(), publishOpts{Seconds: 120, Format: "rtsp", OutputArgs: []string{"-rtsp_transport", "tcp"}})
	admin, extra := adminYAML()
	d := startDaemon(t, daemonConfig{ExtraYAML: extra, SegmentDuration: "1s",
		Env: []string{"MPEGFLOW_RTSP_ON_DEMAND_START_TIMEOUT=15s", "MPEGFLOW_RTSP_ON_DEMAND_IDLE_TIMEOUT=2s"}})
	li := apiOK(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "camera on demand",
		"source": map[string]any{"url": cam.URL("", ""), "transport": "tcp", "on_demand": true}}, 201)
	id := li["id"].(string)
	sourceState := func(id string) string {
		_, body := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id, nil)
		src, _ := data(body)["source"].(map[string]any)
		st, _ := src["status"].(map[string]any)
		s, _ := st["state"].(string)
		return s
	}
	waitFor(ctx, t, 10*time.Second, "the source idle", func() bool { return sourceState(id) == "idle" })
	time.Sleep(time.Second)
	if n := cam.Readers(); n != 0 {
		t.Fatalf("%d camera readers before any viewer, want 0", n)
	}

	// the first request waits for the camera
	f, err := get(ctx, d.PlaylistURL(id))
	if err != nil || f.Status != http.StatusOK {
		t.Fatalf("first playlist request: %v, HTTP %d: %s", err, f.Status, f.Body)
	}
	t.Logf("first playlist request answered 200 after %v", f.Elapsed.Round(time.Millisecond))
	if cam.Readers() != 1 || sourceState(id) != "connected" {
		t.Fatalf("after the first request: %d camera readers, source %s", cam.Readers(), sourceState(id))
	}
	mediaURL, _ := waitLive(ctx, t, d, id, 20*time.Second)
	rec := newRecorder(ctx, t, mediaURL)
	waitFor(ctx, t, 20*time.Second, "3 segments", func() bool { return len(rec.poll(false).Segments) >= 3 })
	// the session shows its RTP statistics (sampled every 5 s)
	var rtp map[string]any
	waitFor(ctx, t, 15*time.Second, "the session's rtp statistics", func() bool {
		rec.poll(false) // a viewer still
		_, r := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id+"/sessions", nil)
		ss, _ := r["data"].([]any)
		if len(ss) != 1 {
			return false
		}
		rtp, _ = ss[0].(map[string]any)["rtp"].(map[string]any)
		n, _ := rtp["packets_received"].(float64)
		b, _ := rtp["bitrate_bps"].(float64)
		return n > 0 && b > 0
	})
	t.Logf("session rtp statistics: %v", rtp)
	mf, err := get(ctx, "http://"+d.Metric+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if metrics := string(mf.Body); !strings.Contains(metrics, `mpegflow_rtsp_packets_received_total{live_input="`+id+`"}`) ||
		!strings.Contains(metrics, `mpegflow_rtsp_jitter_seconds{kind="video",live_input="`+id+`"}`) {
		t.Error("the rtsp session metrics are not exported")
	}

	// the viewer leaves: disconnected after the idle timeout
	left := time.Now()
	waitFor(ctx, t, 15*time.Second, "the camera disconnected and the source idle", func() bool {
		return cam.Readers() == 0 && sourceState(id) == "idle"
	})
	if el := time.Since(left); el < 1500*time.Millisecond {
		t.Errorf("disconnected %v after the last request, before the 2s idle timeout", el)
	}
	t.Logf("disconnected %v after the last request", time.Since(left).Round(time.Millisecond))

	// a camera that never comes up: 503 with Retry-After
	dead := apiOK(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "dead camera",
		"source": map[string]any{"url": "rtsp://" + freePort(t) + "/cam", "transport": "tcp", "on_demand": true}}, 201)
	// the pullers follow the store's events: a viewer right after the
	// create may come before the camera's puller exists (a plain 404)
	waitFor(ctx, t, 10*time.Second, "the dead camera's source idle", func() bool { return sourceState(dead["id"].(string)) == "idle" })
	f, err = get(ctx, d.PlaylistURL(dead["id"].(string)))
	if err != nil || f.Status != http.StatusServiceUnavailable || f.Header.Get("Retry-After") == "" {
		t.Fatalf("a camera that does not start: %v, HTTP %d, Retry-After %q", err, f.Status, f.Header.Get("Retry-After"))
	}
	if f.Elapsed < 14*time.Second {
		t.Errorf("503 after %v, before the 15s start timeout", f.Elapsed)
	}
}

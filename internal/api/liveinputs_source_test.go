package api

import (
	"context"
	"strings"
	"testing"
	"time"
)

type fakeSources map[string]SourceState

func (f fakeSources) SourceStatus(id string) (SourceState, bool) {
	s, ok := f[id]
	return s, ok
}

// TestLiveInputSource: a source is stored with its password, read back
// masked (also to the admin), kept when the masked URL is sent back,
// validated, reports the puller's status, and is removed by null.
func TestLiveInputSource(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		const secret = "cam-s3cret"
		li := e.do("POST", "/v1/live_inputs", e.admin, map[string]any{
			"name": "Camera", "source": map[string]any{"url": "rtsp://admin:" + secret + "@10.1.2.3:554/stream1", "transport": "tcp"},
		}).want(t, 201, "").data()
		id := li["id"].(string)
		src := li["source"].(map[string]any)
		if src["url"] != "rtsp://admin:***@10.1.2.3:554/stream1" || src["transport"] != "tcp" || src["on_demand"] != false {
			t.Fatalf("source %v", src)
		}
		if li["rtsp"] != nil {
			t.Fatalf("rtsp publish URL without rtsp.address: %v", li["rtsp"])
		}
		if st := src["status"].(map[string]any); st["state"] != "stopped" {
			t.Fatalf("status without a puller: %v", st)
		}
		stored, err := e.st.LiveInputs().Get(context.Background(), id)
		if err != nil || stored.Source == nil || !strings.Contains(stored.Source.URL, secret) {
			t.Fatalf("stored source %+v %v", stored.Source, err)
		}
		next := time.Now().Add(4 * time.Second)
		e.srv.sources = fakeSources{id: {State: "retrying", LastError: "describe: bad status code: 401 (Unauthorized)", NextRetryAt: next}}
		g := e.do("GET", "/v1/live_inputs/"+id, e.admin, nil).want(t, 200, "").data()
		if strings.Contains(string(e.do("GET", "/v1/live_inputs/"+id, e.admin, nil).Body), secret) {
			t.Fatal("the camera password is readable")
		}
		st := g["source"].(map[string]any)["status"].(map[string]any)
		if st["state"] != "retrying" || !strings.Contains(st["last_error"].(string), "401") || st["next_retry_at"] == nil {
			t.Fatalf("status %v", st)
		}

		// sending back the masked URL keeps the password
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"source": map[string]any{"url": src["url"], "on_demand": true}}).want(t, 200, "")
		stored, _ = e.st.LiveInputs().Get(context.Background(), id)
		if !strings.Contains(stored.Source.URL, secret) || !stored.Source.OnDemand || stored.Source.Transport != "tcp" {
			t.Fatalf("after patching the masked url: %+v", stored.Source)
		}
		for _, bad := range []map[string]any{
			{"url": "http://cam/x"},
			{"url": "rtsp:///x"},
			{"transport": "quic"},
			{"url": "rtsps://cam/x", "transport": "udp"},
			{"nope": 1},
		} {
			r := e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"source": bad})
			if r.Status != 422 && r.Status != 400 {
				t.Errorf("PATCH source %v: HTTP %d, want 4xx", bad, r.Status)
			}
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("an error quotes the password: %s", r.Body)
			}
		}
		d := e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"source":null}`).want(t, 200, "").data()
		if d["source"] != nil {
			t.Fatalf("source after null: %v", d["source"])
		}
	})
}

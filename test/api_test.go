package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// adminTokenRe matches the admin token the daemon prints once at first start.
var adminTokenRe = regexp.MustCompile(`mf_[0-9a-z]{52}`)

// startDaemonAt starts mpegflow serve like startDaemon, but on a data
// directory the caller keeps, so that a test can restart the daemon on the
// same state.
func startDaemonAt(t *testing.T, dataDir string, cfg daemonConfig) *daemon {
	t.Helper()
	bin := buildBinary(t)
	for _, f := range []struct {
		v   *string
		def string
	}{
		{&cfg.SegmentDuration, "1s"}, {&cfg.PartDuration, "200ms"}, {&cfg.ReconnectWindow, "3s"}, {&cfg.OnDuplicate, "reject"},
	} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	dir := t.TempDir()
	d := &daemon{t: t, cfg: cfg, HTTP: cfg.HTTPAddress, RTMP: freePort(t), Metric: freePort(t), SRT: freeUDPPort(t), WebRTC: freeUDPPort(t), out: &syncBuffer{}, done: make(chan struct{})}
	if d.HTTP == "" {
		d.HTTP = freePort(t)
	}
	cfgPath := filepath.Join(dir, "mpegflow.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.yaml(d.HTTP, d.RTMP, d.Metric, d.SRT, d.WebRTC, dataDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MPEGFLOW_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	d.cmd.Env = append(d.cmd.Env, cfg.Env...)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("mpegflow output (http %s rtmp %s):\n%s", d.HTTP, d.RTMP, d.Output())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if !d.Alive() {
			t.Fatalf("mpegflow exited during start-up (%v):\n%s", d.waitErr, d.Output())
		}
		if resp, err := http.Get(d.URL("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz never answered 200:\n%s", d.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiCall sends one API request and decodes the envelope.
func apiCall(t *testing.T, d *daemon, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.URL(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

func data(m map[string]any) map[string]any { d, _ := m["data"].(map[string]any); return d }

// eventStream reads the daemon's WebSocket events in the background.
type eventStream struct {
	ch chan map[string]any
}

func openEvents(ctx context.Context, t *testing.T, d *daemon, token string) *eventStream {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+d.HTTP+"/v1/events", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatalf("dial /v1/events: %v", err)
	}
	es := &eventStream{ch: make(chan map[string]any, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var ev map[string]any
			if json.Unmarshal(b, &ev) == nil {
				es.ch <- ev
			}
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-done })
	return es
}

// waitEvent waits for an event of type typ about live input id.
func (es *eventStream) waitEvent(t *testing.T, typ, id string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-es.ch:
			if ev["type"] == typ && ev["live_input_id"] == id {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %s within %v", typ, id, timeout)
		}
	}
}

// TestControlAPIEndToEnd: a live input created over the API takes an RTMP
// publisher (ffmpeg), the WebSocket reports it connected, HLS plays, a key
// rotation cuts the publisher and refuses the old key while the new one
// works, and everything survives a restart of the daemon.
func TestControlAPIEndToEnd(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemonAt(t, dataDir, daemonConfig{})
	if f, err := get(ctx, d.URL("/v1/openapi.json")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %v %v", f, err)
	}
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	events := openEvents(ctx, t, d, admin)

	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "E2E API"})
	if st != http.StatusCreated {
		t.Fatalf("create: HTTP %d %v", st, r)
	}
	li := data(r)
	id := li["id"].(string)
	oldKey := li["rtmp"].(map[string]any)["stream_key"].(string)
	events.waitEvent(t, "live_input.created", id, 5*time.Second)

	pub := publish(ctx, t, d.RTMPURL(oldKey), publishOpts{Seconds: 60})
	events.waitEvent(t, "live_input.connected", id, 15*time.Second)
	waitLive(ctx, t, d, id, 20*time.Second)
	if _, r := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id, nil); data(r)["status"] != "connected" {
		t.Errorf("status %v, want connected", data(r)["status"])
	}
	if _, r := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id+"/sessions", nil); len(r["data"].([]any)) != 1 {
		t.Errorf("sessions: %v", r)
	}

	// Rotate: the publisher is cut, the old key refused, the new one works.
	st, r = apiCall(t, d, admin, "POST", "/v1/live_inputs/"+id+"/rotate_key", nil)
	if st != http.StatusOK {
		t.Fatalf("rotate_key: HTTP %d %v", st, r)
	}
	newKey := data(r)["rtmp"].(map[string]any)["stream_key"].(string)
	if newKey == oldKey {
		t.Fatal("rotate_key kept the key")
	}
	if exited, _ := pub.Wait(10 * time.Second); !exited {
		t.Error("the publisher was still connected 10 s after the key was rotated")
	}
	old := publish(ctx, t, d.RTMPURL(oldKey), publishOpts{Seconds: 8})
	if exited, err := old.Wait(6 * time.Second); !exited || err == nil {
		t.Errorf("the old key was not refused (exited %v, err %v)", exited, err)
	}
	publish(ctx, t, d.RTMPURL(newKey), publishOpts{Seconds: 30})
	events.waitEvent(t, "live_input.connected", id, 15*time.Second)

	// Restart on the same data directory: everything is still there.
	d.Stop()
	d2 := startDaemonAt(t, dataDir, daemonConfig{})
	if adminTokenRe.MatchString(d2.Output()) {
		t.Error("a second admin token was printed after the restart")
	}
	st, r = apiCall(t, d2, admin, "GET", "/v1/live_inputs/"+id, nil)
	if st != http.StatusOK || data(r)["name"] != "E2E API" || data(r)["rtmp"].(map[string]any)["stream_key"] != newKey || data(r)["keys_rotated_at"] == nil {
		t.Fatalf("after restart: HTTP %d %v", st, r)
	}
	p2 := publish(ctx, t, d2.RTMPURL(newKey), publishOpts{Seconds: 20})
	waitLive(ctx, t, d2, id, 20*time.Second)
	if p2.Exited() {
		t.Fatalf("publishing after the restart failed: %v", p2.err)
	}
	d.assertNoKeys(t, oldKey, newKey)
	d2.assertNoKeys(t, oldKey, newKey)
}

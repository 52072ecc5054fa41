package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/httpserver"
	"github.com/mpegflow/mpegflow/internal/live"
)

func newTestApp(t *testing.T, extra string) (*App, *bytes.Buffer, func()) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yml")
	body := "data_dir: " + filepath.Join(dir, "data") + `
http: {address: "127.0.0.1:0"}
rtmp: {address: "127.0.0.1:0"}
metrics: {address: "127.0.0.1:0"}
srt: {address: "127.0.0.1:0"}
webrtc: {udp_address: "127.0.0.1:0"}
rtsp: {address: "127.0.0.1:0", udp_rtp_address: "", udp_rtcp_address: ""}
live_inputs:
  - {id: cam, name: Cam, stream_key: auto}
` + extra
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := New(cfg, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)), "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitReady(t, "http://"+a.HTTPAddr().String()+"/readyz")
	return a, &logs, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("shutdown took longer than 10 s")
		}
	}
}

type syncWriter struct{ w io.Writer }

func (s *syncWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("not ready")
}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHTTPRoutes(t *testing.T) {
	a, _, stop := newTestApp(t, "")
	defer stop()
	base := "http://" + a.HTTPAddr().String()

	if r, body := get(t, "GET", base+"/healthz", nil); r.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %q", r.StatusCode, body)
	}
	if r, body := get(t, "GET", base+"/live/cam/", nil); r.StatusCode != 200 || !strings.Contains(body, "index.m3u8") {
		t.Fatalf("player page: %d", r.StatusCode)
	}
	if r, _ := get(t, "GET", base+"/live/nope/", nil); r.StatusCode != 404 {
		t.Fatalf("player page of unknown input: %d", r.StatusCode)
	}
	r, _ := get(t, "GET", base+"/live/cam/index.m3u8", nil)
	if r.StatusCode != 404 {
		t.Fatalf("playlist of an idle input: %d, want 404", r.StatusCode)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header on playback")
	}
	r, _ = get(t, "OPTIONS", base+"/live/cam/index.m3u8", map[string]string{
		"Origin": "https://example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range",
	})
	if r.StatusCode != 204 || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "GET") ||
		r.Header.Get("Access-Control-Allow-Headers") != "range" {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r, _ := get(t, "GET", base+"/live/cam", nil); r.Request.URL.Path != "/live/cam/" {
		t.Fatalf("no redirect to the player page: %s", r.Request.URL.Path)
	}
	r, body := get(t, "GET", "http://"+a.MetricsAddr().String()+"/metrics", nil)
	if r.StatusCode != 200 || !strings.Contains(body, "# TYPE mpegflow_build_info gauge") ||
		!strings.Contains(body, "# HELP mpegflow_hls_requests_total") {
		t.Fatalf("metrics: %d", r.StatusCode)
	}
	if !strings.Contains(body, `mpegflow_hls_requests_total{kind="multivariant",status="404"} 1`) {
		t.Fatal("the 404 playlist request was not counted")
	}
	for _, m := range []string{"mpegflow_recording_segments_total 0", "mpegflow_recording_segments_dropped_total 0", "mpegflow_recordings_active 0"} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

func TestCORSConfigurable(t *testing.T) {
	a, _, stop := newTestApp(t, "")
	defer stop()
	_ = a
	cfg := *a.cfg
	cfg.HTTP.CORSAllowOrigin = ""
	h := httpserver.CORS(cfg.HTTP.CORSAllowOrigin)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	rec := &headerRecorder{h: http.Header{}}
	req, _ := http.NewRequest("GET", "/live/x/index.m3u8", nil)
	h.ServeHTTP(rec, req)
	if rec.h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS header sent with cors_allow_origin empty")
	}
}

type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(c int)           { r.code = c }

func TestStreamKeyGeneratedAndKept(t *testing.T) {
	dir := t.TempDir()
	cfg := &conf.Config{DataDir: dir, LiveInputs: []conf.LiveInput{{ID: "cam", StreamKey: conf.AutoKey}}}
	e1, err := live.ResolveKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := live.ResolveKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e1[0].StreamKey != e2[0].StreamKey || len(e1[0].StreamKey) < 20 {
		t.Fatalf("keys %q %q", e1[0].StreamKey, e2[0].StreamKey)
	}
	st, err := os.Stat(live.KeyFile(dir, "cam"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
}

func TestBusyPortFailsStartWithKey(t *testing.T) {
	a, _, stop := newTestApp(t, "")
	defer stop()
	cfg, err := conf.Load("", []string{"MPEGFLOW_HTTP_ADDRESS=" + a.HTTPAddr().String(), "MPEGFLOW_DATA_DIR=" + t.TempDir(),
		"MPEGFLOW_RTMP_ADDRESS=127.0.0.1:0", "MPEGFLOW_SRT_ADDRESS=127.0.0.1:0", "MPEGFLOW_WEBRTC_UDP_ADDRESS=127.0.0.1:0",
		"MPEGFLOW_RTSP_ADDRESS=127.0.0.1:0", "MPEGFLOW_RTSP_UDP_RTP_ADDRESS=", "MPEGFLOW_RTSP_UDP_RTCP_ADDRESS=",
		"MPEGFLOW_METRICS_ADDRESS="})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, slog.New(slog.DiscardHandler), "test", io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "http.address:") {
		t.Fatalf("err = %v, want one naming http.address", err)
	}
}

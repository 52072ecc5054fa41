package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// fullAPI is the real API over SQLite with the real webhook service, a
// recorded video in the store, and a webhook receiver counting requests.
func fullAPI(t *testing.T) (flags []string, hook string, hits *atomic.Int64) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := api.BootstrapAdmin(context.Background(), db.Tokens(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus()
	svc, err := webhook.New(webhook.Config{Store: db.Webhooks(), Bus: bus, AllowPrivateTargets: true,
		Poll: 20 * time.Millisecond, Schedule: []time.Duration{time.Hour}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	srv, err := api.New(api.Config{Store: db, Bus: bus, Endpoints: api.Endpoints{RTMP: ":1935", SRT: ":8890"},
		Webhooks: api.WebhooksDeps{Service: svc}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	hits = &atomic.Int64{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); w.WriteHeader(204) }))
	t.Cleanup(func() {
		hs.Close()
		recv.Close()
		srv.Close()
		cancel()
		<-done
		svc.Close()
		bus.Close()
	})
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := &store.Video{ID: "vid_1", LiveInputID: "li_x", Status: store.VideoReady, CreatedAt: now, StartedAt: now, UpdatedAt: now,
		Meta: map[string]any{}, DownloadStatus: store.DownloadNone}
	if err := db.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	return []string{"--url", hs.URL, "--token", b.Generated}, recv.URL, hits
}

// cliOK runs the CLI and fails unless it exits 0; it returns stdout.
func cliOK(t *testing.T, args ...string) string {
	t.Helper()
	r := cli(args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d\nstdout %s\nstderr %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func cliJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var m map[string]any
	out := cliOK(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return m
}

func TestCLIResources(t *testing.T) {
	f, hook, hits := fullAPI(t)
	with := func(a ...string) []string { return append(a, f...) }

	// live inputs: settings flags, the li alias, yaml
	li := cliJSON(t, with("li", "create", "--name", "s", "--require-signed-urls", "--allowed-origin", "https://a.example", "--srt-passphrase", "correct-horse-battery")...)
	id := li["id"].(string)
	if li["require_signed_urls"] != true || li["allowed_origins"].([]any)[0] != "https://a.example" || li["srt"].(map[string]any)["passphrase"] != "correct-horse-battery" {
		t.Fatalf("create with settings: %v", li)
	}
	var y map[string]any
	if err := yaml.Unmarshal([]byte(cliOK(t, with("li", "get", id, "-o", "yaml")...)), &y); err != nil || y["id"] != id {
		t.Fatalf("-o yaml: %v %v", y, err)
	}
	if u := cliJSON(t, with("live-inputs", "update", id, "--require-signed-urls=false", "--allowed-origin=")...); u["require_signed_urls"] != false || len(u["allowed_origins"].([]any)) != 0 {
		t.Fatalf("update settings: %v", u)
	}
	// a transcode mode the daemon cannot run: the API's validation error, exit 1
	if r := cli(with("li", "update", id, "--transcode", "on")...); r.code != 1 || !strings.Contains(r.stderr, "transcode.mode") {
		t.Fatalf("transcode on without profiles: %+v", r)
	}

	// playback tokens
	pt := cliJSON(t, with("playback-tokens", "create", "--live-input", id, "--ttl", "10m")...)
	if pt["token"] == "" || !strings.Contains(pt["playback"].(map[string]any)["hls"].(string), pt["token"].(string)) {
		t.Fatalf("playback token: %v", pt)
	}
	if r := cli(with("playback-tokens", "create")...); r.code != 2 {
		t.Fatalf("playback token without a resource: %+v", r)
	}
	cliJSON(t, with("playback-tokens", "create", "--video", "vid_1")...)

	// sessions: none live
	if out := cliOK(t, with("sessions", "list", id)...); !strings.HasPrefix(out, "ID") || strings.Count(out, "\n") != 1 {
		t.Fatalf("sessions: %q", out)
	}
	if r := cli(with("sessions", "get", "ses_nope", "-o", "json")...); r.code != 1 || !strings.Contains(r.stderr, `"code":"not_found"`) {
		t.Fatalf("session get: %+v", r)
	}

	// videos
	if out := cliOK(t, with("videos", "list")...); !strings.Contains(out, "vid_1") || !strings.Contains(out, "ready") {
		t.Fatalf("videos list: %s", out)
	}
	if v := cliJSON(t, with("videos", "update", "vid_1", "--meta", `{"title":"Keynote"}`, "--scheduled-deletion", "2030-01-02T03:04:05Z")...); v["scheduled_deletion"] != "2030-01-02T03:04:05.000Z" {
		t.Fatalf("video update: %v", v)
	}
	// this API runs no recorder: clips and downloads answer 501, exit 1
	for _, a := range [][]string{{"videos", "clip", "vid_1", "--start", "0", "--end", "1"}, {"videos", "download", "vid_1"}} {
		if r := cli(with(a...)...); r.code != 1 || !strings.Contains(r.stderr, "not_supported") {
			t.Fatalf("%v: %+v", a, r)
		}
	}
	if r := cli(with("videos", "clip", "vid_1")...); r.code != 2 {
		t.Fatalf("clip without a range: %+v", r)
	}

	// webhooks: create, test, deliveries, one delivery, retry, rotate, delete
	wh := cliJSON(t, with("webhooks", "create", "--receiver", hook, "--event-type", "live_input.created,webhook.test")...)
	wid := wh["id"].(string)
	if !strings.HasPrefix(wh["secret"].(string), "whsec_") {
		t.Fatalf("webhook: %v", wh)
	}
	if r := cli(with("webhooks", "create", "--receiver", hook, "--event-type", "live_input.bogus")...); r.code != 1 || !strings.Contains(r.stderr, "event_types[0]") {
		t.Fatalf("bogus event type: %+v", r)
	}
	if tr := cliJSON(t, with("wh", "test", wid)...); tr["success"] != true || tr["error"] != nil {
		t.Fatalf("webhook test: %v", tr)
	}
	cliOK(t, with("li", "create", "--name", "hooked")...)
	var did string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && did == ""; time.Sleep(20 * time.Millisecond) {
		var ds []map[string]any
		_ = json.Unmarshal([]byte(cliOK(t, with("webhooks", "deliveries", wid, "-o", "json")...)), &ds)
		if len(ds) > 0 && ds[0]["status"] == "succeeded" {
			did = ds[0]["id"].(string)
		}
	}
	if did == "" || hits.Load() < 2 {
		t.Fatalf("no delivery succeeded (%d requests)", hits.Load())
	}
	if d := cliJSON(t, with("webhooks", "delivery", wid, did)...); d["type"] != "live_input.created" {
		t.Fatalf("delivery: %v", d)
	}
	cliJSON(t, with("webhooks", "retry", wid, did)...)
	if r := cliJSON(t, with("webhooks", "rotate-secret", wid)...); r["secret"] == wh["secret"] {
		t.Fatalf("rotate: %v", r)
	}
	if out := cliOK(t, with("webhooks", "update", wid, "--enabled=false")...); !strings.Contains(out, "enabled:") {
		t.Fatalf("webhook update table: %s", out)
	}
	cliOK(t, with("webhooks", "delete", wid)...)

	// signing keys, tokens get
	k := cliJSON(t, with("signing-keys", "create")...)
	if k["pem"] == nil {
		t.Fatalf("signing key: %v", k)
	}
	kid := k["id"].(string)
	if out := cliOK(t, with("keys", "get", kid)...); !strings.Contains(out, kid) {
		t.Fatalf("key get: %s", out)
	}
	if out := cliOK(t, with("signing-keys", "list")...); !strings.Contains(out, "RS256") {
		t.Fatalf("keys list: %s", out)
	}
	if r := cliJSON(t, with("signing-keys", "revoke", kid)...); r["revoked"] != kid {
		t.Fatalf("revoke: %v", r)
	}
	tid := cliJSON(t, with("token", "create", "--name", "ro", "--scope", "videos:read")...)["id"].(string)
	if tj := cliJSON(t, with("token", "get", tid)...); tj["name"] != "ro" {
		t.Fatalf("token get: %v", tj)
	}
}

// TestCLIHelpAndExitCodes: one help style (cobra) with exit 0 on --help,
// 2 on usage errors, 1 on API and network errors; the aliases work.
func TestCLIHelpAndExitCodes(t *testing.T) {
	if os.Getenv("MPEGFLOW_TOKEN") != "" || os.Getenv("MPEGFLOW_URL") != "" {
		t.Skip("MPEGFLOW_TOKEN/MPEGFLOW_URL set in the environment")
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"serve", "--help"}, {"quickstart", "--help"}, {"healthcheck", "--help"},
		{"config", "--help"}, {"li", "--help"}, {"token", "--help"}, {"videos", "clip", "--help"}, {"webhooks", "--help"},
		{"signing-keys", "--help"}, {"playback-tokens", "create", "--help"}, {"sessions", "--help"}, {"help", "li"}} {
		r := cli(args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	if r := cli("--help"); !strings.Contains(r.stdout, "Exit status: 0 ok; 1") {
		t.Errorf("the exit codes are not documented in the help: %s", r.stdout)
	}
	if r := cli("tokens", "create", "--help"); !strings.Contains(r.stdout, "webhooks:write") || !strings.Contains(r.stdout, "videos:read") {
		t.Errorf("tokens create lists only some scopes: %s", r.stdout)
	}
	for _, args := range [][]string{{}, {"nope"}, {"videos"}, {"videos", "bogus"}, {"li", "get"}, {"serve", "--bogus"},
		{"healthcheck", "extra"}, {"webhooks", "create", "--token", "x"}, {"li", "list", "-o", "xml", "--token", "x"}} {
		if r := cli(args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}
	// under -o json a usage error is JSON too
	r := cli("li", "get", "-o", "json")
	var env struct {
		Error struct{ Code, Message string }
	}
	if r.code != 2 || json.Unmarshal([]byte(r.stderr), &env) != nil || env.Error.Code != "usage_error" {
		t.Errorf("usage error under -o json: %+v", r)
	}
	// a network error: 1, JSON under -o json
	r = cli("li", "list", "--url", "http://127.0.0.1:1", "--token", "x", "-o", "json")
	if r.code != 1 || json.Unmarshal([]byte(r.stderr), &env) != nil || env.Error.Code != "cli_error" {
		t.Errorf("network error: %+v", r)
	}
}

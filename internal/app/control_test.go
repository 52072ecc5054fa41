package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

func controlConfig(t *testing.T, dir string, inputs ...conf.LiveInput) *conf.Config {
	t.Helper()
	cfg, err := conf.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.LiveInputs = inputs
	return cfg
}

func openTestControl(t *testing.T, cfg *conf.Config) (*control, string) {
	t.Helper()
	var out bytes.Buffer
	c, err := openControl(context.Background(), cfg, slog.New(slog.DiscardHandler), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, out.String()
}

var tokenRe = regexp.MustCompile(`mf_[0-9a-z]{52}`)

func TestControlBootstrapAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := controlConfig(t, dir, conf.LiveInput{ID: "main", Name: "Main", StreamKey: "auto"}, conf.LiveInput{ID: "old", Name: "Old", StreamKey: "sk_old_key_123456"})
	c, out := openTestControl(t, cfg)
	tok := tokenRe.FindString(out)
	if tok == "" {
		t.Fatalf("no admin token printed: %q", out)
	}
	ctx := context.Background()
	key, err := loadOrCreateKey(KeyFile(dir, "main"))
	if err != nil {
		t.Fatal(err)
	}
	if li, err := c.Directory().ByStreamKey(ctx, key); err != nil || li.ID != "main" {
		t.Fatalf("static key: %v %v", li, err)
	}
	// Create an input over the API.
	hs := httptest.NewServer(c.Handler())
	req, _ := http.NewRequest("POST", hs.URL+"/v1/live_inputs", strings.NewReader(`{"name":"api"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	hs.Close()
	apiKey := regexp.MustCompile(`"stream_key":"(sk_[0-9a-z]+)"`).FindStringSubmatch(string(body))[1]
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil { // idempotent
		t.Fatal(err)
	}

	// Restart without "old": no new token, the API input and its key survive, "old" is gone.
	cfg.LiveInputs = cfg.LiveInputs[:1]
	c, out = openTestControl(t, cfg)
	defer c.Close()
	if tokenRe.MatchString(out) {
		t.Fatalf("a second admin token was printed: %q", out)
	}
	if li, err := c.Directory().ByStreamKey(ctx, apiKey); err != nil || !strings.HasPrefix(li.ID, "li_") {
		t.Fatalf("API input after restart: %v %v", li, err)
	}
	if _, err := c.Directory().ByID(ctx, "old"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("removed static input: %v", err)
	}
	if _, err := c.Directory().ByStreamKey(ctx, "sk_old_key_123456"); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("removed static key: %v", err)
	}
	hs = httptest.NewServer(c.Handler())
	defer hs.Close()
	req, _ = http.NewRequest("GET", hs.URL+"/v1/live_inputs", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("list after restart: %v %v", res, err)
	}
	res.Body.Close()
}

func TestControlDirectory(t *testing.T) {
	cfg := controlConfig(t, t.TempDir(), conf.LiveInput{ID: "a", Name: "A", StreamKey: "sk_static_a_0123456"})
	cfg.API.AdminToken = "configured-admin-token-xyz"
	c, out := openTestControl(t, cfg)
	defer c.Close()
	if out != "" {
		t.Fatalf("printed with a configured admin token: %q", out)
	}
	ctx := context.Background()
	li, err := c.st.LiveInputs().Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key string
		want      error
	}{
		{"known", "sk_static_a_0123456", nil},
		{"unknown", "sk_static_a_0123457", auth.ErrUnknownKey},
		{"empty", "", auth.ErrUnknownKey},
		{"huge", strings.Repeat("k", 100000), auth.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Directory().ByStreamKey(ctx, tt.key)
			if !errors.Is(err, tt.want) || (err == nil && got.ID != "a") {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
	li.Enabled = false
	if err := c.st.LiveInputs().Update(ctx, li); err != nil {
		t.Fatal(err)
	}
	_, err = c.Directory().ByStreamKey(ctx, "sk_static_a_0123456")
	if !errors.Is(err, ErrLiveInputDisabled) || !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("disabled: %v", err)
	}
}

type fakePublishers struct{ kicked, ended []string }

func (f *fakePublishers) Kick(id string) bool { f.kicked = append(f.kicked, id); return true }
func (f *fakePublishers) End(id string) bool  { f.ended = append(f.ended, id); return true }
func (f *fakePublishers) Stats(string) (int64, []string, int) {
	return 2_500_000, []string{"h264", "aac"}, 3
}

func TestControlHooks(t *testing.T) {
	c, _ := openTestControl(t, controlConfig(t, t.TempDir(), conf.LiveInput{ID: "a", Name: "A", StreamKey: "sk_static_a_0123456"}))
	defer c.Close()
	sub := c.Bus().Subscribe(events.SubscribeOptions{})
	defer sub.Close()
	next := func() events.Type {
		select {
		case e := <-sub.C():
			return e.Type
		case <-time.After(time.Second):
			t.Fatal("no event")
		}
		return ""
	}
	c.StreamStarted("a", "rtmp", "127.0.0.1:4000")
	if next() != events.LiveInputConnected || c.rt.Status("a") != api.StatusConnected {
		t.Fatal("connected")
	}
	ss := c.rt.Sessions("a")
	if len(ss) != 1 || ss[0].Protocol != "rtmp" {
		t.Fatalf("sessions %v", ss)
	}
	if _, err := c.rt.Kick(ss[0].ID); !errors.Is(err, api.ErrNotSupported) {
		t.Fatalf("kick without publisher control: %v", err)
	}
	fp := &fakePublishers{}
	c.SetPublisherControl(fp)
	if ss := c.rt.Sessions("a"); ss[0].BitrateBPS != 2_500_000 || ss[0].Viewers != 3 {
		t.Fatalf("stats %v", ss)
	}
	if id, err := c.rt.Kick(ss[0].ID); err != nil || id != "a" || len(fp.kicked) != 1 {
		t.Fatalf("kick: %v %v", id, err)
	}
	c.StreamDisconnected("a")
	if next() != events.LiveInputDisconnected || c.rt.Status("a") != api.StatusReconnecting {
		t.Fatal("reconnecting")
	}
	c.StreamEnded("a")
	if next() != events.LiveInputIdle || c.rt.Status("a") != api.StatusIdle || len(c.rt.liveIDs()) != 0 {
		t.Fatal("idle")
	}
	li, err := c.st.LiveInputs().Get(context.Background(), "a")
	if err != nil || li.LastConnectedAt == nil {
		t.Fatalf("last_connected_at: %v %v", li, err)
	}
}

// The status hooks write their events to the webhook outbox (connected in
// the transaction of last_connected_at) before publishing them; their data
// is the live input as the API returns it, without the stream key, with
// the status of the moment.
func TestControlHooksWriteTheOutbox(t *testing.T) {
	c, _ := openTestControl(t, controlConfig(t, t.TempDir(), conf.LiveInput{ID: "a", Name: "A", StreamKey: "sk_static_a_0123456"}))
	defer c.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := c.st.Webhooks().CreateEndpoint(ctx, &store.WebhookEndpoint{ID: "whk_1", URL: "https://example.com/", Enabled: true,
		Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sub := c.Bus().Subscribe(events.SubscribeOptions{})
	defer sub.Close()
	c.StreamStarted("a", "rtmp", "127.0.0.1:4000")
	c.StreamDisconnected("a")
	c.StreamStarted("a", "rtmp", "127.0.0.1:4001")
	c.StreamEnded("a")
	want := []string{"live_input.connected", "live_input.disconnected", "live_input.connected", "live_input.disconnected", "live_input.idle"}
	status := []string{"connected", "reconnecting", "connected", "idle", "idle"}
	ds, _, err := c.st.Webhooks().ListDeliveries(ctx, "whk_1", store.ListOptions{Limit: 100})
	if err != nil || len(ds) != len(want) {
		t.Fatalf("outbox: %d deliveries, %v; want %d", len(ds), err, len(want))
	}
	slices.SortFunc(ds, func(a, b *store.WebhookDelivery) int { return int(a.Seq - b.Seq) })
	for i, d := range ds {
		if d.EventType != want[i] {
			t.Fatalf("outbox event %d: %s, want %s", i, d.EventType, want[i])
		}
		ev := <-sub.C() // published after the write, in the same order
		if ev.ID != d.EventID {
			t.Fatalf("bus event %d: %s, outbox %s", i, ev.ID, d.EventID)
		}
		b, _ := json.Marshal(ev.Data)
		var obj map[string]any
		_ = json.Unmarshal(b, &obj)
		if obj["id"] != "a" || obj["status"] != status[i] || obj["name"] != "A" || strings.Contains(string(b), "sk_static_a_0123456") {
			t.Fatalf("%s data %s, want the live input with status %s and no key", d.EventType, b, status[i])
		}
	}
	heads, err := c.st.Webhooks().Due(ctx, time.Now(), 10)
	if err != nil || len(heads) != 1 || !strings.Contains(string(heads[0].Payload), `"status":"connected"`) {
		t.Fatalf("outbox head %v %v", heads, err)
	}
}

package live

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/internal/stream"
)

const testKey = "sk_static_a_0123456"

func openTestStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := ImportStatic(context.Background(), st.LiveInputs(), []auth.StaticEntry{{ID: "a", Name: "A", StreamKey: testKey}}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return st
}

type fakeMetrics struct{}

func (fakeMetrics) StreamStarted(string)   {}
func (fakeMetrics) StreamEnded(string)     {}
func (fakeMetrics) Dropped(string, string) {}
func (fakeMetrics) Bitrate(string) float64 { return 2_500_000 }

func (fakeMetrics) RTPStats(string) (ingest.RTPStats, bool) { return ingest.RTPStats{}, false }
func (fakeMetrics) Viewers(id string) int                   { return 3 }

func newTestRuntime(t *testing.T, st store.Store) (*Runtime, *events.Bus) {
	t.Helper()
	bus := events.NewBus()
	r, err := New(Config{LiveInputs: st.LiveInputs(), Outbox: st.Webhooks(), Bus: bus, Render: api.NewRenderer(api.Endpoints{}),
		Kinds: &pipeline.Registry{}, ReconnectWindow: time.Hour, Metrics: fakeMetrics{}, Viewers: fakeMetrics{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, bus
}

func TestDirectory(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	d := NewDirectory(st.LiveInputs())
	tests := []struct {
		name, key string
		want      error
	}{
		{"known", testKey, nil},
		{"unknown", "sk_static_a_0123457", auth.ErrUnknownKey},
		{"empty", "", auth.ErrUnknownKey},
		{"huge", strings.Repeat("k", 100000), auth.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.ByStreamKey(ctx, tt.key)
			if !errors.Is(err, tt.want) || (err == nil && got.ID != "a") {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
	li, err := st.LiveInputs().Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	li.Enabled = false
	if err := st.LiveInputs().Update(ctx, li); err != nil {
		t.Fatal(err)
	}
	_, err = d.ByStreamKey(ctx, testKey)
	if !errors.Is(err, ErrLiveInputDisabled) || !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := d.ByID(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

var testTracks = []stream.Track{{Codec: stream.AAC{Config: []byte{0x11, 0x90}}}}

// The hub's publishers drive the live state: connected, a session with
// its figures, a kick (reconnecting), the end (idle).
func TestRuntimeHooks(t *testing.T) {
	st := openTestStore(t)
	r, bus := newTestRuntime(t, st)
	sub := bus.Subscribe(events.SubscribeOptions{})
	defer sub.Close()
	next := func() events.Type {
		select {
		case e := <-sub.C():
			return e.Type
		case <-time.After(2 * time.Second):
			t.Fatal("no event")
		}
		return ""
	}
	if _, err := r.Kick("ses_none"); !errors.Is(err, api.ErrNoSession) {
		t.Fatalf("kick of no session: %v", err)
	}
	p, err := r.Hub().PublishSession("a", testTracks, false, stream.SessionInfo{Protocol: "rtmp", Remote: "127.0.0.1:4000"})
	if err != nil {
		t.Fatal(err)
	}
	if next() != events.LiveInputConnected || r.Status("a") != api.StatusConnected {
		t.Fatal("connected")
	}
	ss := r.Sessions("a")
	if len(ss) != 1 || ss[0].Protocol != "rtmp" || ss[0].BitrateBPS != 2_500_000 || ss[0].Viewers != 3 || !slices.Equal(ss[0].Codecs, []string{"aac"}) {
		t.Fatalf("sessions %+v", ss)
	}
	if s, ok := r.Session(ss[0].ID); !ok || s.LiveInputID != "a" {
		t.Fatalf("session lookup %v %v", s, ok)
	}
	if id, err := r.Kick(ss[0].ID); err != nil || id != "a" {
		t.Fatalf("kick: %v %v", id, err)
	}
	if next() != events.LiveInputDisconnected || r.Status("a") != api.StatusReconnecting {
		t.Fatal("reconnecting")
	}
	p.Close()
	if err := r.End("a"); err != nil {
		t.Fatal(err)
	}
	if next() != events.LiveInputIdle || r.Status("a") != api.StatusIdle || len(r.LiveIDs()) != 0 {
		t.Fatal("idle")
	}
	li, err := st.LiveInputs().Get(context.Background(), "a")
	if err != nil || li.LastConnectedAt == nil {
		t.Fatalf("last_connected_at: %v %v", li, err)
	}
}

// The status hooks write their events to the webhook outbox (connected in
// the transaction of last_connected_at) before publishing them; their data
// is the live input as the API returns it, without the stream key, with
// the status of the moment.
func TestRuntimeHooksWriteTheOutbox(t *testing.T) {
	st := openTestStore(t)
	r, bus := newTestRuntime(t, st)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := st.Webhooks().CreateEndpoint(ctx, &store.WebhookEndpoint{ID: "whk_1", URL: "https://example.com/", Enabled: true,
		Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sub := bus.Subscribe(events.SubscribeOptions{})
	defer sub.Close()
	r.started("a", "rtmp", "127.0.0.1:4000")
	r.disconnected("a")
	r.started("a", "rtmp", "127.0.0.1:4001")
	r.ended("a")
	want := []string{"live_input.connected", "live_input.disconnected", "live_input.connected", "live_input.disconnected", "live_input.idle"}
	status := []string{"connected", "reconnecting", "connected", "idle", "idle"}
	ds, _, err := st.Webhooks().ListDeliveries(ctx, "whk_1", store.ListOptions{Limit: 100})
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
		if obj["id"] != "a" || obj["status"] != status[i] || obj["name"] != "A" || strings.Contains(string(b), testKey) {
			t.Fatalf("%s data %s, want the live input with status %s and no key", d.EventType, b, status[i])
		}
	}
	heads, err := st.Webhooks().Due(ctx, time.Now(), 10)
	if err != nil || len(heads) != 1 || !strings.Contains(string(heads[0].Payload), `"status":"connected"`) {
		t.Fatalf("outbox head %v %v", heads, err)
	}
}

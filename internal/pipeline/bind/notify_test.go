package bind

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// outbox records what EmitTo was asked to queue.
type outbox struct {
	mu   sync.Mutex
	sent []string // endpoint key type
}

func (o *outbox) EmitTo(_ context.Context, endpointID string, e events.Event, key string) error {
	o.mu.Lock()
	o.sent = append(o.sent, endpointID+" "+key+" "+string(e.Type)+" "+e.LiveInputID)
	o.mu.Unlock()
	return nil
}

func (o *outbox) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.sent)
}

// TestNotifyWebhook: the events a notify.webhook node's `on` names, about
// its pipeline's live input, go to the endpoint it names (after the
// broadcast too: from the stored pipeline); other events, other inputs
// and a node its `when` leaves out of the live graph send nothing.
func TestNotifyWebhook(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range []string{"li_a", "li_b"} {
		if err := db.LiveInputs().Create(ctx, &store.LiveInput{ID: id, Name: id, StreamKeyHash: []byte(id), Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	cam := manifest.Node{ID: "cam", Type: "source.live", Config: map[string]any{"live_input": "li_a"}}
	rec := manifest.Node{ID: "rec", Type: "record.vod", Inputs: []string{"cam"}}
	hook := manifest.Node{ID: "hook", Type: "notify.webhook", On: []string{"rec.ready", "cam.disconnected"}, Config: map[string]any{"webhook": "whk_1"}}
	off := manifest.Node{ID: "off", Type: "notify.webhook", On: []string{"cam.connected"}, When: "source.video.height >= 720", Config: map[string]any{"webhook": "whk_2"}}
	m := doc(cam, rec, hook, off)
	js, _ := json.Marshal(m)
	if err := db.Pipelines().Create(ctx, &store.Pipeline{Name: "p", Generation: 1, Manifest: string(js), LiveInputs: []string{"li_a"}}); err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus()
	defer bus.Close()
	ob := &outbox{}
	rt, err := New(Config{Pipelines: db.Pipelines(), LiveInputs: db.LiveInputs(), Bus: bus, Notify: ob, Types: Types(Components{})})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	// after the broadcast: the stored pipeline's nodes
	bus.Publish(events.New(events.LiveInputConnected, "li_b", nil))
	bus.Publish(events.New(events.LiveInputDisconnected, "li_b", nil))
	bus.Publish(events.New(events.LiveInputIdle, "li_a", nil))
	bus.Publish(events.New(events.VideoReady, "li_a", nil))
	waitFor(t, "rec.ready sent", func() bool { return len(ob.get()) == 1 })
	if got := ob.get(); got[0] != "whk_1 p/hook video.ready li_a" {
		t.Fatalf("sent %v", got)
	}

	// while live: the nodes its graph runs (off's `when` is false)
	rt.mu.Lock()
	rt.graphs["li_a"] = &liveGraph{li: "li_a", bound: true, pipeline: "p", generation: 1, m: m,
		plan: rt.planNodes(m, "li_a", manifest.Source{LiveInput: "li_a", Audio: &manifest.AudioFacts{Codec: "aac"}})}
	rt.mu.Unlock()
	bus.Publish(events.New(events.LiveInputConnected, "li_a", nil))
	bus.Publish(events.New(events.LiveInputDisconnected, "li_a", nil))
	waitFor(t, "cam.disconnected sent", func() bool { return len(ob.get()) == 2 })
	if got := ob.get(); got[1] != "whk_1 p/hook live_input.disconnected li_a" {
		t.Fatalf("sent %v", got)
	}
}

// restreams records the outputs its nodes were built for.
type restreams struct{ ids [][]string }

func (r *restreams) OutputNode(env *pipeline.Env, ids []string) pipeline.Node {
	r.ids = append(r.ids, ids)
	return &follow{kind: "output.restream", src: env.Source}
}

// An output.restream node runs only the output it names.
func TestRestreamNamedOutput(t *testing.T) {
	rs := &restreams{}
	newNode, err := Types(Components{Restream: rs})["output.restream"](manifest.Node{ID: "yt", Type: "output.restream",
		Inputs: []string{"cam"}, Config: map[string]any{"output": "out_1"}})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li_a", aacTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.End()
	if _, err := newNode(&pipeline.Env{Source: pub.Stream()}); err != nil {
		t.Fatal(err)
	}
	if len(rs.ids) != 1 || !slices.Equal(rs.ids[0], []string{"out_1"}) {
		t.Fatalf("outputs %v", rs.ids)
	}
}

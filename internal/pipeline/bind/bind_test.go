package bind

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/internal/stream"
)

var (
	aacTracks = []stream.Track{{Codec: stream.AAC{Config: []byte{0x11, 0x90}}}}
	// avTracks are video (H.264, its size unknown) and AAC audio
	avTracks = []stream.Track{{Codec: stream.H264{}}, aacTracks[0]}
)

// probe is a node that counts how often each node id was started.
type probe struct {
	id     string
	starts *starts
	src    *stream.Stream
}

type starts struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *starts) get(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[id]
}

func (p *probe) ID() string   { return p.id }
func (p *probe) Kind() string { return "probe" }
func (p *probe) Run(ctx context.Context) error {
	p.starts.mu.Lock()
	p.starts.n[p.id]++
	p.starts.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-p.src.Ended():
	}
	return nil
}

type recordEvents struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recordEvents) Publish(e events.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recordEvents) count(t events.Type) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.evs {
		if e.Type == t {
			n++
		}
	}
	return n
}

func doc(nodes ...manifest.Node) *manifest.Manifest {
	return &manifest.Manifest{APIVersion: manifest.APIVersion, Kind: manifest.KindPipeline,
		Metadata: manifest.Metadata{Name: "p"}, Spec: manifest.Spec{Nodes: nodes}}
}

// TestHotApply: a bound live input runs its pipeline's nodes (a `when`
// false for the source leaves its node out); a new generation adds and
// removes nodes without restarting the others, and a changed node
// restarts alone; an unbound live input keeps the default graph.
func TestHotApply(t *testing.T) {
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
	st := &starts{n: map[string]int{}}
	probeType := func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
		return func(env *pipeline.Env) (pipeline.Node, error) {
			return &probe{id: n.ID, starts: st, src: env.Source}, nil
		}, nil
	}
	types := map[string]NodeType{"package.llhls": probeType, "record.vod": probeType, "thumbnail": probeType, "transcode.abr": probeType}
	evs := &recordEvents{}
	rt, err := New(Config{Pipelines: db.Pipelines(), LiveInputs: db.LiveInputs(), Types: types, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	reg := &pipeline.Registry{}
	reg.Register(pipeline.Kind{Name: "default", New: func(env *pipeline.Env) (pipeline.Node, error) {
		return &probe{id: "default", starts: st, src: env.Source}, nil
	}})
	reg.Bind(rt)
	m, err := pipeline.NewManager(pipeline.ManagerConfig{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	hub := stream.NewHub(stream.HubConfig{OnStart: m.Start, OnRendition: m.Rendition, OnEnd: m.End})

	cam := manifest.Node{ID: "cam", Type: "source.live", Config: map[string]any{"live_input": "li_a"}}
	ladder := manifest.Node{ID: "ladder", Type: "transcode.abr", Inputs: []string{"cam"}, Config: map[string]any{"x": int64(1)}}
	hls := manifest.Node{ID: "hls", Type: "package.llhls", Inputs: []string{"cam", "ladder"}}
	rec := manifest.Node{ID: "rec", Type: "record.vod", Inputs: []string{"cam"}, When: `source.audio.codec == "opus"`}
	gen1 := doc(cam, ladder, hls, rec)
	js, _ := json.Marshal(gen1)
	p := &store.Pipeline{Name: "p", Generation: 1, Manifest: string(js), LiveInputs: []string{"li_a"}}
	if err := db.Pipelines().Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	pa, err := hub.Publish("li_a", avTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := hub.Publish("li_b", aacTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nodes running", func() bool { return st.get("hls") == 1 && st.get("ladder") == 1 && st.get("default") == 1 })
	if st.get("rec") != 0 {
		t.Fatal("a node whose when is false ran")
	}
	status := rt.Status(p, gen1)
	want := map[string]string{"cam": api.NodeRunning, "ladder": api.NodeRunning, "hls": api.NodeRunning, "rec": api.NodeStopped}
	for _, ns := range status.Nodes {
		if want[ns.ID] != ns.State || ns.LiveInputID != "li_a" {
			t.Fatalf("node %s: %+v, want %s", ns.ID, ns, want[ns.ID])
		}
	}

	// generation 2: a thumbnail added; hls and the ladder untouched
	thumbs := manifest.Node{ID: "thumbs", Type: "thumbnail", Inputs: []string{"cam"}}
	gen2 := doc(cam, ladder, hls, rec, thumbs)
	apply(t, db, rt, p, gen2)
	waitFor(t, "thumbnail running", func() bool { return st.get("thumbs") == 1 })
	if st.get("hls") != 1 || st.get("ladder") != 1 {
		t.Fatalf("adding a node restarted others: %v", st.n)
	}
	// generation 3: the ladder changes: it alone restarts; thumbs removed
	ladder2 := ladder
	ladder2.Config = map[string]any{"x": int64(2)}
	gen3 := doc(cam, ladder2, hls, rec)
	apply(t, db, rt, p, gen3)
	waitFor(t, "ladder restarted", func() bool { return st.get("ladder") == 2 })
	if st.get("hls") != 1 || st.get("default") != 1 {
		t.Fatalf("changing the ladder restarted others: %v", st.n)
	}
	status = rt.Status(p, gen3)
	if status.ObservedGeneration != 3 || len(status.Nodes) != 4 {
		t.Fatalf("status after gen 3: %+v", status)
	}
	for _, ns := range status.Nodes {
		if ns.ID == "thumbs" {
			t.Fatal("a deleted node is still reported")
		}
	}
	waitFor(t, "events", func() bool {
		return evs.count(events.PipelineApplied) == 2 && evs.count(events.PipelineNodeStateChanged) >= 6
	})

	// the unbound input shows its default graph as a manifest
	eff, est, err := rt.Effective(ctx, "li_b")
	if err != nil || eff.Spec.Nodes[0].Type != "source.live" || len(est.Nodes) == 0 || est.Nodes[0].State != api.NodeRunning {
		t.Fatalf("effective default: %+v %+v %v", eff, est, err)
	}
	pa.End()
	pb.End()
	status = rt.Status(p, gen3)
	for _, ns := range status.Nodes {
		if ns.State != api.NodeWaitingForInput {
			t.Fatalf("after the end: %+v", ns)
		}
	}
}

func apply(t *testing.T, db store.Store, rt *Runtime, p *store.Pipeline, m *manifest.Manifest) {
	t.Helper()
	js, _ := json.Marshal(m)
	p.Manifest = string(js)
	if err := db.Pipelines().Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	rt.Applied(t.Context(), p, m)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMediaMisfit: a bound live input whose media does not fit a node
// (VP8 into HLS without a ladder) goes live with that node errored
// (media_incompatible) and the others running; while it is live,
// CheckMedia refuses such a manifest, naming the node and its input.
func TestMediaMisfit(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.LiveInputs().Create(ctx, &store.LiveInput{ID: "li_a", Name: "a", StreamKeyHash: []byte("a"), Enabled: true}); err != nil {
		t.Fatal(err)
	}
	st := &starts{n: map[string]int{}}
	probeType := func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
		return func(env *pipeline.Env) (pipeline.Node, error) {
			return &probe{id: n.ID, starts: st, src: env.Source}, nil
		}, nil
	}
	evs := &recordEvents{}
	rt, err := New(Config{Pipelines: db.Pipelines(), LiveInputs: db.LiveInputs(), Events: evs,
		Types: map[string]NodeType{"package.llhls": probeType, "thumbnail": probeType}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	reg := &pipeline.Registry{}
	reg.Bind(rt)
	mgr, err := pipeline.NewManager(pipeline.ManagerConfig{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	hub := stream.NewHub(stream.HubConfig{OnStart: mgr.Start, OnRendition: mgr.Rendition, OnEnd: mgr.End})

	cam := manifest.Node{ID: "cam", Type: "source.live", Config: map[string]any{"live_input": "li_a"}}
	hls := manifest.Node{ID: "hls", Type: "package.llhls", Inputs: []string{"cam"}}
	thumbs := manifest.Node{ID: "thumbs", Type: "thumbnail", Inputs: []string{"cam"}}
	m := doc(cam, hls, thumbs)
	js, _ := json.Marshal(m)
	p := &store.Pipeline{Name: "p", Generation: 1, Manifest: string(js), LiveInputs: []string{"li_a"}}
	if err := db.Pipelines().Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	pub, err := hub.Publish("li_a", []stream.Track{{Codec: stream.VP8{Width: 640, Height: 480}}, aacTracks[0]}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.End()
	waitFor(t, "thumbnail running", func() bool { return st.get("thumbs") == 1 })
	if st.get("hls") != 0 {
		t.Fatal("a packager ran on VP8 without a ladder")
	}
	var hlsState api.PipelineNodeStatus
	for _, ns := range rt.Status(p, m).Nodes {
		if ns.ID == "hls" {
			hlsState = ns
		}
	}
	if hlsState.State != api.NodeErrored || !strings.HasPrefix(hlsState.LastError, manifest.CodeMediaIncompatible+": ") ||
		!strings.Contains(hlsState.LastError, "vp8") {
		t.Fatalf("hls: %+v", hlsState)
	}
	waitFor(t, "errored event", func() bool { return evs.count(events.PipelineNodeStateChanged) >= 1 })

	err = rt.CheckMedia(m)
	var es manifest.Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Node != "hls" || es[0].Path != "/spec/nodes/1/inputs/0" {
		t.Fatalf("CheckMedia while live: %v", err)
	}
	ladder := manifest.Node{ID: "ladder", Type: "transcode.abr", Inputs: []string{"cam"},
		Config: map[string]any{"renditions": []any{map[string]any{"name": "r", "height": int64(360), "video_bitrate": "700k"}}}}
	hls.Inputs = []string{"cam", "ladder"}
	if err := rt.CheckMedia(doc(cam, ladder, hls, thumbs)); err != nil {
		t.Fatalf("with a ladder: %v", err)
	}
}

// TestBindWhileLive: a pipeline bound to a live input that is live
// running its default graph takes effect on the running broadcast: the
// default packager is taken over under the pipeline's id without a
// restart, the default recorder the pipeline lacks is removed, and the
// pipeline's new node starts.
func TestBindWhileLive(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	li := &store.LiveInput{ID: "li_a", Name: "a", StreamKeyHash: []byte("a"), Enabled: true,
		Recording: store.Recording{Mode: store.RecordingAutomatic}}
	if err := db.LiveInputs().Create(ctx, li); err != nil {
		t.Fatal(err)
	}
	st := &starts{n: map[string]int{}}
	probeType := func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
		return func(env *pipeline.Env) (pipeline.Node, error) {
			return &probe{id: n.ID, starts: st, src: env.Source}, nil
		}, nil
	}
	evs := &recordEvents{}
	rt, err := New(Config{Pipelines: db.Pipelines(), LiveInputs: db.LiveInputs(), Events: evs,
		Types: map[string]NodeType{"package.llhls": probeType, "thumbnail": probeType, "record.vod": probeType}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	reg := &pipeline.Registry{}
	for _, id := range []string{"hls", "record"} {
		reg.Register(pipeline.Kind{Name: id, New: func(env *pipeline.Env) (pipeline.Node, error) {
			return &probe{id: id, starts: st, src: env.Source}, nil
		}})
	}
	reg.Bind(rt)
	mgr, err := pipeline.NewManager(pipeline.ManagerConfig{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	hub := stream.NewHub(stream.HubConfig{OnStart: mgr.Start, OnRendition: mgr.Rendition, OnEnd: mgr.End})
	pub, err := hub.Publish("li_a", avTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.End()
	waitFor(t, "the default graph running", func() bool { return st.get("hls") == 1 && st.get("record") == 1 })

	cam := manifest.Node{ID: "cam", Type: "source.live", Config: map[string]any{"live_input": "li_a"}}
	pkg := manifest.Node{ID: "packager", Type: "package.llhls", Inputs: []string{"cam"}}
	thumbs := manifest.Node{ID: "thumbs", Type: "thumbnail", Inputs: []string{"cam"}}
	m := doc(cam, pkg, thumbs)
	js, _ := json.Marshal(m)
	p := &store.Pipeline{Name: "p", Generation: 1, Manifest: string(js), LiveInputs: []string{"li_a"}}
	if err := db.Pipelines().Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	rt.Applied(ctx, p, m)
	waitFor(t, "the thumbnail running", func() bool { return st.get("thumbs") == 1 })
	if st.get("packager") != 0 || st.get("hls") != 1 {
		t.Fatalf("the packager restarted: %v", st.n)
	}
	ids := map[string]pipeline.State{}
	for _, s := range mgr.Status("li_a") {
		ids[s.ID] = s.State
	}
	if ids["packager"] != pipeline.StateRunning || ids["thumbs"] != pipeline.StateRunning || len(ids) != 2 {
		t.Fatalf("graph after binding: %v", ids)
	}
	status := rt.Status(p, m)
	if status.ObservedGeneration != 1 {
		t.Fatalf("observed generation %d", status.ObservedGeneration)
	}
	for _, ns := range status.Nodes {
		if ns.State != api.NodeRunning {
			t.Fatalf("node %s: %+v", ns.ID, ns)
		}
	}
	waitFor(t, "pipeline.applied", func() bool { return evs.count(events.PipelineApplied) == 1 })
}

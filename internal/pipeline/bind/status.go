package bind

import (
	"context"
	"fmt"
	"strings"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
)

// mapState names a graph node's state as the API does: built is pending,
// done stopped, failed errored, and a running node whose work restarted
// and has read nothing since is retrying.
func mapState(st pipeline.Status) string {
	switch st.State {
	case pipeline.StateBuilt:
		return api.NodePending
	case pipeline.StateRunning:
		return api.NodeRunning
	case pipeline.StateDone:
		return api.NodeStopped
	case pipeline.StateFailed:
		return api.NodeErrored
	}
	return string(st.State)
}

func nodeStatus(st pipeline.Status, li string) api.PipelineNodeStatus {
	return api.PipelineNodeStatus{ID: st.ID, Type: st.Kind, LiveInputID: li, State: mapState(st), LastError: st.LastError,
		Restarts: st.Restarts, Counters: api.PipelineNodeCounters{In: st.In, Out: st.Out, Dropped: st.Dropped}}
}

// Status implements api.PipelineRuntime: every node of m for each live
// input of p that is live and runs it; when none is, every node waits
// for its input. observed_generation is the oldest generation a live
// graph of p runs, p.Generation when none is live (an idle live input
// builds its graph from the stored generation when it goes live).
func (r *Runtime) Status(p *store.Pipeline, m *manifest.Manifest) api.PipelineStatus {
	out := api.PipelineStatus{Name: p.Name, Generation: p.Generation, ObservedGeneration: p.Generation, Nodes: []api.PipelineNodeStatus{}}
	r.mu.Lock()
	var live []*liveGraph
	for _, lg := range r.graphs {
		if lg.bound && lg.pipeline == p.Name && lg.g != nil {
			live = append(live, lg)
			out.ObservedGeneration = min(out.ObservedGeneration, lg.generation)
		}
	}
	r.mu.Unlock()
	covered := map[string]bool{}
	for _, lg := range live {
		for _, ns := range r.graphNodes(lg) {
			covered[ns.ID] = true
			out.Nodes = append(out.Nodes, ns)
		}
	}
	for _, n := range m.Spec.Nodes {
		if !covered[n.ID] {
			ns := api.PipelineNodeStatus{ID: n.ID, Type: n.Type, State: api.NodeWaitingForInput}
			if n.Type == "source.live" {
				ns.LiveInputID, _ = n.Config["live_input"].(string)
			}
			out.Nodes = append(out.Nodes, ns)
		}
	}
	return out
}

// graphNodes reports the nodes of a bound live graph in manifest order.
func (r *Runtime) graphNodes(lg *liveGraph) []api.PipelineNodeStatus {
	r.mu.Lock()
	m, plan := lg.m, lg.plan
	r.mu.Unlock()
	running := map[string]pipeline.Status{}
	for _, st := range lg.g.Status() {
		running[st.ID] = st
	}
	var out []api.PipelineNodeStatus
	for _, n := range m.Spec.Nodes {
		ns := api.PipelineNodeStatus{ID: n.ID, Type: n.Type, LiveInputID: lg.li}
		st, isRunning := running[n.ID]
		switch {
		case n.ID == plan.source:
			ns.State = api.NodeRunning
			ns.Counters.In = lg.g.Source().Units()
		case isRunning:
			ns = nodeStatus(st, lg.li)
			ns.Type = n.Type
			if why := plan.deferred[n.ID]; why != "" && ns.LastError == "" {
				ns.LastError = why
			}
		case plan.skipped[n.ID] != "":
			ns.State, ns.LastError = api.NodeStopped, plan.skipped[n.ID]
		case plan.failed[n.ID] != "":
			ns.State, ns.LastError = api.NodeErrored, plan.failed[n.ID]
		default:
			if _, ok := plan.index[n.ID]; !ok {
				continue // another live input's part of the pipeline
			}
			ns.State, ns.LastError = api.NodeStopped, "not run: its settings ask for nothing here"
		}
		out = append(out, ns)
	}
	return out
}

// Effective implements api.PipelineRuntime.
func (r *Runtime) Effective(ctx context.Context, id string) (*manifest.Manifest, api.PipelineStatus, error) {
	li, err := r.cfg.LiveInputs.Get(ctx, id)
	if err != nil {
		return nil, api.PipelineStatus{}, err
	}
	if p, err := r.cfg.Pipelines.Bound(ctx, id); err == nil {
		m, err := manifest.Decode([]byte(p.Manifest))
		if err != nil {
			return nil, api.PipelineStatus{}, fmt.Errorf("stored pipeline %s: %w", p.Name, err)
		}
		st := r.Status(p, m)
		// only this live input's part
		nodes := st.Nodes[:0:0]
		for _, ns := range st.Nodes {
			if ns.LiveInputID == id || ns.LiveInputID == "" {
				nodes = append(nodes, ns)
			}
		}
		st.Nodes = nodes
		return m, st, nil
	}
	m, err := r.defaultManifest(ctx, li)
	if err != nil {
		return nil, api.PipelineStatus{}, err
	}
	return m, api.PipelineStatus{Nodes: r.defaultStatus(m, id)}, nil
}

// defaultNode maps the default graph's node ids (the kinds' own ids)
// onto the nodes of the rendered manifest.
func defaultNode(nodeID string) string {
	if strings.HasPrefix(nodeID, "restream") {
		return "restream"
	}
	return nodeID
}

// defaultStatus reports the default graph's nodes of live input id.
func (r *Runtime) defaultStatus(m *manifest.Manifest, id string) []api.PipelineNodeStatus {
	r.mu.Lock()
	lg := r.graphs[id]
	r.mu.Unlock()
	running := map[string]pipeline.Status{}
	if lg != nil && lg.g != nil {
		for _, st := range lg.g.Status() {
			running[st.ID] = st
		}
	}
	out := []api.PipelineNodeStatus{}
	for _, n := range m.Spec.Nodes {
		ns := api.PipelineNodeStatus{ID: n.ID, Type: n.Type, LiveInputID: id, State: api.NodeWaitingForInput}
		if lg != nil && lg.g != nil {
			if n.Type == "source.live" {
				ns.State, ns.Counters.In = api.NodeRunning, lg.g.Source().Units()
			} else if st, ok := running[defaultNode(n.ID)]; ok {
				ns = nodeStatus(st, id)
				ns.ID, ns.Type = n.ID, n.Type
			} else {
				ns.State, ns.LastError = api.NodeStopped, "not run"
			}
		}
		out = append(out, ns)
	}
	return out
}

// defaultManifest renders the default graph of a live input, built from
// its settings, as a manifest: the source, the LL-HLS packager, the
// ladder when transcode.mode is on, the recorder when recording.mode is
// automatic, and one output.restream node per restream output. Its node
// ids are the default graph's own, so that its status reads like a
// pipeline's.
func (r *Runtime) defaultManifest(ctx context.Context, li *store.LiveInput) (*manifest.Manifest, error) {
	m := &manifest.Manifest{APIVersion: manifest.APIVersion, Kind: manifest.KindPipeline,
		Metadata: manifest.Metadata{Name: strings.ToLower(li.ID)}}
	add := func(n manifest.Node) { m.Spec.Nodes = append(m.Spec.Nodes, n) }
	add(manifest.Node{ID: "source", Type: "source.live", Config: map[string]any{"live_input": li.ID}})
	hlsIn := []string{"source"}
	if r.cfg.Transcoding && li.Transcode.Mode == "on" {
		names := li.Transcode.Ladder
		if len(names) == 0 {
			for _, p := range r.cfg.Profiles {
				names = append(names, p.Name)
			}
		}
		var rends []any
		for _, name := range names {
			for _, p := range r.cfg.Profiles {
				if p.Name == name {
					rend := map[string]any{"name": p.Name, "height": int64(p.Height), "video_bitrate": p.Bitrate}
					if p.Codec != "" {
						rend["codec"] = codecName(p.Codec)
					}
					rends = append(rends, rend)
				}
			}
		}
		if len(rends) > 0 {
			add(manifest.Node{ID: "transcode", Type: "transcode.abr", Inputs: []string{"source"}, Config: map[string]any{"renditions": rends}})
			hlsIn = append(hlsIn, "transcode")
		}
	}
	add(manifest.Node{ID: "hls", Type: "package.llhls", Inputs: hlsIn})
	if li.Recording.Mode == store.RecordingAutomatic {
		cfg := map[string]any{}
		if li.Recording.DeleteAfterDays > 0 {
			cfg["delete_after_days"] = int64(li.Recording.DeleteAfterDays)
		}
		add(manifest.Node{ID: "record", Type: "record.vod", Inputs: []string{"source"}, Config: cfg})
	}
	if r.cfg.Outputs != nil {
		outs, err := r.cfg.Outputs.List(ctx, li.ID)
		if err != nil {
			return nil, fmt.Errorf("outputs of %s: %w", li.ID, err)
		}
		for i, o := range outs {
			id := "restream"
			if len(outs) > 1 {
				id = fmt.Sprintf("restream-%d", i+1)
			}
			add(manifest.Node{ID: id, Type: "output.restream", Inputs: []string{"source"}, Config: map[string]any{"output": o.ID}})
		}
	}
	return m, nil
}

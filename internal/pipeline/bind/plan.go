package bind

import (
	"sort"
	"strings"

	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
)

// nodePlan is what one live input's graph runs of a manifest: the specs
// of its nodes in build order, and the nodes it leaves out with why.
type nodePlan struct {
	specs []pipeline.NodeSpec
	index map[string]struct{} // ids of specs
	// skipped: `when` is false, or what it reads does not run
	skipped map[string]string
	// failed: the type is not available here, or its config not usable
	failed map[string]string
	// deferred: changed, applied at the next broadcast (the packager)
	deferred map[string]string
	// source is the id of the source.live node of this live input
	source string
}

// buildRank orders the node types at build: the ladder before the
// packager and the recorder (it tells them about a top rendition standing
// for a source HLS cannot carry), the packager before the nodes that read
// its segments.
var buildRank = map[string]int{
	"transcode.abr":   1,
	"package.llhls":   2,
	"record.vod":      3,
	"thumbnail":       4,
	"package.whep":    5,
	"output.restream": 6,
	"notify.webhook":  7,
}

// port returns the node part of a port (`node` or `node.rendition`).
func port(in string) string {
	id, _, _ := strings.Cut(in, ".")
	return id
}

// planNodes picks the nodes of m that run in the graph of live input li
// (the nodes downstream of its source.live node, and the triggered nodes
// that listen to them), evaluates their `when` against the source's
// facts, leaves out (errored) the nodes its media does not fit
// (Manifest.CheckMedia) and builds the specs of the others.
func (r *Runtime) planNodes(m *manifest.Manifest, li string, src manifest.Source) nodePlan {
	facts := src.Facts()
	p := nodePlan{index: map[string]struct{}{}, skipped: map[string]string{}, failed: map[string]string{}, deferred: map[string]string{}}
	for _, n := range m.Spec.Nodes {
		if id, _ := n.Config["live_input"].(string); n.Type == "source.live" && id == li {
			p.source = n.ID
			break
		}
	}
	if p.source == "" {
		return p
	}
	// reachable from the source, in dependency order (the manifest is
	// acyclic: validated when stored)
	in := map[string]bool{p.source: true}
	for changed := true; changed; {
		changed = false
		for _, n := range m.Spec.Nodes {
			if in[n.ID] || n.Type == "source.live" {
				continue
			}
			reach := false
			for _, x := range n.Inputs {
				reach = reach || in[port(x)]
			}
			for _, x := range n.On {
				reach = reach || in[port(x)]
			}
			if reach {
				in[n.ID], changed = true, true
			}
		}
	}
	var nodes []manifest.Node
	for _, n := range m.Spec.Nodes {
		if in[n.ID] && n.Type != "source.live" {
			nodes = append(nodes, n)
		}
	}
	sort.SliceStable(nodes, func(i, j int) bool { return buildRank[nodes[i].Type] < buildRank[nodes[j].Type] })
	misfit := map[string]string{}
	for _, e := range m.CheckMedia(p.source, src) {
		if misfit[e.Node] == "" {
			misfit[e.Node] = manifest.CodeMediaIncompatible + ": " + e.Message
		}
	}
	runs := map[string]bool{p.source: true}
	for _, n := range nodes {
		if why := skip(m, n, runs, facts); why != "" {
			p.skipped[n.ID] = why
			continue
		}
		if why := misfit[n.ID]; why != "" {
			p.failed[n.ID] = why
			continue
		}
		t, ok := r.cfg.Types[n.Type]
		if !ok {
			p.failed[n.ID] = "node type " + n.Type + " is not available on this server"
			continue
		}
		newNode, err := t(n)
		if err != nil {
			p.failed[n.ID] = err.Error()
			continue
		}
		runs[n.ID] = true
		p.specs = append(p.specs, pipeline.NodeSpec{ID: n.ID, Type: n.Type, New: newNode})
		p.index[n.ID] = struct{}{}
	}
	return p
}

// skip says why node n does not run: its `when` is false for the source
// (or cannot be evaluated), or no node it reads runs. The condition was
// compiled when m was validated (Manifest.Condition).
func skip(m *manifest.Manifest, n manifest.Node, runs map[string]bool, facts manifest.Facts) string {
	if n.When != "" {
		cond, err := m.Condition(n.ID)
		if err != nil {
			return "when does not compile: " + err.Error()
		}
		ok, err := cond(facts)
		if err != nil {
			return "when could not be evaluated: " + err.Error()
		}
		if !ok {
			return "when is false for this source: " + n.When
		}
	}
	if len(n.Inputs) == 0 {
		return ""
	}
	for _, x := range n.Inputs {
		if runs[port(x)] {
			return ""
		}
	}
	return "none of its inputs runs"
}

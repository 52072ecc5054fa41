package bind

import (
	"context"
	"strings"

	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
)

// takeOver is the node types whose default-graph node a pipeline bound
// while live takes over, when each side has exactly one of the type: the
// running node is renamed to the pipeline's id and then planned like any
// node of a new generation (unchanged: it runs on; changed: as applyHot
// says). The LL-HLS packager is the one that matters: taken over, its
// playlists and the source rendition play on.
var takeOver = []string{"package.llhls", "transcode.abr", "record.vod"}

// bindLive applies pipeline p (manifest m) to live input lg.li, which is
// live and runs its default graph: the default graph is read as the
// manifest it runs (defaultManifest), its nodes take the pipeline's ids
// where the types match one to one, and the change from it to m is
// planned onto the running graph by applyHot, the path of every new
// generation. The source is never restarted; what the pipeline drops is
// removed, what it adds is started.
func (r *Runtime) bindLive(ctx context.Context, lg *liveGraph, p *store.Pipeline, m *manifest.Manifest) {
	log := r.log.With("live_input", lg.li, "pipeline", p.Name, "generation", p.Generation)
	li, err := r.cfg.LiveInputs.Get(ctx, lg.li)
	if err != nil {
		log.Warn("pipeline bound while live: the live input is unreadable; it applies at the next broadcast", "error", err)
		return
	}
	old, err := r.defaultManifest(ctx, li)
	if err != nil {
		log.Warn("pipeline bound while live: the default graph is unreadable; it applies at the next broadcast", "error", err)
		return
	}
	src := SourceOf(lg.g.Source())
	next := r.planNodes(m, lg.li, src)
	if next.source == "" {
		return
	}
	reach := map[string]bool{}
	for _, set := range []map[string]string{next.skipped, next.failed, next.deferred} {
		for id := range set {
			reach[id] = true
		}
	}
	for id := range next.index {
		reach[id] = true
	}
	rename := map[string]string{"source": next.source}
	for _, typ := range takeOver {
		from, to := onlyOfType(old, typ, nil), onlyOfType(m, typ, reach)
		if from == "" || to == "" {
			continue
		}
		if from == to || lg.g.Rename(defaultNode(from), to) {
			rename[from] = to
		}
	}
	// The default graph runs every restream output in one node; the
	// pipeline names each (output.restream): the one node goes, the
	// pipeline's are created.
	var kept []manifest.Node
	for _, n := range old.Spec.Nodes {
		if n.Type == "output.restream" {
			lg.g.Remove(defaultNode(n.ID))
			continue
		}
		if to, ok := rename[n.ID]; ok {
			n.ID = to
		}
		ins := make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			node, rest, dotted := strings.Cut(in, ".")
			if to, ok := rename[node]; ok {
				node = to
			}
			if ins[i] = node; dotted {
				ins[i] += "." + rest
			}
		}
		n.Inputs = ins
		kept = append(kept, n)
	}
	old.Spec.Nodes = kept
	cur := nodePlan{index: map[string]struct{}{}, skipped: map[string]string{}, failed: map[string]string{},
		deferred: map[string]string{}, source: next.source}
	for _, st := range lg.g.Status() {
		cur.index[st.ID] = struct{}{}
	}
	r.mu.Lock()
	lg.bound, lg.pipeline, lg.m, lg.src, lg.plan = true, p.Name, old, src, cur
	r.mu.Unlock()
	lg.g.Observe(r)
	log.Info("pipeline bound while live: its graph replaces the default graph, node by node", "taken_over", len(rename)-1)
	r.applyHot(lg, p, m)
}

// onlyOfType returns the id of the one node of m of type typ (among ids
// in, when set); "" when there is none or more than one.
func onlyOfType(m *manifest.Manifest, typ string, in map[string]bool) string {
	id := ""
	for _, n := range m.Spec.Nodes {
		if n.Type != typ || (in != nil && !in[n.ID]) {
			continue
		}
		if id != "" {
			return ""
		}
		id = n.ID
	}
	return id
}

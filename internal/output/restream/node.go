package restream

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// KindName is the node kind of a live input's restream outputs.
const KindName = "output.restream"

// Kind is the node kind that runs the outputs of a live input while its
// stream lives: from the stream's start to its end (a publisher's
// reconnect inside the reconnect window keeps the stream, and so the
// outputs, running).
func (m *Manager) Kind() pipeline.Kind {
	return pipeline.Kind{Name: KindName, New: func(env *pipeline.Env) (pipeline.Node, error) {
		return node{m: m, src: env.Source}, nil
	}}
}

// OutputNode is the node of a pipeline's output.restream: it runs only
// the outputs ids of env's live input, from its start to the stream's
// end or its removal from the graph, without touching the others.
func (m *Manager) OutputNode(env *pipeline.Env, ids []string) pipeline.Node {
	return node{m: m, src: env.Source, ids: ids}
}

type node struct {
	m   *Manager
	src *stream.Stream
	ids []string // nil: every enabled output (the default graph)
}

func (node) ID() string   { return "restream" }
func (node) Kind() string { return KindName }

func (n node) Run(ctx context.Context) error {
	if n.ids == nil {
		n.m.Start(n.src)
	} else {
		n.m.StartOutputs(n.src, n.ids...)
	}
	select {
	case <-n.src.Ended():
	case <-ctx.Done():
	}
	if n.ids == nil {
		n.m.End(n.src)
	} else {
		n.m.EndOutputs(n.src, n.ids...)
	}
	return nil
}

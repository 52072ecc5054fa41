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

type node struct {
	m   *Manager
	src *stream.Stream
}

func (node) ID() string   { return "restream" }
func (node) Kind() string { return KindName }

func (n node) Run(ctx context.Context) error {
	n.m.Start(n.src)
	select {
	case <-n.src.Ended():
	case <-ctx.Done():
	}
	n.m.End(n.src)
	return nil
}

// Package pipeline holds the runtime processing graph of a live input:
// a source (the hub's stream) feeding processors and sinks. A live input
// created from configuration or the API gets the default graph (source →
// HLS); pipeline manifests will configure the same graph explicitly.
package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// Sink consumes a stream through its own reader.
type Sink interface {
	// Name identifies the sink in logs and metrics ("hls", "record", ...).
	Name() string
	// Run consumes units from r until the stream ends (Next returns
	// stream.ErrEnded) or ctx is done. It returns nil at the stream's end.
	Run(ctx context.Context, r *stream.Reader) error
}

// Graph is the running graph of one stream.
type Graph struct {
	src    *stream.Stream
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start attaches one reader per sink to src and runs every sink in its own
// goroutine, owned by the graph. A sink that panics is logged and stops
// alone.
func Start(ctx context.Context, src *stream.Stream, log *slog.Logger, sinks ...Sink) *Graph {
	ctx, cancel := context.WithCancel(ctx)
	g := &Graph{src: src, log: log, cancel: cancel}
	for _, s := range sinks {
		r := src.AddReader(s.Name(), stream.ReaderOptions{})
		g.wg.Add(1)
		go g.run(ctx, s, r)
	}
	return g
}

func (g *Graph) run(ctx context.Context, s Sink, r *stream.Reader) {
	defer g.wg.Done()
	defer r.Close()
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("sink panicked", "live_input", g.src.ID(), "sink", s.Name(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if err := s.Run(ctx, r); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, stream.ErrEnded) {
		g.log.Error("sink failed", "live_input", g.src.ID(), "sink", s.Name(), "error", err)
	}
}

// Wait returns once every sink has returned.
func (g *Graph) Wait() { g.wg.Wait() }

// Close stops every sink and waits for them; idempotent.
func (g *Graph) Close() {
	g.once.Do(g.cancel)
	g.wg.Wait()
}

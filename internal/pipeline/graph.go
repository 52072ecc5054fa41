package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// State is a node's lifecycle state.
type State string

// Node states: built (not run yet), running, done (its inputs ended),
// failed (Run returned an error or panicked).
const (
	StateBuilt   State = "built"
	StateRunning State = "running"
	StateDone    State = "done"
	StateFailed  State = "failed"
)

// Status is a node's state as the graph reports it.
type Status struct {
	ID, Kind  string
	State     State
	LastError string
	Counters
}

type nodeRun struct {
	n Node

	mu      sync.Mutex
	state   State
	lastErr string
}

// Graph is the running graph of one live input's stream: it owns the
// goroutine of every node and waits for them.
type Graph struct {
	env    *Env
	log    *slog.Logger
	nodes  []*nodeRun
	subs   []RenditionSubscriber
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	obs    observer
}

// observer is told about state changes (the manager's metrics).
type observer interface {
	changed(kind string, from, to State)
}

// Build builds the nodes of every kind of reg for env.Source (env.Segments
// is made when nil) and starts them; a kind that fails to build is logged
// and left out, the others run.
func Build(ctx context.Context, reg *Registry, env *Env) *Graph {
	return build(ctx, reg, env, nil)
}

func build(ctx context.Context, reg *Registry, env *Env, obs observer) *Graph {
	if env.Segments == nil {
		env.Segments = &Feed[hls.SegmentInfo]{}
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	env.renditionsDone = make(chan struct{})
	g := &Graph{env: env, log: env.Log, obs: obs}
	var producers, segProducers []*nodeRun
	for _, k := range reg.kinds {
		n, err := k.New(env)
		if err != nil {
			g.log.Error("node not built", "kind", k.Name, "error", err)
			continue
		}
		if n == nil {
			continue
		}
		nr := &nodeRun{n: n, state: StateBuilt}
		g.nodes = append(g.nodes, nr)
		if obs != nil {
			obs.changed(n.Kind(), "", StateBuilt)
		}
		if s, ok := n.(RenditionSubscriber); ok {
			g.subs = append(g.subs, s)
		}
		if _, ok := n.(RenditionProducer); ok {
			producers = append(producers, nr)
		}
		if _, ok := n.(SegmentProducer); ok {
			segProducers = append(segProducers, nr)
		}
	}
	ctx, g.cancel = context.WithCancel(ctx)
	var pwg, swg sync.WaitGroup
	for _, nr := range g.nodes {
		g.wg.Add(1)
		isProducer, isSegProducer := contains(producers, nr), contains(segProducers, nr)
		if isProducer {
			pwg.Add(1)
		}
		if isSegProducer {
			swg.Add(1)
		}
		go func() {
			defer g.wg.Done()
			if isProducer {
				defer pwg.Done()
			}
			if isSegProducer {
				defer swg.Done()
			}
			g.run(ctx, nr)
		}()
	}
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		pwg.Wait()
		close(env.renditionsDone)
	}()
	go func() {
		defer g.wg.Done()
		swg.Wait()
		env.Segments.Close()
	}()
	return g
}

func contains(nrs []*nodeRun, nr *nodeRun) bool {
	for _, x := range nrs {
		if x == nr {
			return true
		}
	}
	return false
}

func (g *Graph) set(nr *nodeRun, st State, err error) {
	nr.mu.Lock()
	from := nr.state
	nr.state = st
	if err != nil {
		nr.lastErr = err.Error()
	}
	nr.mu.Unlock()
	if g.obs != nil {
		g.obs.changed(nr.n.Kind(), from, st)
	}
}

func (g *Graph) run(ctx context.Context, nr *nodeRun) {
	n := nr.n
	g.set(nr, StateRunning, nil)
	var err error
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("node panicked", "node", n.ID(), "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, stream.ErrEnded) {
			g.log.Error("node failed", "node", n.ID(), "error", err)
			g.set(nr, StateFailed, err)
			return
		}
		g.set(nr, StateDone, nil)
	}()
	err = n.Run(ctx)
}

// Rendition hands a rendition published under the graph's live input to
// every node that subscribes to renditions.
func (g *Graph) Rendition(s *stream.Stream) {
	for _, sub := range g.subs {
		sub.Rendition(s)
	}
}

// Status reports every node's state, last error and counters, in build
// order.
func (g *Graph) Status() []Status {
	out := make([]Status, 0, len(g.nodes))
	for _, nr := range g.nodes {
		nr.mu.Lock()
		st := Status{ID: nr.n.ID(), Kind: nr.n.Kind(), State: nr.state, LastError: nr.lastErr}
		nr.mu.Unlock()
		if c, ok := nr.n.(Counted); ok {
			st.Counters = c.Counters()
		}
		out = append(out, st)
	}
	return out
}

// Wait returns once every node has returned (the source ended and the
// nodes drained what was queued).
func (g *Graph) Wait() { g.wg.Wait() }

// Close stops every node and waits for them; idempotent.
func (g *Graph) Close() {
	g.once.Do(g.cancel)
	g.wg.Wait()
}

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

// Status is a node's state as the graph reports it. ID is the node's id
// in its graph: the manifest's node id for a graph built from a pipeline,
// the node's own ID for the default graph.
type Status struct {
	ID, Kind  string
	State     State
	LastError string
	Counters
}

// StateObserver is told about every state change of a node of a graph
// (the pipeline runtime's node events). It must not block.
type StateObserver interface {
	NodeState(liveInput string, st Status, from State)
}

// NodeSpec is one node of a graph built from a list rather than from
// the registered kinds (a pipeline's nodes): ID names it in the graph,
// Type is its manifest type, New builds it like Kind.New.
type NodeSpec struct {
	ID, Type string
	New      func(env *Env) (Node, error)
}

type nodeRun struct {
	id, typ  string
	n        Node
	producer bool
	// segProducer: the node writes the Segments feed (the packager)
	segProducer bool
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}

	mu      sync.Mutex
	state   State
	lastErr string
}

// Graph is the running graph of one live input's stream: it owns the
// goroutine of every node and waits for them. Nodes may be added and
// removed while it runs (Add, Remove): a pipeline applied while live.
type Graph struct {
	env    *Env
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	obs    observer

	mu        sync.Mutex
	nodes     []*nodeRun
	subs      []RenditionSubscriber
	producers int // producers running
	// segProducers are the nodes writing the Segments feed that still run:
	// once none does and the source ended, the graph closes the feed, so
	// its readers (the recorder) return even when the packager never
	// started (a publisher whose video it refused).
	segProducers int
	srcEnded     bool // the source ended: no node is added any more
	rdOnce       sync.Once
}

// observer is told about state changes (the manager's metrics).
type observer interface {
	changed(kind string, from, to State)
}

// ErrGraphEnded is returned by Add once the graph's source ended.
var ErrGraphEnded = errors.New("the graph's source ended")

// Build builds the nodes of every kind of reg for env.Source (env.Segments
// is made when nil) and starts them; a kind that fails to build is logged
// and left out, the others run.
func Build(ctx context.Context, reg *Registry, env *Env) *Graph {
	return build(ctx, kindSpecs(reg), env, nil)
}

// BuildNodes is Build from a list of nodes (a pipeline's) instead of the
// registered kinds; they are built in the order of specs.
func BuildNodes(ctx context.Context, specs []NodeSpec, env *Env) *Graph {
	return build(ctx, specs, env, nil)
}

func kindSpecs(reg *Registry) []NodeSpec {
	specs := make([]NodeSpec, 0, len(reg.kinds))
	for _, k := range reg.kinds {
		specs = append(specs, NodeSpec{Type: k.Name, New: k.New})
	}
	return specs
}

func build(ctx context.Context, specs []NodeSpec, env *Env, obs observer) *Graph {
	g := prepare(ctx, specs, env, obs)
	g.launch()
	return g
}

// prepare builds the nodes of specs, not running yet (launch runs them),
// so that the manager knows the graph before a node may publish a
// rendition.
func prepare(ctx context.Context, specs []NodeSpec, env *Env, obs observer) *Graph {
	if env.Segments == nil {
		env.Segments = &Feed[hls.SegmentInfo]{}
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	env.renditionsDone = make(chan struct{})
	g := &Graph{env: env, log: env.Log, obs: obs}
	g.ctx, g.cancel = context.WithCancel(ctx)
	for _, sp := range specs {
		g.newNode(sp)
	}
	return g
}

// launch runs the nodes prepare built: all were built before any runs, so
// that a node subscribing to a Feed in New sees everything published on
// it.
func (g *Graph) launch() {
	g.mu.Lock()
	built := append([]*nodeRun(nil), g.nodes...)
	g.mu.Unlock()
	for _, nr := range built {
		g.start(nr)
	}
	env := g.env
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		select {
		case <-env.Source.Ended():
		case <-g.ctx.Done():
		}
		g.mu.Lock()
		g.srcEnded = true
		g.mu.Unlock()
		g.checkRenditionsDone()
	}()
}

// newNode builds the node of sp and adds it to the graph, not running;
// nil when the kind asks for none or fails to build (logged).
func (g *Graph) newNode(sp NodeSpec) *nodeRun {
	n, err := sp.New(g.env)
	if err != nil {
		g.log.Error("node not built", "node", sp.ID, "kind", sp.Type, "error", err)
		return nil
	}
	if n == nil {
		return nil
	}
	id := sp.ID
	if id == "" {
		id = n.ID()
	}
	nr := &nodeRun{id: id, typ: sp.Type, n: n, state: StateBuilt, done: make(chan struct{})}
	_, nr.producer = n.(RenditionProducer)
	_, nr.segProducer = n.(SegmentProducer)
	nr.ctx, nr.cancel = context.WithCancel(g.ctx)
	g.mu.Lock()
	g.nodes = append(g.nodes, nr)
	if s, ok := n.(RenditionSubscriber); ok {
		g.subs = append(g.subs, s)
	}
	if nr.producer {
		g.producers++
	}
	if nr.segProducer {
		g.segProducers++
	}
	g.mu.Unlock()
	g.notify(nr, "", StateBuilt)
	return nr
}

func (g *Graph) start(nr *nodeRun) {
	ctx, cancel := nr.ctx, nr.cancel
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(nr.done)
		defer cancel()
		g.run(ctx, nr)
		g.mu.Lock()
		if nr.producer {
			g.producers--
		}
		if nr.segProducer {
			g.segProducers--
		}
		g.mu.Unlock()
		g.checkRenditionsDone()
	}()
}

// checkRenditionsDone closes RenditionsDone once the source ended (or the
// graph stopped) and no producer runs: no rendition will come any more; and
// the Segments feed once no node writing it runs either.
func (g *Graph) checkRenditionsDone() {
	g.mu.Lock()
	done := g.srcEnded && g.producers == 0
	segsDone := g.srcEnded && g.segProducers == 0
	g.mu.Unlock()
	if done {
		g.rdOnce.Do(func() { close(g.env.renditionsDone) })
	}
	if segsDone {
		g.env.Segments.Close() // idempotent
	}
}

// Add builds and starts one more node while the graph runs (a node a
// pipeline's new generation adds): the other nodes are not touched. A
// node that reads the Segments feed sees the segments from now on.
// ErrGraphEnded once the source ended; an error of the kind's New.
func (g *Graph) Add(sp NodeSpec) error {
	g.mu.Lock()
	ended := g.srcEnded
	for _, nr := range g.nodes {
		if nr.id == sp.ID && sp.ID != "" {
			g.mu.Unlock()
			return fmt.Errorf("node %s: already in the graph", sp.ID)
		}
	}
	g.mu.Unlock()
	if ended {
		return ErrGraphEnded
	}
	n, err := sp.New(g.env)
	if err != nil {
		return fmt.Errorf("node %s: %w", sp.ID, err)
	}
	if n == nil {
		return nil
	}
	nr := g.newNode(NodeSpec{ID: sp.ID, Type: sp.Type, New: func(*Env) (Node, error) { return n, nil }})
	g.start(nr)
	return nil
}

// Remove stops node id and waits for it to return (a node a pipeline's
// new generation deletes, or changes and adds again): the other nodes are
// not touched. It reports whether the node was in the graph.
func (g *Graph) Remove(id string) bool {
	g.mu.Lock()
	var nr *nodeRun
	for i, x := range g.nodes {
		if x.id == id {
			nr = x
			g.nodes = append(g.nodes[:i:i], g.nodes[i+1:]...)
			break
		}
	}
	if nr != nil {
		if s, ok := nr.n.(RenditionSubscriber); ok {
			for i, x := range g.subs {
				if x == s {
					g.subs = append(g.subs[:i:i], g.subs[i+1:]...)
					break
				}
			}
		}
	}
	g.mu.Unlock()
	if nr == nil {
		return false
	}
	nr.cancel()
	<-nr.done
	return true
}

// Rename gives node from the id to, while it runs (the nodes of a
// default graph a pipeline bound while live takes over under its own
// ids). It reports false, changing nothing, when from is not in the
// graph or to already is.
func (g *Graph) Rename(from, to string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	var nr *nodeRun
	for _, x := range g.nodes {
		switch x.id {
		case to:
			return false
		case from:
			nr = x
		}
	}
	if nr == nil || to == "" {
		return false
	}
	nr.mu.Lock()
	nr.id = to
	nr.mu.Unlock()
	return true
}

// Observe sets the StateObserver told about the nodes' state changes
// from now on (Env.States when the graph was built).
func (g *Graph) Observe(o StateObserver) {
	g.mu.Lock()
	g.env.States = o
	g.mu.Unlock()
}

// name is the node's id; nr.id changes under both g.mu and nr.mu (Rename).
func (nr *nodeRun) name() string {
	nr.mu.Lock()
	defer nr.mu.Unlock()
	return nr.id
}

func (g *Graph) notify(nr *nodeRun, from, to State) {
	if g.obs != nil {
		g.obs.changed(nr.n.Kind(), from, to)
	}
	g.mu.Lock()
	o := g.env.States
	g.mu.Unlock()
	if o != nil {
		o.NodeState(g.env.Source.ID(), g.status(nr), from)
	}
}

func (g *Graph) set(nr *nodeRun, st State, err error) {
	nr.mu.Lock()
	from := nr.state
	nr.state = st
	if err != nil {
		nr.lastErr = err.Error()
	}
	nr.mu.Unlock()
	g.notify(nr, from, st)
}

func (g *Graph) run(ctx context.Context, nr *nodeRun) {
	n := nr.n
	g.set(nr, StateRunning, nil)
	var err error
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("node panicked", "node", nr.name(), "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, stream.ErrEnded) {
			g.log.Error("node failed", "node", nr.name(), "error", err)
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
	g.mu.Lock()
	subs := append([]RenditionSubscriber(nil), g.subs...)
	g.mu.Unlock()
	for _, sub := range subs {
		sub.Rendition(s)
	}
}

func (g *Graph) status(nr *nodeRun) Status {
	nr.mu.Lock()
	st := Status{ID: nr.id, Kind: nr.n.Kind(), State: nr.state, LastError: nr.lastErr}
	nr.mu.Unlock()
	if r, ok := nr.n.(Reporting); ok && st.LastError == "" {
		st.LastError = r.LastError()
	}
	if c, ok := nr.n.(Counted); ok {
		st.Counters = c.Counters()
	}
	return st
}

// Status reports every node's state, last error and counters, in build
// order.
func (g *Graph) Status() []Status {
	g.mu.Lock()
	nodes := append([]*nodeRun(nil), g.nodes...)
	g.mu.Unlock()
	out := make([]Status, 0, len(nodes))
	for _, nr := range nodes {
		out = append(out, g.status(nr))
	}
	return out
}

// Source is the live input's stream the graph processes.
func (g *Graph) Source() *stream.Stream { return g.env.Source }

// Wait returns once every node has returned (the source ended and the
// nodes drained what was queued).
func (g *Graph) Wait() { g.wg.Wait() }

// Close stops every node and waits for them; idempotent.
func (g *Graph) Close() {
	g.once.Do(g.cancel)
	g.wg.Wait()
}

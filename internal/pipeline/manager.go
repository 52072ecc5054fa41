package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Settings reads a live input's stored settings.
type Settings interface {
	Get(ctx context.Context, id string) (*store.LiveInput, error)
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Kinds are the node kinds of the default graph. Required.
	Kinds *Registry
	// Settings are read once per stream start, bounded by SettingsTimeout
	// (default 5 s); without them nodes get a nil Env.Input.
	Settings        Settings
	SettingsTimeout time.Duration
	Report          Reporter
	// Registerer receives mpegflow_pipeline_nodes{kind,state}; nil: none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Manager owns the graphs of the live streams of one hub: the hub's
// OnStart, OnRendition and OnEnd hooks call Start, Rendition and End.
type Manager struct {
	cfg    ManagerConfig
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	nodes  *prometheus.GaugeVec

	mu     sync.Mutex
	graphs map[*stream.Stream]*Graph
}

// NewManager returns a Manager with no graphs.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Kinds == nil {
		cfg.Kinds = &Registry{}
	}
	if cfg.SettingsTimeout <= 0 {
		cfg.SettingsTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, graphs: map[*stream.Stream]*Graph{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if cfg.Registerer != nil {
		m.nodes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mpegflow_pipeline_nodes",
			Help: "Nodes of the live inputs' graphs, by kind and state (built, running, done, failed)."}, []string{"kind", "state"})
		if err := cfg.Registerer.Register(m.nodes); err != nil {
			return nil, fmt.Errorf("pipeline metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Manager) changed(kind string, from, to State) {
	if m.nodes == nil {
		return
	}
	if from != "" {
		m.nodes.WithLabelValues(kind, string(from)).Dec()
	}
	m.nodes.WithLabelValues(kind, string(to)).Inc()
}

// Start builds and starts the graph of a live input's stream that just
// started, before its first unit.
func (m *Manager) Start(s *stream.Stream) {
	log := m.log.With("live_input", s.ID())
	env := &Env{Source: s, Report: m.cfg.Report, Log: log}
	if m.cfg.Settings != nil {
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.SettingsTimeout)
		li, err := m.cfg.Settings.Get(ctx, s.ID())
		cancel()
		if err != nil {
			log.Warn("live input settings unreadable; building the graph with defaults", "error", err)
		} else {
			env.Input = li
		}
	}
	specs, bound := kindSpecs(m.cfg.Kinds), false
	b := m.cfg.Kinds.binder
	if b != nil {
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.SettingsTimeout)
		if nodes, ok := b.Nodes(ctx, env); ok {
			specs, bound = nodes, true
		}
		cancel()
	}
	g := prepare(m.ctx, specs, env, m)
	m.mu.Lock()
	m.graphs[s] = g
	m.mu.Unlock()
	g.launch()
	if b != nil {
		b.Started(g, bound)
	}
}

// Rendition attaches a rendition published into the hub to the graph of
// its live input's stream.
func (m *Manager) Rendition(s *stream.Stream) {
	m.mu.Lock()
	g := m.graphs[s.Source()]
	m.mu.Unlock()
	if g != nil {
		g.Rendition(s)
	}
}

// End waits for the graph of a stream that ended to drain (every node
// returns once its inputs ended) and forgets it.
func (m *Manager) End(s *stream.Stream) {
	m.mu.Lock()
	g := m.graphs[s]
	delete(m.graphs, s)
	m.mu.Unlock()
	if g != nil {
		g.Wait()
		if b := m.cfg.Kinds.binder; b != nil {
			b.Ended(g)
		}
	}
}

// Status reports the nodes of the graph of live input id, nil when it has
// no stream.
func (m *Manager) Status(id string) []Status {
	m.mu.Lock()
	var g *Graph
	for s, x := range m.graphs {
		if s.ID() == id {
			g = x
		}
	}
	m.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.Status()
}

// Close stops every graph and waits for its nodes; idempotent.
func (m *Manager) Close() {
	m.cancel()
	m.mu.Lock()
	gs := make([]*Graph, 0, len(m.graphs))
	for _, g := range m.graphs {
		gs = append(gs, g)
	}
	m.mu.Unlock()
	for _, g := range gs {
		g.Close()
	}
}

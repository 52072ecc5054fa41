package restream

import (
	"context"
	"crypto/x509"
	"log/slog"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// RenditionSource names the stream as published (the default rendition).
const RenditionSource = "source"

// OutputStore is what the Manager reads: the outputs of a live input.
type OutputStore interface {
	List(ctx context.Context, liveInputID string) ([]*store.LiveInputOutput, error)
}

// Renditions finds the stream of a rendition of a live input (a ladder
// rung); nil when it is not produced.
type Renditions interface {
	Rendition(liveInputID, name string) *stream.Stream
}

// Notifier receives the events of outputs with the output as it was when
// the event happened, on the Manager's event goroutine (in order, one at
// a time). It may block briefly (a database write).
type Notifier interface {
	OutputEvent(ctx context.Context, ev Event, o *store.LiveInputOutput)
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Store      OutputStore // required
	Renditions Renditions  // nil: only the source can be pushed
	Notifier   Notifier    // nil: events are dropped
	Logger     *slog.Logger
	// RootCAs verifies rtmps targets; nil means the system's roots (which
	// honour SSL_CERT_FILE and SSL_CERT_DIR).
	RootCAs *x509.CertPool
	// Output holds the defaults of every output (backoff, stall timeout,
	// queue size); its identity and target fields are ignored.
	Output Config
	// EventQueue bounds the events waiting for the Notifier; past it they
	// are dropped and logged. Default 1024.
	EventQueue int
}

// Manager runs the outputs of the live inputs that are live on this node:
// Start when a live input's stream starts (not on a publisher's reconnect
// inside the reconnect window: the stream, and so the outputs, continue),
// End when it ends, Changed after the outputs of a live input were edited.
// Each edit affects only the outputs it changed.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	mu      sync.Mutex
	inputs  map[string]*liveRun
	pending map[string]bool // live inputs waiting for a reconcile
	closed  bool

	kick   chan struct{}
	events chan queuedEvent
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the two loops
	outs   sync.WaitGroup // output goroutines, running or stopping
	once   sync.Once
}

type liveRun struct {
	s    *stream.Stream
	outs map[string]*running
	// only, when not nil, names the outputs that run (the nodes of a
	// pipeline that name each their output, counted); nil: every enabled
	// output of the live input (the default graph)
	only map[string]int
}

type running struct {
	row    store.LiveInputOutput
	o      *Output
	cancel context.CancelFunc
	done   chan struct{}
}

type queuedEvent struct {
	ev  Event
	row store.LiveInputOutput
}

// NewManager returns a running Manager; Close stops it.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EventQueue <= 0 {
		cfg.EventQueue = 1024
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, inputs: map[string]*liveRun{}, pending: map[string]bool{},
		kick: make(chan struct{}, 1), events: make(chan queuedEvent, cfg.EventQueue)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(2)
	go m.reconcileLoop()
	go m.eventLoop()
	return m
}

// Start begins the outputs of the live input whose stream s started.
func (m *Manager) Start(s *stream.Stream) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	if old := m.inputs[s.ID()]; old != nil {
		m.stopAll(old)
	}
	m.inputs[s.ID()] = &liveRun{s: s, outs: map[string]*running{}}
	m.mu.Unlock()
	m.Changed(s.ID())
}

// StartOutputs begins, of the live input whose stream s started, only
// the outputs ids (those of a pipeline's output.restream node), next to
// the ones other nodes started: each node's outputs start and stop with
// it alone. An output stored later under one of these ids starts then.
func (m *Manager) StartOutputs(s *stream.Stream, ids ...string) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	lr := m.inputs[s.ID()]
	if lr == nil || lr.s != s || lr.only == nil {
		if lr != nil {
			m.stopAll(lr)
		}
		lr = &liveRun{s: s, outs: map[string]*running{}, only: map[string]int{}}
		m.inputs[s.ID()] = lr
	}
	for _, id := range ids {
		lr.only[id]++
	}
	m.mu.Unlock()
	m.Changed(s.ID())
}

// EndOutputs stops the outputs ids that StartOutputs started for s, when
// no other node runs them, and waits for them; the last ones end the
// live input's run as End does.
func (m *Manager) EndOutputs(s *stream.Stream, ids ...string) {
	m.mu.Lock()
	lr := m.inputs[s.ID()]
	if lr == nil || lr.s != s || lr.only == nil {
		m.mu.Unlock()
		return
	}
	var dones []chan struct{}
	for _, id := range ids {
		if lr.only[id]--; lr.only[id] > 0 {
			continue
		}
		delete(lr.only, id)
		if r := lr.outs[id]; r != nil {
			r.cancel()
			dones = append(dones, r.done)
			delete(lr.outs, id)
		}
	}
	if len(lr.only) == 0 {
		delete(m.inputs, s.ID())
		dones = append(dones, m.stopAll(lr)...)
	}
	m.mu.Unlock()
	for _, d := range dones {
		<-d
	}
}

// End stops the outputs of the live input whose stream s ended and waits
// for them.
func (m *Manager) End(s *stream.Stream) {
	m.mu.Lock()
	lr := m.inputs[s.ID()]
	if lr == nil || lr.s != s {
		m.mu.Unlock()
		return
	}
	delete(m.inputs, s.ID())
	dones := m.stopAll(lr)
	m.mu.Unlock()
	for _, d := range dones {
		<-d
	}
}

// stopAll cancels every output of lr and returns their done channels.
// Called with m.mu held.
func (m *Manager) stopAll(lr *liveRun) []chan struct{} {
	var dones []chan struct{}
	for id, r := range lr.outs {
		r.cancel()
		dones = append(dones, r.done)
		delete(lr.outs, id)
	}
	return dones
}

// Changed reconciles the running outputs of a live input with the store,
// soon and in the background.
func (m *Manager) Changed(liveInputID string) {
	m.mu.Lock()
	if m.closed || m.inputs[liveInputID] == nil {
		m.mu.Unlock()
		return
	}
	m.pending[liveInputID] = true
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Status returns the status of output id of a live input while it runs.
func (m *Manager) Status(liveInputID, id string) (Status, bool) {
	m.mu.Lock()
	var o *Output
	if lr := m.inputs[liveInputID]; lr != nil {
		if r := lr.outs[id]; r != nil {
			o = r.o
		}
	}
	m.mu.Unlock()
	if o == nil {
		return Status{}, false
	}
	return o.Status(), true
}

// Running returns the number of outputs running now.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, lr := range m.inputs {
		n += len(lr.outs)
	}
	return n
}

// Close stops every output and the Manager's loops, waiting for them;
// idempotent. Events still queued are handed to the Notifier first.
func (m *Manager) Close() {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true // no output starts after this
		for id, lr := range m.inputs {
			m.stopAll(lr)
			delete(m.inputs, id)
		}
		m.mu.Unlock()
		m.cancel() // stops every output, the stopping ones included
		m.outs.Wait()
		close(m.events) // nothing emits once every output has returned
		m.wg.Wait()
	})
}

func (m *Manager) reconcileLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.kick:
		}
		m.mu.Lock()
		ids := make([]string, 0, len(m.pending))
		for id := range m.pending {
			ids = append(ids, id)
		}
		clear(m.pending)
		m.mu.Unlock()
		for _, id := range ids {
			m.reconcile(id)
		}
	}
}

// reconcile reads the outputs of a live input and starts, restarts or
// stops only those whose target changed.
func (m *Manager) reconcile(liveInputID string) {
	ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	rows, err := m.cfg.Store.List(ctx, liveInputID)
	cancel()
	if err != nil {
		m.log.Error("cannot read the outputs of a live input", "live_input", liveInputID, "error", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	lr := m.inputs[liveInputID]
	if lr == nil || m.closed {
		return
	}
	want := map[string]*store.LiveInputOutput{}
	for _, r := range rows {
		if r.Enabled && (lr.only == nil || lr.only[r.ID] > 0) {
			want[r.ID] = r
		}
	}
	for id, r := range lr.outs {
		w := want[id]
		if w != nil && sameTarget(&r.row, w) {
			r.row = *w // a rename needs no reconnect
			delete(want, id)
			continue
		}
		r.cancel() // it stops on its own; Close waits for it
		delete(lr.outs, id)
	}
	for _, w := range want {
		lr.outs[w.ID] = m.start(lr.s, w)
	}
}

func sameTarget(a, b *store.LiveInputOutput) bool {
	return a.URL == b.URL && a.StreamKey == b.StreamKey && a.Rendition == b.Rendition && a.TLSSkipVerify == b.TLSSkipVerify
}

// start runs one output; called with m.mu held.
func (m *Manager) start(src *stream.Stream, row *store.LiveInputOutput) *running {
	c := m.cfg.Output
	c.ID, c.LiveInputID, c.Observer, c.Logger = row.ID, row.LiveInputID, outputObserver{m, *row}, m.log
	if m.cfg.RootCAs != nil {
		c.RootCAs = m.cfg.RootCAs
	}
	c.Target = Target{URL: row.URL, StreamKey: row.StreamKey, TLSSkipVerify: row.TLSSkipVerify}
	o := New(c)
	ctx, cancel := context.WithCancel(m.ctx)
	r := &running{row: *row, o: o, cancel: cancel, done: make(chan struct{})}
	rung := row.Rendition != "" && row.Rendition != RenditionSource
	m.outs.Add(1)
	go func() {
		defer m.outs.Done()
		defer close(r.done)
		s := src
		if rung {
			s = m.awaitRendition(ctx, src, row.LiveInputID, row.Rendition)
		}
		if s == nil {
			o.errored(CodeRenditionMissing, "rendition "+row.Rendition+" is not produced for this live input")
			return
		}
		_ = o.Run(ctx, s)
	}()
	return r
}

// renditionWait is how long an output of a ladder rung waits for the
// transcoder to publish the rung after the stream starts.
const renditionWait = 20 * time.Second

// awaitRendition returns the stream of rendition name of liveInputID once
// it is published in the hub (the transcoder starts its rungs a moment
// after the source), or nil when it is not within renditionWait, the
// source ends first, or ctx is done.
func (m *Manager) awaitRendition(ctx context.Context, src *stream.Stream, liveInputID, name string) *stream.Stream {
	if m.cfg.Renditions == nil {
		return nil
	}
	deadline := time.NewTimer(renditionWait)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if s := m.cfg.Renditions.Rendition(liveInputID, name); s != nil {
			return s
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return nil
		case <-src.Ended():
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// outputObserver queues an output's events for the Notifier, with the
// output as it was started.
type outputObserver struct {
	m   *Manager
	row store.LiveInputOutput
}

func (ob outputObserver) OutputEvent(ev Event) {
	select {
	case ob.m.events <- queuedEvent{ev: ev, row: ob.row}:
	default:
		ob.m.log.Warn("restream event queue full; event dropped", "live_input", ev.LiveInputID, "output", ev.OutputID)
	}
}

func (m *Manager) eventLoop() {
	defer m.wg.Done()
	for q := range m.events {
		if m.cfg.Notifier != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m.cfg.Notifier.OutputEvent(ctx, q.ev, &q.row)
			cancel()
		}
	}
}

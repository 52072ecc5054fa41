// Package bind runs pipelines: a live input bound by a pipeline's
// source.live node gets its graph built from the pipeline's nodes when it
// goes live, instead of the default graph built from its settings; a
// generation applied while it is live is planned (manifest.Diff) onto the
// running graph node by node, so that adding or removing a recording, a
// thumbnail, a webhook or an output touches no other node, and changing a
// ladder restarts only the ladder and its rungs. It reports every node's
// state (the API's pipeline status) and emits pipeline.applied and
// pipeline.node.state_changed.
//
// A node's `when` is evaluated once, against the source's media at
// go-live (and again for a node a new generation changes); a node the
// media does not fit (manifest.CheckMedia) is not built and reported
// errored. A pipeline that binds a live input while it is live on its
// default graph takes that graph over (bindLive).
package bind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// NodeType builds the runtime node of one manifest node of its type from
// the node's (validated) config; the returned function is the
// pipeline.NodeSpec's New.
type NodeType func(n manifest.Node) (func(env *pipeline.Env) (pipeline.Node, error), error)

// Publisher takes events to the webhook outbox and the bus.
type Publisher interface{ Publish(events.Event) }

// Config configures a Runtime.
type Config struct {
	Pipelines  store.Pipelines        // required
	LiveInputs store.LiveInputs       // required
	Outputs    store.LiveInputOutputs // the default graph's outputs; nil: none shown
	// Types are the manifest node types this daemon runs; a node of
	// another type is reported errored ("not available").
	Types map[string]NodeType
	// Profiles are the configured transcode profiles (the default graph's
	// ladder); Transcoding is false without ffmpeg.
	Profiles    []transcode.Profile
	Transcoding bool
	Events      Publisher // nil: no events
	// Bus and Notify send the events notify.webhook nodes name to their
	// endpoints, through the webhook outbox; either nil: none is sent.
	// Bus also says when a live input is deleted: its thumbnails go.
	Bus    Subscriber
	Notify Notifier
	// Thumbnails holds the images of thumbnail nodes (LiveThumbnail);
	// nil: none.
	Thumbnails *Thumbnails
	Logger     *slog.Logger
}

// Runtime is the pipeline.Binder of the live graphs and the API's
// PipelineRuntime.
type Runtime struct {
	cfg Config
	log *slog.Logger

	applyMu sync.Mutex // one apply at a time

	mu     sync.Mutex
	graphs map[string]*liveGraph // by live input
	// parsed holds the last validated manifest of each pipeline, so that
	// a go-live reuses its compiled `when` expressions
	parsed map[string]parsedManifest

	evq        chan events.Event
	stop       chan struct{}
	done       chan struct{}
	notifyDone chan struct{}
	closed     sync.Once
}

var (
	_ pipeline.Binder        = (*Runtime)(nil)
	_ pipeline.StateObserver = (*Runtime)(nil)
	_ api.PipelineRuntime    = (*Runtime)(nil)
)

// liveGraph is the graph of one live input that is live.
type liveGraph struct {
	li    string
	g     *pipeline.Graph // nil until Started
	env   *pipeline.Env
	bound bool
	// for a bound graph: the pipeline and generation it runs, what it
	// left out and why
	pipeline   string
	generation int64
	m          *manifest.Manifest
	src        manifest.Source // the source's media at go-live
	plan       nodePlan
}

// parsedManifest is a stored generation, validated.
type parsedManifest struct {
	generation int64
	m          *manifest.Manifest
}

// manifest returns the validated manifest of stored pipeline p: the one
// Applied was given for its generation, or the stored text validated
// now (and kept) against the node types (manifest.Default), which
// compiles its `when` expressions once.
func (r *Runtime) manifest(p *store.Pipeline) (*manifest.Manifest, error) {
	r.mu.Lock()
	c, ok := r.parsed[p.Name]
	r.mu.Unlock()
	if ok && c.generation == p.Generation {
		return c.m, nil
	}
	m, err := manifest.Decode([]byte(p.Manifest))
	if err != nil {
		return nil, err
	}
	if err := manifest.Default().Validate(m); err != nil {
		// It was valid when stored; the node types may have changed
		// since. What no longer fits is reported by its node at build.
		r.log.Warn("stored pipeline no longer validates", "pipeline", p.Name, "generation", p.Generation, "error", err)
	}
	r.remember(p, m)
	return m, nil
}

func (r *Runtime) remember(p *store.Pipeline, m *manifest.Manifest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.parsed[p.Name]; !ok || c.generation <= p.Generation {
		r.parsed[p.Name] = parsedManifest{generation: p.Generation, m: m}
	}
}

// eventQueue bounds the events waiting to be published; past it they are
// dropped (and logged): node state changes come from the data plane.
const eventQueue = 256

// New returns a Runtime; Close stops its event publisher.
func New(cfg Config) (*Runtime, error) {
	if cfg.Pipelines == nil || cfg.LiveInputs == nil {
		return nil, errors.New("bind: Pipelines and LiveInputs are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, graphs: map[string]*liveGraph{}, parsed: map[string]parsedManifest{},
		evq: make(chan events.Event, eventQueue), stop: make(chan struct{}), done: make(chan struct{}),
		notifyDone: make(chan struct{})}
	go r.publish()
	if cfg.Bus != nil && (cfg.Notify != nil || cfg.Thumbnails != nil) {
		go r.notify(r.subscribe())
	} else {
		close(r.notifyDone)
	}
	return r, nil
}

// publish hands queued events to the publisher (a store write each) off
// the graphs' goroutines.
func (r *Runtime) publish() {
	defer close(r.done)
	for {
		select {
		case ev := <-r.evq:
			if r.cfg.Events != nil {
				r.cfg.Events.Publish(ev)
			}
		case <-r.stop:
			return
		}
	}
}

func (r *Runtime) emit(ev events.Event) {
	if r.cfg.Events == nil {
		return
	}
	select {
	case r.evq <- ev:
	default:
		r.log.Warn("pipeline event dropped: queue full", "type", ev.Type, "live_input", ev.LiveInputID)
	}
}

// Close stops publishing events and sending webhooks, and waits;
// idempotent.
func (r *Runtime) Close() {
	r.closed.Do(func() { close(r.stop) })
	<-r.done
	<-r.notifyDone
}

// Nodes implements pipeline.Binder: the nodes of the pipeline bound to
// env.Source's live input, or ok false for the default graph.
func (r *Runtime) Nodes(ctx context.Context, env *pipeline.Env) ([]pipeline.NodeSpec, bool) {
	id := env.Source.ID()
	p, err := r.cfg.Pipelines.Bound(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			r.log.Error("pipeline binding unreadable; running the default graph", "live_input", id, "error", err)
		}
		return nil, false
	}
	m, err := r.manifest(p)
	if err != nil {
		r.log.Error("stored pipeline unreadable; running the default graph", "live_input", id, "pipeline", p.Name, "error", err)
		return nil, false
	}
	lg := &liveGraph{li: id, env: env, bound: true, pipeline: p.Name, generation: p.Generation, m: m, src: SourceOf(env.Source)}
	lg.plan = r.planNodes(m, id, lg.src)
	env.States = r
	r.mu.Lock()
	r.graphs[id] = lg
	r.mu.Unlock()
	r.log.Info("live input runs its pipeline", "live_input", id, "pipeline", p.Name, "generation", p.Generation,
		"nodes", len(lg.plan.specs), "skipped", len(lg.plan.skipped))
	return lg.plan.specs, true
}

// Started implements pipeline.Binder.
func (r *Runtime) Started(g *pipeline.Graph, bound bool) {
	id := g.Source().ID()
	r.mu.Lock()
	lg := r.graphs[id]
	if !bound || lg == nil || lg.g != nil {
		r.graphs[id] = &liveGraph{li: id, g: g}
		r.mu.Unlock()
		return
	}
	lg.g = g
	name, gen, m, failed := lg.pipeline, lg.generation, lg.m, lg.plan.failed
	r.mu.Unlock()
	// the nodes left out as errored at build (a type not available here,
	// a config not usable, media that does not fit) are reported like
	// the nodes that fail while running
	for _, n := range m.Spec.Nodes {
		why := failed[n.ID]
		if why == "" {
			continue
		}
		r.log.Warn("pipeline node not built", "live_input", id, "pipeline", name, "node", n.ID, "reason", why)
		r.emit(events.New(events.PipelineNodeStateChanged, id, api.PipelineNodeEvent{Pipeline: name, Generation: gen,
			Node:          api.PipelineNodeStatus{ID: n.ID, Type: n.Type, LiveInputID: id, State: api.NodeErrored, LastError: why},
			PreviousState: api.NodePending}))
	}
}

// CheckMedia checks m against the media of its live inputs that are live
// (Manifest.CheckMedia): the API refuses, before anything is stored, a
// manifest whose nodes the running sources do not fit. It returns
// manifest.Errors, or nil.
func (r *Runtime) CheckMedia(m *manifest.Manifest) error {
	var errs manifest.Errors
	for node, li := range m.Sources() {
		r.mu.Lock()
		lg := r.graphs[li]
		var src *stream.Stream
		if lg != nil && lg.g != nil {
			src = lg.g.Source()
		}
		r.mu.Unlock()
		if src != nil {
			errs = append(errs, m.CheckMedia(node, SourceOf(src))...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	return errs
}

// Ended implements pipeline.Binder.
func (r *Runtime) Ended(g *pipeline.Graph) {
	id := g.Source().ID()
	r.mu.Lock()
	defer r.mu.Unlock()
	if lg := r.graphs[id]; lg != nil && lg.g == g {
		delete(r.graphs, id)
	}
}

// NodeState implements pipeline.StateObserver: pipeline.node.state_changed
// for the nodes of bound graphs.
func (r *Runtime) NodeState(liveInput string, st pipeline.Status, from pipeline.State) {
	r.mu.Lock()
	lg := r.graphs[liveInput]
	var name string
	var gen int64
	var m *manifest.Manifest
	if lg != nil && lg.bound {
		name, gen, m = lg.pipeline, lg.generation, lg.m
	}
	r.mu.Unlock()
	if name == "" {
		return
	}
	ns := nodeStatus(st, liveInput)
	if t := m.Node(st.ID); t != nil {
		ns.Type = t.Type
	}
	prev := ""
	if from != "" {
		prev = mapState(pipeline.Status{State: from})
	}
	if prev == ns.State {
		return
	}
	r.emit(events.New(events.PipelineNodeStateChanged, liveInput,
		api.PipelineNodeEvent{Pipeline: name, Generation: gen, Node: ns, PreviousState: prev}))
}

// Applied implements api.PipelineRuntime: the graphs of p's live inputs
// that are live and run p take generation p.Generation in, hot; a live
// input p binds now that is live running its default graph takes p's
// graph in the same way (bindLive); then pipeline.applied goes out.
func (r *Runtime) Applied(ctx context.Context, p *store.Pipeline, m *manifest.Manifest) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.remember(p, m)
	r.mu.Lock()
	var live, unbound []*liveGraph
	for _, lg := range r.graphs {
		if lg.bound && lg.pipeline == p.Name && lg.g != nil {
			live = append(live, lg)
		}
	}
	for _, li := range m.Sources() {
		if lg := r.graphs[li]; lg != nil && !lg.bound && lg.g != nil {
			unbound = append(unbound, lg)
		}
	}
	r.mu.Unlock()
	for _, lg := range live {
		r.applyHot(lg, p, m)
	}
	for _, lg := range unbound {
		r.bindLive(ctx, lg, p, m)
	}
	st := r.Status(p, m)
	r.emit(events.New(events.PipelineApplied, "", st))
}

// Deleted implements api.PipelineRuntime: graphs running the pipeline go
// on until their stream ends (the next broadcast runs the default graph).
func (r *Runtime) Deleted(name string) {
	r.mu.Lock()
	delete(r.parsed, name)
	r.mu.Unlock()
	r.log.Info("pipeline deleted; its live graphs run until their broadcast ends", "pipeline", name)
}

// applyHot plans m onto a live graph: deleted nodes are removed, created
// ones added, changed ones restarted (removed and added again); the other
// nodes are not touched. A changed packager keeps running: restarting it
// would end its playlists; its change applies at the next broadcast.
func (r *Runtime) applyHot(lg *liveGraph, p *store.Pipeline, m *manifest.Manifest) {
	log := r.log.With("live_input", lg.li, "pipeline", p.Name, "generation", p.Generation)
	plan := manifest.Diff(lg.m, m)
	next := r.planNodes(m, lg.li, lg.src)
	specs := map[string]pipeline.NodeSpec{}
	for _, sp := range next.specs {
		specs[sp.ID] = sp
	}
	var add []string
	for _, c := range plan.Changes {
		switch {
		case c.Action == manifest.Unchanged:
			// a node its inputs' change left out, or let in
			_, was := lg.plan.index[c.Node]
			_, is := specs[c.Node]
			if was && !is {
				lg.g.Remove(c.Node)
			} else if is && !was {
				add = append(add, c.Node)
			}
		case c.Type == "source.live":
		case c.Action == manifest.Delete:
			lg.g.Remove(c.Node)
		case c.Action == manifest.Create:
			add = append(add, c.Node)
		case c.Type == "package.llhls" && c.Action == manifest.Update:
			next.deferred[c.Node] = "changed by generation " + fmt.Sprint(p.Generation) + "; applies at the next broadcast"
			if _, ok := specs[c.Node]; ok {
				next.index[c.Node] = struct{}{}
			}
		default: // update, replace: restart this node only
			lg.g.Remove(c.Node)
			add = append(add, c.Node)
		}
	}
	for _, id := range add {
		sp, ok := specs[id]
		if !ok {
			continue // skipped or failed: reported by next
		}
		if err := lg.g.Add(sp); err != nil {
			log.Warn("pipeline node not added", "node", id, "error", err)
			next.failed[id] = err.Error()
		}
	}
	r.mu.Lock()
	lg.m, lg.generation, lg.plan = m, p.Generation, next
	r.mu.Unlock()
	log.Info("pipeline applied to a live graph", "create", plan.Count(manifest.Create), "update", plan.Count(manifest.Update),
		"replace", plan.Count(manifest.Replace), "delete", plan.Count(manifest.Delete))
}

// Facts are the media facts of a stream that `when` and the media
// checks test (manifest.Source): whether it has video and audio, the
// video's codec and size, the audio's codec and channels.
func Facts(s *stream.Stream) manifest.Facts { return SourceOf(s).Facts() }

// SourceOf describes the media of stream s: its first video and first
// audio track.
func SourceOf(s *stream.Stream) manifest.Source {
	src := manifest.Source{LiveInput: s.ID()}
	for _, t := range s.Tracks() {
		if t.Kind() == stream.KindVideo {
			if src.Video != nil {
				continue
			}
			v := &manifest.VideoFacts{Codec: codecName(t.Codec.Name())}
			if w, h, ok := stream.VideoSize(t.Codec); ok {
				v.Width, v.Height = w, h
			}
			src.Video = v
		} else if src.Audio == nil {
			a := &manifest.AudioFacts{Codec: codecName(t.Codec.Name())}
			if o, ok := t.Codec.(stream.Opus); ok {
				a.Channels = o.ChannelCount
			}
			src.Audio = a
		}
	}
	return src
}

func codecName(s string) string {
	if s == "hevc" {
		return "h265"
	}
	return s
}

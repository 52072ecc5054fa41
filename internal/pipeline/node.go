// Package pipeline is the runtime graph of a live input: nodes (sources,
// processors, sinks) joined by streams of the hub. A live input's stream
// starting in the hub builds its graph from the registered node kinds and
// the live input's settings; every rendition a node publishes back into
// the hub (Stream.PublishRendition) is handed to the nodes of the graph
// that subscribe to renditions. No node is fed by a call of another node:
// media moves through hub streams, finished segments through a typed Feed
// the graph owns.
package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Node is one processing step of a live input's graph. Run consumes the
// node's inputs (readers it attached to hub streams when it was built)
// until they end or ctx is done; it returns nil at the end of its inputs.
// A node never blocks the publisher: its readers have bounded queues.
type Node interface {
	// ID names the node within its graph ("hls", "record", "transcode").
	ID() string
	// Kind is the registered kind the node was built from.
	Kind() string
	Run(ctx context.Context) error
}

// Counters are what a node counts; a node may implement Counted to report
// them in its Status.
type Counters struct {
	In, Out, Dropped uint64
	// Restarts counts restarts of the node's work (an ffmpeg process).
	Restarts uint64
}

// Counted is implemented by nodes that report Counters.
type Counted interface{ Counters() Counters }

// Reporting is implemented by nodes whose work fails now and then while
// they run on (a thumbnail not made): LastError says why the last attempt
// failed, "" once one succeeds. It is the Status's LastError while the
// node has not failed.
type Reporting interface{ LastError() string }

// RenditionSubscriber is implemented by nodes that consume the renditions
// published under their live input (the LL-HLS packager). The graph calls
// Rendition synchronously when one is published, before its first unit:
// the node attaches a reader and reads it in a goroutine it owns and waits
// for before Run returns. The node learns that no more renditions will
// come from Env.RenditionsDone.
type RenditionSubscriber interface {
	Rendition(s *stream.Stream)
}

// RenditionProducer is implemented by nodes that publish renditions (the
// transcoder): Env.RenditionsDone closes once every such node has returned.
type RenditionProducer interface {
	ProducesRenditions()
}

// SegmentProducer is implemented by nodes that publish on Env.Segments
// (the LL-HLS packager). The graph closes the feed once every such node
// has returned, and right away when none was built (a packager that
// failed to build on a publisher's bad codec parameters): a subscriber
// such as the recorder never waits for segments that cannot come.
type SegmentProducer interface {
	ProducesSegments()
}

// Reporter receives the failures nodes report about their live input
// (they become live_input.errored events).
type Reporter interface {
	Errored(liveInput, code, message string)
}

// TopRendition describes the rendition that stands for a source the
// packager cannot carry (VP8/VP9 video, stream.TranscodedOnly): the top
// rung of its ladder, which the recorder records instead of the source.
type TopRendition struct {
	Name          string
	Codec         string // h264 | h265
	Width, Height int
}

// AudioRendition describes the rendition that stands for the source's
// audio track in the LL-HLS packager: the source's Opus (WebRTC's codec,
// which Safari's HLS does not play) transcoded to AAC-LC and published back
// into the hub as a rendition holding only that track. The packager muxes
// the rendition's audio with the source's video, in place of the source's
// own audio track; its units are on the source's timeline.
type AudioRendition struct {
	Name  string
	Codec stream.Codec
	// Lag is how far behind the source's video, in wall-clock time, its
	// units may arrive (a transcode's delay): the packager waits up to
	// that long at a segment cut for the segment's audio.
	Lag time.Duration
}

// Env is what the nodes of one graph are built with.
type Env struct {
	// Source is the live input's stream in the hub.
	Source *stream.Stream
	// Input is the live input's settings as stored when the stream
	// started; nil when they could not be read (nodes use defaults).
	Input *store.LiveInput
	// Segments carries every segment the LL-HLS packager completes, of
	// every rendition, to the nodes that subscribe (the recorder). It is
	// closed after the broadcast's last segment (see SegmentProducer).
	Segments *Feed[hls.SegmentInfo]
	// Top is set by a producer of renditions at build time when the
	// source has no packaged rendition of its own (see TopRendition).
	Top *TopRendition
	// Audio is set by a producer of renditions at build time when the
	// source's audio is to be packaged from a rendition of its own (see
	// AudioRendition).
	Audio  *AudioRendition
	Report Reporter
	// States, when set, is told about every node's state changes.
	States StateObserver
	Log    *slog.Logger

	renditionsDone chan struct{}
}

// RenditionsDone is closed once every RenditionProducer of the graph has
// returned: no rendition will be published any more.
func (e *Env) RenditionsDone() <-chan struct{} { return e.renditionsDone }

// Kind is a registered kind of node. New builds the node of a graph from
// env, or returns nil, nil when the live input's settings do not ask for
// one. Kinds are built in registration order, all before any runs, so a
// node subscribing to a Feed in New sees everything published on it.
type Kind struct {
	Name string
	New  func(env *Env) (Node, error)
}

// Registry is the set of node kinds the default graph is built from,
// and the Binder of live inputs that run a pipeline instead.
type Registry struct {
	kinds  []Kind
	binder Binder
}

// Binder builds the graphs of live inputs bound to a pipeline (see
// internal/pipelines): the manager asks it first for every stream that
// starts.
type Binder interface {
	// Nodes returns the nodes of env.Source's graph when its live input
	// is bound to a pipeline (it may set env.States); ok is false for
	// the default graph, built from the registered kinds.
	Nodes(ctx context.Context, env *Env) (nodes []NodeSpec, ok bool)
	// Started is told about every graph once its nodes run (bound: built
	// from Nodes), before the stream's first unit; Ended once the graph
	// drained after its stream ended.
	Started(g *Graph, bound bool)
	Ended(g *Graph)
}

// Bind sets the Binder; like Register, it is called while the daemon is
// composed, before any stream starts.
func (r *Registry) Bind(b Binder) { r.binder = b }

// Register adds a kind; the order of registration is the order of build.
func (r *Registry) Register(k Kind) { r.kinds = append(r.kinds, k) }

// Lookup returns the registered kind called name, or nil.
func (r *Registry) Lookup(name string) *Kind {
	for i := range r.kinds {
		if r.kinds[i].Name == name {
			k := r.kinds[i]
			return &k
		}
	}
	return nil
}

// Kinds returns the registered kinds in order.
func (r *Registry) Kinds() []Kind { return append([]Kind(nil), r.kinds...) }

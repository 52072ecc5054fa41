// Package live holds the live state of live inputs: the stream hub and the
// graphs of the streams in it, the publisher sessions and statuses the API
// reports, the status events they emit, and stream-key lookup (Directory).
package live

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Metrics receives what the runtime counts.
type Metrics interface {
	StreamStarted(liveInput string)
	StreamEnded(liveInput string)
	Dropped(liveInput, reader string)
	// Bitrate is the publisher's received bitrate, bits/s.
	Bitrate(liveInput string) float64
	// RTPStats is the last sample of an RTSP publisher's or pulled
	// camera's receive statistics; false for other sessions.
	RTPStats(liveInput string) (ingest.RTPStats, bool)
}

// Viewers counts the viewers of a live input now (the LL-HLS output).
type Viewers interface {
	Viewers(liveInput string) int
}

// Config configures a Runtime.
type Config struct {
	LiveInputs store.LiveInputs // required
	// Outbox is where the status events are written before they are
	// published (the webhook outbox). Required.
	Outbox store.Webhooks
	Bus    *events.Bus   // required
	Render *api.Renderer // required: the data of the status events
	// Kinds are the node kinds of every live input's default graph.
	Kinds *pipeline.Registry
	// ReconnectWindow is how long a stream outlives its publisher (hub
	// default 10 s).
	ReconnectWindow time.Duration
	Metrics         Metrics // required
	Viewers         Viewers // nil: no viewers reported
	// Registerer receives the graphs' metrics; nil: none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// liveState is the live state of one live input with a stream.
type liveState struct {
	status  string
	session *api.Session
	row     *store.LiveInput // as read at the last connection; nil if unread
}

// Runtime owns the hub and the graphs of its streams, and implements
// api.Runtime: it follows every publisher (connected, reconnecting, idle)
// and emits the status events (live_input.connected, .disconnected,
// .idle, .errored) through the webhook outbox: connected in the
// transaction that records last_connected_at, the others (changes of the
// runtime state alone) in their own, before they are published on the bus.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	hub    *stream.Hub
	graphs *pipeline.Manager

	mu   sync.Mutex
	live map[string]*liveState
}

var (
	_ api.Runtime       = (*Runtime)(nil)
	_ api.SessionLookup = (*Runtime)(nil)
	_ pipeline.Reporter = (*Runtime)(nil)
)

// eventWriteTimeout bounds the store writes of the status hooks.
const eventWriteTimeout = 5 * time.Second

// New builds the runtime, its hub and the graph manager that builds each
// stream's graph from cfg.Kinds.
func New(cfg Config) (*Runtime, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, live: map[string]*liveState{}}
	m, err := pipeline.NewManager(pipeline.ManagerConfig{Kinds: cfg.Kinds, Settings: cfg.LiveInputs, Report: r,
		Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	r.graphs = m
	r.hub = stream.NewHub(stream.HubConfig{
		ReconnectWindow: cfg.ReconnectWindow,
		OnStart:         r.streamStarted,
		OnRendition:     m.Rendition,
		OnEnd:           r.streamEnded,
		OnDrop:          cfg.Metrics.Dropped,
		OnConnect: func(s *stream.Stream, si stream.SessionInfo) {
			r.log.Info("publisher connected", "live_input", s.ID(), "protocol", si.Protocol, "remote", si.Remote)
			r.started(s.ID(), si.Protocol, si.Remote)
		},
		OnDisconnect: func(s *stream.Stream, si stream.SessionInfo) {
			r.log.Info("publisher disconnected", "live_input", s.ID(), "protocol", si.Protocol, "remote", si.Remote)
			r.disconnected(s.ID())
		},
	})
	return r, nil
}

// Hub is the stream hub ingest publishes into.
func (r *Runtime) Hub() *stream.Hub { return r.hub }

// Graphs reports the nodes of the graph of live input id.
func (r *Runtime) Graphs(id string) []pipeline.Status { return r.graphs.Status(id) }

func (r *Runtime) streamStarted(s *stream.Stream) {
	r.cfg.Metrics.StreamStarted(s.ID())
	r.graphs.Start(s)
	r.log.Info("stream started", "live_input", s.ID(), "codecs", codecs(s))
}

func (r *Runtime) streamEnded(s *stream.Stream) {
	r.graphs.End(s) // the nodes drain what was queued before the end
	r.cfg.Metrics.StreamEnded(s.ID())
	r.ended(s.ID())
	r.log.Info("stream ended", "live_input", s.ID())
}

func codecs(s *stream.Stream) []string {
	out := make([]string, 0, 2)
	for _, t := range s.Tracks() {
		out = append(out, t.Codec.Name())
	}
	return out
}

// Close ends every stream (EXT-X-ENDLIST; their graphs drain and the
// live_input.idle events are published) and stops what graphs remain;
// idempotent.
func (r *Runtime) Close() {
	r.hub.Close()
	r.graphs.Close()
}

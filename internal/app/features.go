package app

import (
	"log/slog"
	"net/http"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/httpserver"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/output/hlsout"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/rungroup"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// features are the optional parts of the daemon, each wired in one file of
// this package (internal/app/<feature>.go) by a function of this type.
// Adding a feature is one line here.
var features = []Feature{}

// Feature wires one feature into the daemon: it registers node kinds of
// the live graphs (Kinds.Register), HTTP routes of the playback listener
// (Handle) and components to run (Actor), from the components already
// built. It runs once, from New, after the store, the hub and the API
// exist and before any stream starts.
type Feature func(b *Builder) error

// Builder is what a Feature wires from and into.
type Builder struct {
	Config    *conf.Config
	Log       *slog.Logger
	Metrics   *metrics.Metrics
	Store     store.Store
	Bus       *events.Bus
	FFmpeg    *ffmpeg.Account    // the one ffmpeg capacity account
	Hub       *stream.Hub        // the live streams, renditions included
	Directory auth.Directory     // stream keys, with the publish admission hook
	HLS       *hlsout.Server     // the LL-HLS output (viewers, playlists)
	Kinds     *pipeline.Registry // node kinds of every live input's default graph

	routes []httpserver.Route
	actors []rungroup.Actor
}

// Handle adds a route to the playback listener (http.address).
func (b *Builder) Handle(pattern string, h http.Handler) {
	b.routes = append(b.routes, httpserver.Route{Pattern: pattern, Handler: h})
}

// Actor adds a component to the run group: execute runs it until
// interrupt is called. Feature actors start after ingest and stop before
// it (reverse order of addition).
func (b *Builder) Actor(name string, execute func() error, interrupt func(error)) {
	b.actors = append(b.actors, rungroup.Actor{Name: name, Execute: execute, Interrupt: interrupt})
}

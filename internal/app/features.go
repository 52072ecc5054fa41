package app

import (
	"log/slog"
	"net/http"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/httpserver"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/whip"
	"github.com/mpegflow/mpegflow/internal/live"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/output/hlsout"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/rungroup"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/transcode"
	"github.com/mpegflow/mpegflow/internal/webhook"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// features are the optional parts of the daemon, each wired in one file of
// this package (internal/app/<feature>.go) by a function of this type.
// Adding a feature is one line here.
var features = []Feature{
	wireWHEP,      // WebRTC playback (whep.go)
	wireRestream,  // restream outputs (restream.go)
	wireRTSP,      // RTSP publish and pulled cameras (rtsp.go)
	wireUploads,   // tus, plain and URL uploads (uploads.go)
	wirePipelines, // pipelines run by the live graphs (pipelines.go); after the kinds it runs
}

// Feature wires one feature into the daemon: it registers node kinds of
// the live graphs (Kinds.Register), HTTP routes of the playback listener
// (Handle) and components to run (Actor), from the components already
// built, and gives the control API what it serves (Outputs, Sources,
// Uploads). It runs once, from New, after the store, the hub and the
// ingest listeners exist and before the API is built and any stream starts.
type Feature func(b *Builder) error

// Builder is what a Feature wires from and into.
type Builder struct {
	Config    *conf.Config
	Log       *slog.Logger
	Metrics   *metrics.Metrics
	Store     store.Store
	Bus       *events.Bus
	FFmpeg    *ffmpeg.Account                    // the one ffmpeg capacity account
	Transcode *transcode.Service                 // transcoding (Transcoder nil when unavailable, Reason says why)
	Hub       *stream.Hub                        // the live streams, renditions included
	Directory auth.Directory                     // stream keys, with the publish admission hook
	HLS       *hlsout.Server                     // the LL-HLS output (viewers, playlists)
	Kinds     *pipeline.Registry                 // node kinds of every live input's default graph
	LiveGate  *playback.Gate                     // the playback gate of /live/
	ICE       *webrtcice.Mux                     // the WebRTC transport; nil without webrtc.udp_address
	WHIP      *whip.Server                       // WHIP ingest (key-frame requests); nil without ICE
	Throttle  *ingest.Throttle                   // the bad-key throttle of every ingest protocol
	Events    interface{ Publish(events.Event) } // to the webhook outbox, then the bus
	Webhooks  *webhook.Service                   // the webhook outbox (EmitTo: one endpoint)
	Recorder  *record.Recorder                   // recordings and VOD assets
	Blobs     blob.Store                         // where VOD assets are stored
	Render    *api.Renderer                      // the API's objects, for event data

	// What features give the control API, read once every feature ran.
	Outputs   api.OutputsDeps
	Sources   api.SourceStatuser
	Uploads   api.UploadsDeps
	Pipelines api.PipelineRuntime

	routes  []httpserver.Route
	actors  []rungroup.Actor
	viewers *live.ViewerSum
	demand  *hlsout.Demands
}

// CountViewers adds an output whose viewers count in the API's sessions.
func (b *Builder) CountViewers(v live.Viewers) { b.viewers.Add(v) }

// AddDemandSource adds a source that runs only while watched: viewers'
// requests (LL-HLS, WHEP) reach it through Demand.
func (b *Builder) AddDemandSource(d hlsout.Demand) { b.demand.Add(d) }

// Demand is what outputs tell of their viewers' requests, so that sources
// that run only while watched start and keep running.
func (b *Builder) Demand() hlsout.Demand { return b.demand }

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

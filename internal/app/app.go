// Package app is MpegFlow's composition root: it builds every component
// from the configuration, runs them in one run group, and stops them in
// reverse order. It holds no HTTP handler, no SQL and no media parsing:
// those belong to the packages it wires.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/httpserver"
	"github.com/mpegflow/mpegflow/internal/ingest/listeners"
	"github.com/mpegflow/mpegflow/internal/live"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/output/hlsout"
	"github.com/mpegflow/mpegflow/internal/output/vodhttp"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/rpc"
	"github.com/mpegflow/mpegflow/internal/rungroup"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/transcode"
	"github.com/mpegflow/mpegflow/internal/transcode/audio"
	"github.com/mpegflow/mpegflow/internal/webhook"
	"github.com/mpegflow/mpegflow/web"
)

// ShutdownTimeout bounds a graceful stop (SIGTERM): listeners close, every
// stream ends with EXT-X-ENDLIST, and in-flight HTTP requests get this long.
const ShutdownTimeout = 8 * time.Second

// App is one running daemon. Several can live in one process (tests).
type App struct {
	cfg     *conf.Config
	log     *slog.Logger
	metrics *metrics.Metrics

	st       store.Store
	bus      *events.Bus
	api      *api.Server
	pb       *playback.Service
	webhooks *webhook.Service
	tc       *transcode.Service
	rec      *record.Service
	hls      *hlsout.Server
	rt       *live.Runtime
	dir      auth.Directory
	ingest   *listeners.Set
	http     *httpserver.Server
	met      *httpserver.Server // nil without metrics.address
	actors   []rungroup.Actor   // the features'
	ready    atomic.Bool
	closers  []func() // release what New built, in reverse order
}

// New builds the daemon and binds every listener, so that the addresses are
// known (and ports taken) when it returns.
//
// The store is opened here (SQLite in data_dir, or PostgreSQL); a
// generated admin API token is printed once to stdout.
func New(cfg *conf.Config, log *slog.Logger, version string, stdout io.Writer) (_ *App, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	a := &App{cfg: cfg, log: log, metrics: metrics.New(version, metrics.WithDataDir(cfg.DataDir))}
	defer func() {
		if err != nil {
			for i := len(a.actors) - 1; i >= 0; i-- {
				a.actors[i].Interrupt(err) // the features' components never ran
			}
			a.release()
		}
	}()
	ctx := context.Background()
	if a.st, err = openStore(ctx, cfg, log, stdout); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = a.st.Close() })
	key, err := api.CursorKey(ctx, a.st.Tokens())
	if err != nil {
		return nil, err
	}
	a.bus = events.NewBus()
	a.closers = append(a.closers, a.bus.Close)
	ep := api.Endpoints{RTMP: cfg.RTMP.Address, SRT: cfg.SRT.Address, RTSP: cfg.RTSP.Address, HTTP: cfg.HTTP.Address}
	render := api.NewRenderer(ep)
	if a.pb, err = playback.Setup(ctx, playback.SetupConfig{Store: a.st, TokenCacheSize: cfg.Playback.TokenCacheSize,
		GeoIPDatabase: cfg.GeoIP.Database, TrustedProxies: cfg.HTTP.TrustedProxies, PlayURL: cfg.Admission.PlayURL,
		PublishURL: cfg.Admission.PublishURL, Timeout: cfg.Admission.Timeout.D(), FailOpen: cfg.Admission.OnError == "allow",
		Registerer: a.metrics.Registry, Logger: log.With("component", "playback")}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.pb.Close)
	node, err := record.NodeID(cfg.Recording.NodeID, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("recording.node_id: %w", err)
	}
	if a.webhooks, err = webhook.Setup(webhook.SetupConfig{Conf: cfg.Webhooks, Store: a.st.Webhooks(), Bus: a.bus, NodeID: node,
		Version: version, Registerer: a.metrics.Registry, Logger: log.With("component", "webhooks")}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.webhooks.Close)
	// transcoding first: it builds the ffmpeg capacity account that WHIP
	// audio, thumbnails and MP4 builds draw on too
	if a.tc, err = transcode.Setup(ctx, cfg.Transcode, a.metrics.Registry, log); err != nil {
		return nil, err
	}
	blobs, err := blob.Open(ctx, cfg.Storage.Kind, filepath.Join(cfg.DataDir, "blobs"), blob.S3Config{Endpoint: cfg.Storage.S3.Endpoint,
		Bucket: cfg.Storage.S3.Bucket, Region: cfg.Storage.S3.Region, AccessKey: cfg.Storage.S3.AccessKey, SecretKey: cfg.Storage.S3.SecretKey,
		UseTLS: cfg.Storage.S3.UseTLS})
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if a.rec, err = record.Setup(record.SetupConfig{Conf: cfg.Recording, NodeID: node, Videos: a.st.Videos(), LiveInputs: a.st.LiveInputs(),
		Blobs: blobs, Bus: a.bus, Render: render.VideoData, Capacity: a.tc.Account, Registerer: a.metrics.Registry, Logger: log,
		TargetDuration: max(cfg.HLS.MaxSegmentDuration.D(), cfg.HLS.SegmentDuration.D())}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.rec.Close)
	demand := &hlsout.Demands{}
	a.hls = hlsout.New(hlsout.Config{
		SegmentDuration:    cfg.HLS.SegmentDuration.D(),
		PartDuration:       cfg.HLS.PartDuration.D(),
		MaxSegmentDuration: cfg.HLS.MaxSegmentDuration.D(),
		// completed segments go to disk (page cache, not process memory);
		// only the segment in progress stays in RAM
		SpillDir: filepath.Join(cfg.DataDir, "hls-spill"),
		Metrics:  a.metrics,
		Logger:   log,
		Demand:   demand, // on-demand sources, added by features
	})
	a.closers = append(a.closers, a.hls.Close)

	// the default graph of a live input: AAC from Opus (before the
	// packager, which muxes it in place of the Opus), LL-HLS, the transcode
	// ladder (publishing its rungs back into the hub) when its setting
	// asks, the recorder (reading the packager's segments); then the
	// features' kinds
	kinds := &pipeline.Registry{}
	kinds.Register(audio.New(audio.Config{Account: a.tc.Account, Logger: log}).Kind())
	kinds.Register(a.hls.Kind())
	if tc := a.tc.Transcoder; tc != nil {
		kinds.Register(tc.Kind())
	}
	kinds.Register(a.rec.Recorder().Kind())
	viewers := &live.ViewerSum{a.hls}
	if a.rt, err = live.New(live.Config{LiveInputs: a.st.LiveInputs(), Outbox: a.st.Webhooks(), Bus: a.bus, Render: render,
		Kinds: kinds, ReconnectWindow: cfg.RTMP.ReconnectWindow.D(), Metrics: a.metrics, Viewers: viewers,
		Registerer: a.metrics.Registry, Logger: log}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.rt.Close)
	proxies, err := playback.ParseProxies(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("http.%w", err)
	}
	a.dir = a.pb.Directory(live.NewDirectory(a.st.LiveInputs()))
	lc := listeners.Config{Conf: cfg, Hub: a.rt.Hub(), Directory: a.dir, Metrics: a.metrics, Logger: log}
	if tc := a.tc.Transcoder; tc != nil {
		lc.AcceptVPX = func(ctx context.Context, id string) bool { return tc.AcceptVPX(ctx, a.st.LiveInputs(), id) }
	}
	if a.ingest, err = listeners.New(lc); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.ingest.Close)

	b := &Builder{Config: cfg, Log: log, Metrics: a.metrics, Store: a.st, Bus: a.bus, FFmpeg: a.tc.Account, Transcode: a.tc,
		Hub: a.rt.Hub(), Directory: a.dir, HLS: a.hls, Kinds: kinds, LiveGate: a.pb.Live, ICE: a.ingest.ICE,
		WHIP: a.ingest.WHIP, Throttle: a.ingest.Throttle, Events: a.webhooks, Webhooks: a.webhooks, Recorder: a.rec.Recorder(), Blobs: blobs, Render: render, viewers: viewers, demand: demand}
	for _, f := range features {
		err := f(b)
		a.actors = b.actors
		if err != nil {
			return nil, err
		}
	}
	if a.api, err = api.New(api.Config{Store: a.st, Bus: a.bus, Runtime: a.rt, Logger: log.With("component", "api"), ClientAddr: proxies,
		Endpoints: ep, CursorKey: key, Webhooks: api.WebhooksDeps{Service: a.webhooks},
		Videos: api.VideosDeps{Videos: api.RecorderVideos(a.rec.Recorder())},
		System: api.SystemDeps{Transcode: api.TranscodeSystem(a.tc)}, TranscodeProfiles: a.tc.ProfileNames(),
		Outputs: b.Outputs, Sources: b.Sources, Uploads: b.Uploads, Pipelines: b.Pipelines}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = a.api.Close() })

	for _, rt := range rpc.New(a.api, log.With("component", "rpc")).Routes() {
		b.Handle(rt.Pattern, rt.Handler) // gRPC, gRPC-Web and Connect over the same service layer
	}
	var whipHandler http.Handler
	if a.ingest.WHIP != nil {
		whipHandler = a.ingest.WHIP.Handler()
	}
	if a.http, err = httpserver.Listen(httpserver.ServerConfig{Address: cfg.HTTP.Address, Setting: "http.address",
		Handler: httpserver.New(httpserver.Config{CORSAllowOrigin: cfg.HTTP.CORSAllowOrigin, HLSJSURL: cfg.HTTP.HLSJSURL,
			Live: a.hls, Inputs: a.dir, LiveGate: a.pb.Live, WHIP: whipHandler, API: a.metrics.API(a.api.Handler()),
			Videos: vodhttp.New(vodhttp.Config{Recorder: a.rec.Recorder(), Blobs: blobs, Gate: a.pb.Videos,
				PlayerPage: web.PlayerPage(cfg.HTTP.HLSJSURL), Logger: log}),
			Routes: b.routes, Ready: &a.ready, Logger: log}),
		Protocols: httpserver.H2C(), // gRPC clients speak HTTP/2 without TLS
		Logger:    log}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.http.Close)
	if cfg.Metrics.Address != "" {
		if a.met, err = httpserver.Listen(httpserver.ServerConfig{Address: cfg.Metrics.Address, Setting: "metrics.address",
			Handler: a.metrics.DebugHandler(), Logger: log}); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.met.Close)
	}
	return a, nil
}

// release releases what New built, in reverse order; used when New fails
// and once Run has stopped the run group.
func (a *App) release() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// HTTPAddr is the bound playback address.
func (a *App) HTTPAddr() net.Addr { return a.http.Addr() }

// RTMPAddr is the bound RTMP address.
func (a *App) RTMPAddr() net.Addr { return a.ingest.RTMP.Addr() }

// MetricsAddr is the bound metrics address, or nil when metrics are off.
func (a *App) MetricsAddr() net.Addr {
	if a.met == nil {
		return nil
	}
	return a.met.Addr()
}

// Directory resolves live inputs.
func (a *App) Directory() auth.Directory { return a.dir }

// Run serves until ctx is done, then stops the run group in reverse order:
// ingest listeners close, every stream ends (EXT-X-ENDLIST) and its graph
// drains, recordings finish, HTTP drains for up to ShutdownTimeout,
// webhook delivery stops; then the store closes.
func (a *App) Run(ctx context.Context) error {
	// recordings a crash interrupted are recovered before the daemon says
	// it is ready, so that the API shows them finished
	a.rec.Recorder().Run(ctx)
	var g rungroup.Group
	wctx, stopWebhooks := context.WithCancel(context.Background())
	g.Add("webhooks", func() error { return ignoreCanceled(a.webhooks.Run(wctx)) }, func(error) { stopWebhooks() })
	shutdown := func(s *httpserver.Server) func(error) { return func(error) { s.Shutdown(ShutdownTimeout) } }
	g.Add("http", a.http.Run, shutdown(a.http))
	if a.met != nil {
		g.Add("metrics", a.met.Run, shutdown(a.met))
	}
	g.Add("recorder", func() error { return a.rec.Run(context.Background()) }, func(error) { a.rec.Close() })
	hubDone := make(chan struct{})
	g.Add("live", func() error { <-hubDone; return nil }, func(error) {
		a.rt.Close() // ends every stream: ENDLIST, graphs drained, idle events out
		close(hubDone)
	})
	a.ingest.Actors(&g)
	for _, ac := range a.actors {
		g.Add(ac.Name, ac.Execute, ac.Interrupt)
	}
	g.Add("signal", func() error {
		a.ready.Store(true)
		a.logReady()
		<-ctx.Done()
		a.log.Info("shutting down")
		return nil
	}, func(error) {})
	err := g.Run()
	a.ready.Store(false)
	if err != nil {
		a.log.Error("component failed, shut down", "error", err)
	}
	a.release()
	return err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (a *App) logReady() {
	attrs := append([]any{"http", a.HTTPAddr().String()}, a.ingest.LogAttrs()...)
	if m := a.MetricsAddr(); m != nil {
		attrs = append(attrs, "metrics", m.String())
	}
	a.log.Info("mpegflow ready", attrs...)
}

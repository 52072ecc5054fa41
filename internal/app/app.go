// Package app is MpegFlow's composition root: it builds every component from
// the configuration, runs them, and shuts them down in order.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp"
	"github.com/mpegflow/mpegflow/internal/ingest/srt"
	"github.com/mpegflow/mpegflow/internal/ingest/whip"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/output/hlsout"
	"github.com/mpegflow/mpegflow/internal/output/restream"
	"github.com/mpegflow/mpegflow/internal/output/whep"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// ShutdownTimeout bounds a graceful stop (SIGTERM): listeners close, every
// stream ends with EXT-X-ENDLIST, and in-flight HTTP requests get this long.
const ShutdownTimeout = 8 * time.Second

// App is one running daemon. Several can live in one process (tests).
type App struct {
	cfg     *conf.Config
	version string
	log     *slog.Logger
	metrics *metrics.Metrics
	dir     auth.Directory
	control *control
	pb      *playbackState // playback.go (issue 6)
	hub     *stream.Hub
	hls     *hlsout.Server
	// transcode is ABR transcoding (transcode.go, issue 9)
	transcode *transcodeFeature
	// ffm is the ffmpeg capacity account of every ffmpeg job (transcode.go)
	ffm *ffmpeg.Account
	// restream runs the outputs of live inputs (restream.go)
	restream *restream.Manager

	httpLn, metricsLn   net.Listener
	httpSrv, metricsSrv *http.Server
	rtmp, rtmps         *rtmp.Server
	whip                *whip.Server   // nil when webrtc.udp_address is ""
	ice                 *webrtcice.Mux // shared by WHIP and WHEP (whep.go)
	whep                *whep.Server   // WebRTC playback (whep.go); nil with ice
	srt                 *srt.Server    // nil when srt.address is ""
	rtsp                *rtspIngest    // rtsp.go

	ready atomic.Bool
	rec   *recording    // recording.go (issue 8); nil when not built
	wh    *webhookState // webhooks.go (issue 7); nil when not built
	up    *uploads      // uploads.go; nil when not built

	gmu    sync.Mutex
	graphs map[*stream.Stream]*pipeline.Graph
	gctx   context.Context
	gstop  context.CancelFunc
}

// New builds the daemon and binds every listener, so that the addresses are
// known (and ports taken) when it returns.
//
// The control plane's store is opened here (SQLite in data_dir, or
// PostgreSQL); a generated admin API token is printed once to stdout.
func New(cfg *conf.Config, log *slog.Logger, version string, stdout io.Writer) (_ *App, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	a := &App{cfg: cfg, log: log, version: version, metrics: metrics.New(version, metrics.WithDataDir(cfg.DataDir)), graphs: map[*stream.Stream]*pipeline.Graph{}}
	ctl, err := openControl(context.Background(), cfg, log, stdout, a.featureDeps)
	if err != nil {
		a.closeFeatures()
		return nil, err
	}
	dir := a.wrapDirectory(ctl.Directory())
	a.dir, a.control = dir, ctl
	a.gctx, a.gstop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			a.closeListeners()
			a.closeFeatures()
			_ = ctl.Close()
		}
	}()
	a.hls = hlsout.New(hlsout.Config{
		SegmentDuration:    cfg.HLS.SegmentDuration.D(),
		PartDuration:       cfg.HLS.PartDuration.D(),
		MaxSegmentDuration: cfg.HLS.MaxSegmentDuration.D(),
		// completed segments go to disk (page cache, not process memory);
		// only the segment in progress stays in RAM
		SpillDir:  filepath.Join(cfg.DataDir, "hls-spill"),
		Metrics:   a.metrics,
		OnSegment: a.onSegment,
		Logger:    log,
	})
	a.hub = stream.NewHub(stream.HubConfig{
		ReconnectWindow: cfg.RTMP.ReconnectWindow.D(),
		OnStart:         a.streamStarted,
		OnEnd:           a.streamEnded,
		OnDrop:          a.metrics.Dropped,
		OnConnect: func(s *stream.Stream, si stream.SessionInfo) {
			a.log.Info("publisher connected", "live_input", s.ID(), "protocol", si.Protocol, "remote", si.Remote)
			a.control.StreamStarted(s.ID(), si.Protocol, si.Remote)
		},
		OnDisconnect: func(s *stream.Stream, si stream.SessionInfo) {
			a.log.Info("publisher disconnected", "live_input", s.ID(), "protocol", si.Protocol, "remote", si.Remote)
			a.control.StreamDisconnected(s.ID())
		},
	})
	ctl.SetPublisherControl(pubControl{a})

	// one bad-key throttle for every ingest protocol
	throttle := ingest.NewThrottle(ingest.ThrottleConfig{})
	if cfg.SRT.Address != "" {
		a.srt, err = srt.New(srt.Config{
			Throttle:  throttle,
			Address:   cfg.SRT.Address,
			Latency:   cfg.SRT.Latency.D(),
			Directory: dir,
			Hub:       a.hub,
			Takeover:  cfg.RTMP.OnDuplicate == "replace",
			Metrics:   a.metrics,
			Stats:     srtStats{a.metrics},
			Logger:    log,
		})
		if err != nil {
			return nil, fmt.Errorf("srt.address: %w", err)
		}
	}
	if err = a.initRTSP(cfg, dir, throttle, log); err != nil {
		return nil, err
	}
	if cfg.WebRTC.UDPAddress != "" {
		if a.ice, err = a.openICE(); err != nil {
			return nil, fmt.Errorf("webrtc.udp_address: %w", err)
		}
		a.whip, err = whip.New(whip.Config{
			ICE:              a.ice,
			KeyframeInterval: cfg.HLS.SegmentDuration.D(),
			Directory:        dir,
			Hub:              a.hub,
			Takeover:         cfg.RTMP.OnDuplicate == "replace",
			CORSOrigin:       cfg.HTTP.CORSAllowOrigin,
			AcceptVPX:        a.whipAcceptVPX,
			Capacity:         a.ffm,
			Metrics:          a.metrics,
			Throttle:         throttle,
			Logger:           log,
		})
		if err != nil {
			return nil, fmt.Errorf("webrtc.udp_address: %w", err)
		}
		if a.whep, err = a.newWHEP(); err != nil {
			return nil, fmt.Errorf("whep: %w", err)
		}
	}
	if a.httpLn, err = net.Listen("tcp", cfg.HTTP.Address); err != nil {
		return nil, fmt.Errorf("http.address: %w", err)
	}
	a.httpSrv = &http.Server{
		Handler:           a.routes(),
		Protocols:         h2c(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if cfg.Metrics.Address != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.Metrics.Address); err != nil {
			return nil, fmt.Errorf("metrics.address: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.metrics.Handler())
		// profiles for operators, on the metrics listener (loopback by default)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		a.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	rcfg := rtmp.Config{
		Address:   cfg.RTMP.Address,
		Directory: dir,
		Hub:       a.hub,
		Takeover:  cfg.RTMP.OnDuplicate == "replace",
		Metrics:   a.metrics,
		Throttle:  throttle,
		Logger:    log,
	}
	if a.rtmp, err = rtmp.New(rcfg); err != nil {
		return nil, fmt.Errorf("rtmp.address: %w", err)
	}
	if cfg.RTMPS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.RTMPS.CertFile, cfg.RTMPS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("rtmps.cert_file: %w", err)
		}
		rcfg.Address = cfg.RTMPS.Address
		rcfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if a.rtmps, err = rtmp.New(rcfg); err != nil {
			return nil, fmt.Errorf("rtmps.address: %w", err)
		}
	}
	return a, nil
}

func (a *App) closeListeners() {
	if a.httpLn != nil {
		_ = a.httpLn.Close()
	}
	if a.metricsLn != nil {
		_ = a.metricsLn.Close()
	}
	a.closeIngest()
}

// closeIngest stops every ingest listener and its sessions; each Close is
// idempotent and nil-safe here.
func (a *App) closeIngest() {
	if a.rtmp != nil {
		_ = a.rtmp.Close()
	}
	if a.rtmps != nil {
		_ = a.rtmps.Close()
	}
	if a.whip != nil {
		_ = a.whip.Close()
	}
	if a.whep != nil {
		_ = a.whep.Close()
	}
	if a.ice != nil {
		_ = a.ice.Close()
	}
	if a.srt != nil {
		_ = a.srt.Close()
	}
	a.closeRTSP()
}

// HTTPAddr is the bound playback address.
func (a *App) HTTPAddr() net.Addr { return a.httpLn.Addr() }

// RTMPAddr is the bound RTMP address.
func (a *App) RTMPAddr() net.Addr { return a.rtmp.Addr() }

// MetricsAddr is the bound metrics address, or nil when metrics are off.
func (a *App) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}

// SRTAddr is the bound SRT (UDP) address, or nil.
func (a *App) SRTAddr() net.Addr {
	if a.srt == nil {
		return nil
	}
	return a.srt.Addr()
}

// WebRTCAddr is the bound UDP address of WHIP sessions, or nil.
func (a *App) WebRTCAddr() net.Addr {
	if a.whip == nil {
		return nil
	}
	return a.whip.UDPAddr()
}

// Directory resolves live inputs.
func (a *App) Directory() auth.Directory { return a.dir }

func (a *App) streamStarted(s *stream.Stream) {
	log := a.log.With("live_input", s.ID())
	a.metrics.StreamStarted(s.ID())
	sink, err := a.hls.Sink(s)
	if err != nil {
		log.Error("cannot package stream as HLS", "error", err)
		return
	}
	// the default graph: source → HLS, plus the features' sinks
	// (recording.go, transcode.go)
	sinks := append([]pipeline.Sink{sink}, a.featureSinks(s)...)
	g := pipeline.Start(a.gctx, s, a.log, sinks...)
	a.gmu.Lock()
	a.graphs[s] = g
	a.gmu.Unlock()
	a.restreamStarted(s)
	codecs := make([]string, 0, 2)
	for _, t := range s.Tracks() {
		codecs = append(codecs, t.Codec.Name())
	}
	log.Info("stream started", "codecs", codecs)
}

func (a *App) streamEnded(s *stream.Stream) {
	a.gmu.Lock()
	g := a.graphs[s]
	delete(a.graphs, s)
	a.gmu.Unlock()
	if g != nil {
		g.Wait() // sinks drain what was queued before the end
	}
	a.restreamEnded(s)
	a.hls.End(s.ID())
	a.metrics.StreamEnded(s.ID())
	a.control.StreamEnded(s.ID())
	a.log.Info("stream ended", "live_input", s.ID())
}

// Run serves until ctx is done, then shuts down: ingest listeners close,
// every stream ends (EXT-X-ENDLIST), HTTP drains for up to ShutdownTimeout.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	ictx, stopIngest := context.WithCancel(ctx)
	defer stopIngest()
	serve("http", func() error { return a.httpSrv.Serve(a.httpLn) })
	if a.metricsSrv != nil {
		serve("metrics", func() error { return a.metricsSrv.Serve(a.metricsLn) })
	}
	serve("rtmp", func() error { return a.rtmp.Run(ictx) })
	if a.rtmps != nil {
		serve("rtmps", func() error { return a.rtmps.Run(ictx) })
	}
	if a.srt != nil {
		serve("srt", func() error { return a.srt.Run(ictx) })
	}
	a.startFeatures(ictx, &wg)
	a.startRTSP(ictx, &wg)
	a.ready.Store(true)
	attrs := []any{"http", a.HTTPAddr().String(), "rtmp", a.RTMPAddr().String()}
	if a.rtmps != nil {
		attrs = append(attrs, "rtmps", a.rtmps.Addr().String())
	}
	if a.srt != nil {
		attrs = append(attrs, "srt", a.srt.Addr().String())
	}
	if a.whip != nil {
		attrs = append(attrs, "webrtc_udp", a.whip.UDPAddr().String())
	}
	if m := a.MetricsAddr(); m != nil {
		attrs = append(attrs, "metrics", m.String())
	}
	a.log.Info("mpegflow ready", attrs...)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		a.log.Error("component failed, shutting down", "error", runErr)
	}
	a.ready.Store(false)
	a.log.Info("shutting down")
	stopIngest()
	a.closeIngest()
	a.hub.Close()      // ends every stream: ENDLIST, blocked requests released
	a.drainRecording() // recordings finish before the store closes (recording.go)
	a.closeUploads()   // upload jobs stop (requeued) before the store closes (uploads.go)
	a.closeRestream()  // outputs stop, their events reach the outbox (restream.go)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	_ = a.httpSrv.Shutdown(sctx)
	if a.metricsSrv != nil {
		_ = a.metricsSrv.Shutdown(sctx)
	}
	a.closeWebhooks() // delivery stops and releases its leases before the store closes
	if err := a.control.Close(); err != nil {
		a.log.Warn("closing the store", "error", err)
	}
	a.gstop()
	a.gmu.Lock()
	graphs := make([]*pipeline.Graph, 0, len(a.graphs))
	for _, g := range a.graphs {
		graphs = append(graphs, g)
	}
	a.gmu.Unlock()
	for _, g := range graphs {
		g.Close()
	}
	a.hls.Close()
	wg.Wait()
	a.closeFeatures()
	return runErr
}

// pubControl lets the control API act on live publishers through the hub.
type pubControl struct{ a *App }

func (p pubControl) Kick(id string) bool { return p.a.hub.Kick(id) }

func (p pubControl) End(id string) bool { return p.a.hub.End(id) }

func (p pubControl) Stats(id string) (int64, []string, int) {
	s := p.a.hub.Get(id)
	if s == nil {
		return 0, nil, 0
	}
	codecs := make([]string, 0, 2)
	for _, t := range s.Tracks() {
		codecs = append(codecs, t.Codec.Name())
	}
	return int64(p.a.metrics.Bitrate(id)), codecs, p.a.hls.Viewers(id) + p.a.whepViewers(id)
}

package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// rtspIngest is the RTSP publish server (and the RTSPS one, when
// configured) and the pullers of live inputs with a source, kept in step
// with the store through the live input events.
type rtspIngest struct {
	log     *slog.Logger
	st      store.Store
	bus     *events.Bus
	servers []*rtsp.Server
	pullers *rtsp.Pullers // nil until initRTSP
}

var _ api.SourceStatuser = (*rtspIngest)(nil)

// rtspStats adapts the RTSP ingest's loss counts to the Prometheus metrics.
type rtspStats struct{ m *metrics.Metrics }

var _ rtsp.StatsSink = rtspStats{}

func (s rtspStats) UnitsDropped(liveInput string, kind stream.Kind, n int) {
	s.m.UnitsDropped(liveInput, kind.String(), n)
}

func (s rtspStats) PacketsLost(liveInput string, n int) { s.m.RTPPacketsLost(liveInput, n) }

// initRTSPSources is called with the store and the bus (featureDeps): the
// API reports the pullers' state through the returned value.
func (a *App) initRTSPSources(st store.Store, bus *events.Bus) api.SourceStatuser {
	a.rtsp = &rtspIngest{log: a.log, st: st, bus: bus}
	return a.rtsp
}

// SourceStatus implements api.SourceStatuser.
func (ri *rtspIngest) SourceStatus(id string) (api.SourceState, bool) {
	if ri.pullers == nil {
		return api.SourceState{}, false
	}
	s, ok := ri.pullers.Status(id)
	return api.SourceState{State: s.State, LastError: s.LastError, NextRetryAt: s.NextRetryAt, Since: s.Since, Warning: s.Warning}, ok
}

// initRTSP binds rtsp.address (and rtsps.address) with the same directory
// (admission hook included), hub and bad-key throttle as the other ingest
// protocols, and builds the pullers.
func (a *App) initRTSP(cfg *conf.Config, dir auth.Directory, throttle *ingest.Throttle, log *slog.Logger) error {
	ri := a.rtsp
	if ri == nil {
		ri = &rtspIngest{log: log}
		a.rtsp = ri
	}
	takeover := cfg.RTMP.OnDuplicate == "replace"
	// G.711 audio becomes AAC through the daemon's ffmpeg and its capacity
	audio := &rtsp.AudioTranscode{Account: a.ffm}
	base := rtsp.Config{Directory: dir, Hub: a.hub, Takeover: takeover, Throttle: throttle,
		Metrics: a.metrics, Stats: rtspStats{a.metrics}, Audio: audio, Logger: log}
	if cfg.RTSP.Address != "" {
		c := base
		c.Address, c.UDPRTPAddress, c.UDPRTCPAddress = cfg.RTSP.Address, cfg.RTSP.UDPRTPAddress, cfg.RTSP.UDPRTCPAddress
		s, err := rtsp.New(c)
		if err != nil {
			return fmt.Errorf("rtsp.address: %w", err)
		}
		ri.servers = append(ri.servers, s)
	}
	if cfg.RTSPS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.RTSPS.CertFile, cfg.RTSPS.KeyFile)
		if err != nil {
			return fmt.Errorf("rtsps.cert_file: %w", err)
		}
		c := base
		c.Address = cfg.RTSPS.Address
		c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s, err := rtsp.New(c)
		if err != nil {
			return fmt.Errorf("rtsps.address: %w", err)
		}
		ri.servers = append(ri.servers, s)
	}
	var err error
	ri.pullers, err = rtsp.NewPullers(rtsp.PullConfig{Hub: a.hub, Takeover: takeover, Metrics: a.metrics,
		Stats: rtspStats{a.metrics}, Audio: audio, Logger: log})
	return err
}

// startRTSP serves the RTSP listeners and keeps the pullers in step with
// the store until ctx is done.
func (a *App) startRTSP(ctx context.Context, wg *sync.WaitGroup) {
	ri := a.rtsp
	if ri == nil {
		return
	}
	for _, s := range ri.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx); err != nil {
				ri.log.Error("rtsp ingest failed", "error", err)
			}
		}()
	}
	if ri.pullers != nil && ri.st != nil && ri.bus != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ri.syncPullers(ctx)
		}()
	}
}

// syncPullers pulls every enabled live input with a source: all of them at
// start, then each one a live input event names; after a missed event (the
// subscription was cut off) all of them again.
func (ri *rtspIngest) syncPullers(ctx context.Context) {
	defer ri.pullers.Close()
	for ctx.Err() == nil {
		sub := ri.bus.Subscribe(events.SubscribeOptions{Match: events.Filter(
			[]events.Type{events.LiveInputCreated, events.LiveInputUpdated, events.LiveInputDeleted}, "")})
		ri.syncAll(ctx)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-sub.Done():
				break loop
			case ev := <-sub.C():
				ri.syncOne(ctx, ev.LiveInputID)
			}
		}
		sub.Close()
		if ctx.Err() == nil {
			t := time.NewTimer(time.Second) // a cut-off subscription: resubscribe and resync
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

func (ri *rtspIngest) syncAll(ctx context.Context) {
	want := map[string]bool{}
	after := ""
	for {
		rows, more, err := ri.st.LiveInputs().List(ctx, store.ListOptions{Limit: 500, After: after})
		if err != nil {
			if ctx.Err() == nil {
				ri.log.Warn("rtsp pull: listing live inputs", "error", err)
			}
			return
		}
		for _, li := range rows {
			after = li.ID
			if li.Source != nil && li.Enabled {
				want[li.ID] = true
				ri.apply(li)
			}
		}
		if !more {
			break
		}
	}
	for _, id := range ri.pullers.IDs() {
		if !want[id] {
			ri.pullers.Remove(id)
		}
	}
}

func (ri *rtspIngest) syncOne(ctx context.Context, id string) {
	li, err := ri.st.LiveInputs().Get(ctx, id)
	if err != nil || li.Source == nil || !li.Enabled {
		ri.pullers.Remove(id)
		return
	}
	ri.apply(li)
}

func (ri *rtspIngest) apply(li *store.LiveInput) {
	al := auth.LiveInput{ID: li.ID, Name: li.Name, ReconnectWindow: time.Duration(li.ReconnectWindowSeconds) * time.Second}
	src := rtsp.Source{URL: li.Source.URL, Transport: li.Source.Transport, OnDemand: li.Source.OnDemand}
	if err := ri.pullers.Set(al, src); err != nil {
		ri.log.Warn("rtsp pull not started", "live_input", li.ID, "error", err)
	}
}

// closeRTSP stops the RTSP listeners and their sessions; idempotent. The
// pullers stop with the context of startRTSP.
func (a *App) closeRTSP() {
	if a.rtsp == nil {
		return
	}
	for _, s := range a.rtsp.servers {
		_ = s.Close()
	}
}

// RTSPAddr is the bound RTSP (TCP) address, or nil when rtsp.address is "".
func (a *App) RTSPAddr() net.Addr {
	if a.rtsp == nil || len(a.rtsp.servers) == 0 || a.cfg.RTSP.Address == "" {
		return nil
	}
	return a.rtsp.servers[0].Addr()
}

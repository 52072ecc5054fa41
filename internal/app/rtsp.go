package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// rtspIngest is the RTSP publish server and, when configured, the RTSPS
// one.
type rtspIngest struct {
	log     *slog.Logger
	servers []*rtsp.Server
}

// rtspStats adapts the RTSP ingest's loss counts to the Prometheus metrics.
type rtspStats struct{ m *metrics.Metrics }

var _ rtsp.StatsSink = rtspStats{}

func (s rtspStats) UnitsDropped(liveInput string, kind stream.Kind, n int) {
	s.m.UnitsDropped(liveInput, kind.String(), n)
}

func (s rtspStats) PacketsLost(liveInput string, n int) { s.m.RTPPacketsLost(liveInput, n) }

// initRTSP binds rtsp.address (and rtsps.address) with the same directory
// (admission hook included), hub and bad-key throttle as the other ingest
// protocols.
func (a *App) initRTSP(cfg *conf.Config, dir auth.Directory, throttle *ingest.Throttle, log *slog.Logger) error {
	ri := &rtspIngest{log: log}
	a.rtsp = ri
	base := rtsp.Config{
		Directory: dir,
		Hub:       a.hub,
		Takeover:  cfg.RTMP.OnDuplicate == "replace",
		Throttle:  throttle,
		Metrics:   a.metrics,
		Stats:     rtspStats{a.metrics},
		Logger:    log,
	}
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
	return nil
}

// startRTSP serves the RTSP listeners until ctx is done.
func (a *App) startRTSP(ctx context.Context, wg *sync.WaitGroup) {
	if a.rtsp == nil {
		return
	}
	for _, s := range a.rtsp.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx); err != nil {
				a.rtsp.log.Error("rtsp ingest failed", "error", err)
			}
		}()
	}
}

// closeRTSP stops the RTSP listeners and their sessions; idempotent.
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

package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp"
	"github.com/mpegflow/mpegflow/internal/ingest/srt"
	"github.com/mpegflow/mpegflow/internal/ingest/whip"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/rungroup"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// ingestServers are the ingest listeners; srt, rtmps and whip are nil when
// not configured.
type ingestServers struct {
	rtmp, rtmps *rtmp.Server
	srt         *srt.Server
	whip        *whip.Server
	ice         *webrtcice.Mux // shared by WHIP and WHEP; nil with whip
	throttle    *ingest.Throttle
}

// newIngest binds every ingest listener onto the hub, with one bad-key
// throttle for every protocol.
func (a *App) newIngest() (in *ingestServers, err error) {
	cfg, hub := a.cfg, a.rt.Hub()
	in = &ingestServers{}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	takeover := cfg.RTMP.OnDuplicate == "replace"
	throttle := ingest.NewThrottle(ingest.ThrottleConfig{})
	in.throttle = throttle
	if cfg.SRT.Address != "" {
		if in.srt, err = srt.New(srt.Config{Throttle: throttle, Address: cfg.SRT.Address, Latency: cfg.SRT.Latency.D(), Directory: a.dir,
			Hub: hub, Takeover: takeover, Metrics: a.metrics, Stats: metrics.SRTStats{M: a.metrics}, Logger: a.log}); err != nil {
			return nil, fmt.Errorf("srt.address: %w", err)
		}
	}
	if cfg.WebRTC.UDPAddress != "" {
		var acceptVPX func(context.Context, string) bool
		if tc := a.tc.Transcoder; tc != nil {
			lis := a.st.LiveInputs()
			acceptVPX = func(ctx context.Context, id string) bool { return tc.AcceptVPX(ctx, lis, id) }
		} else {
			acceptVPX = func(context.Context, string) bool { return false }
		}
		// the ICE transport WHIP ingest and WHEP playback share
		if in.ice, err = webrtcice.New(webrtcice.Config{UDPAddress: cfg.WebRTC.UDPAddress, TCPAddress: cfg.WebRTC.TCPAddress,
			NAT1To1IPs: cfg.WebRTC.NAT1To1IPs, Logger: a.log}); err != nil {
			return nil, fmt.Errorf("webrtc.udp_address: %w", err)
		}
		if in.whip, err = whip.New(whip.Config{ICE: in.ice, KeyframeInterval: cfg.HLS.SegmentDuration.D(),
			Directory: a.dir, Hub: hub, Takeover: takeover, CORSOrigin: cfg.HTTP.CORSAllowOrigin, Throttle: throttle,
			AcceptVPX: acceptVPX, Capacity: a.tc.Account, Metrics: a.metrics, Logger: a.log}); err != nil {
			return nil, fmt.Errorf("webrtc.udp_address: %w", err)
		}
	}
	rcfg := rtmp.Config{Address: cfg.RTMP.Address, Directory: a.dir, Hub: hub, Takeover: takeover, Metrics: a.metrics,
		Throttle: throttle, Logger: a.log}
	if in.rtmp, err = rtmp.New(rcfg); err != nil {
		return nil, fmt.Errorf("rtmp.address: %w", err)
	}
	if cfg.RTMPS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.RTMPS.CertFile, cfg.RTMPS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("rtmps.cert_file: %w", err)
		}
		rcfg.Address = cfg.RTMPS.Address
		rcfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if in.rtmps, err = rtmp.New(rcfg); err != nil {
			return nil, fmt.Errorf("rtmps.address: %w", err)
		}
	}
	return in, nil
}

// actors adds the listeners to g: they stop (and their sessions close)
// before the hub ends the streams.
func (in *ingestServers) actors(g *rungroup.Group) {
	run := func(name string, run func(context.Context) error, closeFn func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(name, func() error { return ignoreCanceled(run(ctx)) }, func(error) {
			cancel()
			_ = closeFn()
		})
	}
	run("rtmp", in.rtmp.Run, in.rtmp.Close)
	if in.rtmps != nil {
		run("rtmps", in.rtmps.Run, in.rtmps.Close)
	}
	if in.srt != nil {
		run("srt", in.srt.Run, in.srt.Close)
	}
	if in.whip != nil {
		run("whip", func(ctx context.Context) error { <-ctx.Done(); return nil }, func() error {
			return errors.Join(in.whip.Close(), in.ice.Close())
		})
	}
}

// close stops every listener and its sessions; idempotent.
func (in *ingestServers) close() {
	if in.rtmp != nil {
		_ = in.rtmp.Close()
	}
	if in.rtmps != nil {
		_ = in.rtmps.Close()
	}
	if in.srt != nil {
		_ = in.srt.Close()
	}
	if in.whip != nil {
		_ = in.whip.Close()
	}
	if in.ice != nil {
		_ = in.ice.Close()
	}
}

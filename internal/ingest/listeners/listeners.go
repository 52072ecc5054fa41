// Package listeners binds the ingest listeners of the daemon (RTMP, RTMPS,
// SRT, and WHIP on the ICE transport WHEP shares) onto the hub, with one
// bad-key throttle for every protocol, and runs them in the daemon's run
// group.
package listeners

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/stream"
	"log/slog"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp"
	"github.com/mpegflow/mpegflow/internal/ingest/srt"
	"github.com/mpegflow/mpegflow/internal/ingest/whip"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/rungroup"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// Set is the ingest listeners; SRT, RTMPS and WHIP are nil when not
// configured.
type Set struct {
	RTMP, RTMPS *rtmp.Server
	SRT         *srt.Server
	WHIP        *whip.Server
	ICE         *webrtcice.Mux // shared by WHIP and WHEP; nil with WHIP
	Throttle    *ingest.Throttle
}

// Config is what the listeners are built from.
type Config struct {
	Conf      *conf.Config
	Hub       *stream.Hub
	Directory auth.Directory
	Metrics   *metrics.Metrics
	// AcceptVPX tells WHIP whether a live input takes VP8/VP9 (which only
	// the transcoder can package); nil refuses them.
	AcceptVPX func(ctx context.Context, liveInputID string) bool
	Logger    *slog.Logger
}

// New binds every ingest listener onto the hub, with one bad-key throttle
// for every protocol.
func New(c Config) (in *Set, err error) {
	cfg, hub := c.Conf, c.Hub
	in = &Set{}
	set := in // the returns below set in to nil
	defer func() {
		if err != nil {
			set.Close()
		}
	}()
	takeover := cfg.RTMP.OnDuplicate == "replace"
	throttle := ingest.NewThrottle(ingest.ThrottleConfig{})
	in.Throttle = throttle
	if cfg.SRT.Address != "" {
		if in.SRT, err = srt.New(srt.Config{Throttle: throttle, Address: cfg.SRT.Address, Latency: cfg.SRT.Latency.D(), Directory: c.Directory,
			Hub: hub, Takeover: takeover, Metrics: c.Metrics, Stats: metrics.SRTStats{M: c.Metrics}, Logger: c.Logger}); err != nil {
			return nil, fmt.Errorf("srt.address: %w", err)
		}
	}
	if cfg.WebRTC.UDPAddress != "" {
		acceptVPX := c.AcceptVPX
		if acceptVPX == nil {
			acceptVPX = func(context.Context, string) bool { return false }
		}
		// the ICE transport WHIP ingest and WHEP playback share
		if in.ICE, err = webrtcice.New(webrtcice.Config{UDPAddress: cfg.WebRTC.UDPAddress, TCPAddress: cfg.WebRTC.TCPAddress,
			NAT1To1IPs: cfg.WebRTC.NAT1To1IPs, Logger: c.Logger}); err != nil {
			return nil, fmt.Errorf("webrtc.udp_address: %w", err)
		}
		if in.WHIP, err = whip.New(whip.Config{ICE: in.ICE, KeyframeInterval: cfg.HLS.SegmentDuration.D(),
			Directory: c.Directory, Hub: hub, Takeover: takeover, CORSOrigin: cfg.HTTP.CORSAllowOrigin, Throttle: throttle,
			AcceptVPX: acceptVPX, Metrics: c.Metrics, Logger: c.Logger}); err != nil {
			return nil, fmt.Errorf("webrtc.udp_address: %w", err)
		}
	}
	rcfg := rtmp.Config{Address: cfg.RTMP.Address, Directory: c.Directory, Hub: hub, Takeover: takeover, Metrics: c.Metrics,
		Throttle: throttle, Logger: c.Logger}
	if in.RTMP, err = rtmp.New(rcfg); err != nil {
		return nil, fmt.Errorf("rtmp.address: %w", err)
	}
	if cfg.RTMPS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.RTMPS.CertFile, cfg.RTMPS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("rtmps.cert_file: %w", err)
		}
		rcfg.Address = cfg.RTMPS.Address
		rcfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if in.RTMPS, err = rtmp.New(rcfg); err != nil {
			return nil, fmt.Errorf("rtmps.address: %w", err)
		}
	}
	return in, nil
}

// Actors adds the listeners to g: they stop (and their sessions close)
// before the hub ends the streams.
func (in *Set) Actors(g *rungroup.Group) {
	run := func(name string, run func(context.Context) error, closeFn func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(name, func() error { return ignoreCanceled(run(ctx)) }, func(error) {
			cancel()
			_ = closeFn()
		})
	}
	run("rtmp", in.RTMP.Run, in.RTMP.Close)
	if in.RTMPS != nil {
		run("rtmps", in.RTMPS.Run, in.RTMPS.Close)
	}
	if in.SRT != nil {
		run("srt", in.SRT.Run, in.SRT.Close)
	}
	if in.WHIP != nil {
		run("whip", func(ctx context.Context) error { <-ctx.Done(); return nil }, func() error {
			return errors.Join(in.WHIP.Close(), in.ICE.Close())
		})
	}
}

// Close stops every listener and its sessions; idempotent.
func (in *Set) Close() {
	if in == nil {
		return
	}
	if in.RTMP != nil {
		_ = in.RTMP.Close()
	}
	if in.RTMPS != nil {
		_ = in.RTMPS.Close()
	}
	if in.SRT != nil {
		_ = in.SRT.Close()
	}
	if in.WHIP != nil {
		_ = in.WHIP.Close()
	}
	if in.ICE != nil {
		_ = in.ICE.Close()
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// LogAttrs are the bound addresses of the listeners, as slog attributes.
func (in *Set) LogAttrs() []any {
	attrs := []any{"rtmp", in.RTMP.Addr().String()}
	if in.RTMPS != nil {
		attrs = append(attrs, "rtmps", in.RTMPS.Addr().String())
	}
	if in.SRT != nil {
		attrs = append(attrs, "srt", in.SRT.Addr().String())
	}
	if in.WHIP != nil {
		attrs = append(attrs, "webrtc_udp", in.WHIP.UDPAddr().String())
	}
	return attrs
}

package app

import (
	"context"
	"fmt"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp"
	"github.com/mpegflow/mpegflow/internal/metrics"
)

// wireRTSP binds rtsp.address (and rtsps.address) with the same directory
// (admission hook included), hub and bad-key throttle as the other ingest
// protocols, and pulls the live inputs that have a source (IP cameras),
// following the store's live input events (those on demand only while
// viewed: LL-HLS and WHEP requests). G.711 audio becomes AAC
// through the daemon's ffmpeg capacity account.
func wireRTSP(b *Builder) error {
	cfg := b.Config
	audio := &rtsp.AudioTranscode{Account: b.FFmpeg}
	base := rtsp.Config{Directory: b.Directory, Hub: b.Hub, Takeover: cfg.RTMP.OnDuplicate == "replace", Throttle: b.Throttle,
		Metrics: b.Metrics, Stats: metrics.RTSPStats{M: b.Metrics}, Audio: audio, Logger: b.Log}
	ls, err := rtsp.Listeners(cfg.RTSP, cfg.RTSPS, base)
	if err != nil {
		return err
	}
	for _, l := range ls {
		s, err := rtsp.New(l.Config)
		if err != nil {
			return fmt.Errorf("%s: %w", l.Setting, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		b.Actor(l.Setting, func() error { return ignoreCanceled(s.Run(ctx)) }, func(error) {
			cancel()
			_ = s.Close()
		})
	}
	pullers, err := rtsp.NewPullers(rtsp.PullConfig{Hub: b.Hub, Takeover: base.Takeover, Metrics: b.Metrics,
		Stats: base.Stats, Audio: audio, Logger: b.Log,
		OnDemandStartTimeout: cfg.RTSP.OnDemandStartTimeout.D(), OnDemandIdleTimeout: cfg.RTSP.OnDemandIdleTimeout.D()})
	if err != nil {
		return err
	}
	b.Sources = api.SourcesOver(pullers)
	b.AddDemandSource(pullers) // cameras pulled on demand start at a viewer's request
	ctx, cancel := context.WithCancel(context.Background())
	b.Actor("rtsp pull", func() error {
		rtsp.Follow(ctx, pullers, b.Store.LiveInputs(), b.Bus, b.Log)
		return nil
	}, func(error) {
		cancel()
		pullers.Close() // also when New fails before the group runs
	})
	return nil
}

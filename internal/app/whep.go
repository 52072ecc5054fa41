package app

import (
	"os/exec"

	"github.com/mpegflow/mpegflow/internal/output/vodhttp"
	"github.com/mpegflow/mpegflow/internal/output/whep"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// wireWHEP builds WebRTC playback at /whep/ on the ICE transport WHIP
// ingest shares (none without webrtc.udp_address): the same playback gate
// as LL-HLS, key-frame requests to WHIP publishers, the top transcoded
// rung for sources with B-frames, metrics on the daemon's registry; its
// viewers count in the API's sessions.
func wireWHEP(b *Builder) error {
	if b.ICE == nil {
		return nil
	}
	cfg := whep.Config{
		ICE:        b.ICE,
		Hub:        b.Hub,
		Inputs:     b.Directory,
		Gate:       vodhttp.Authorizer{Gate: b.LiveGate, Kind: "live_input", Logger: b.Log},
		CORSOrigin: b.Config.HTTP.CORSAllowOrigin,
		Registerer: b.Metrics.Registry,
		Logger:     b.Log,
		Demand:     b.Demand(),
	}
	if b.WHIP != nil {
		cfg.Keyframes = b.WHIP
	}
	// a source with B-frames plays from its top transcoded rung
	cfg.Standins = transcode.Standins{Service: b.Transcode, Settings: b.Store.LiveInputs()}
	// AAC (RTMP, SRT) becomes Opus once per stream when ffmpeg is here
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		cfg.FFmpegPath, cfg.Capacity = ff, b.FFmpeg
	} else {
		b.Log.Warn("ffmpeg not found: WHEP viewers of AAC streams get video only", "error", err)
	}
	srv, err := whep.New(cfg)
	if err != nil {
		return err
	}
	b.Handle("/whep/", srv.Handler())
	b.CountViewers(srv)
	stop := make(chan struct{})
	b.Actor("whep", func() error { <-stop; return nil }, func(error) {
		_ = srv.Close()
		close(stop)
	})
	return nil
}

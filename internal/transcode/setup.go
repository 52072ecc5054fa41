package transcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Service is transcoding as the daemon runs it: the encoder detected at
// start-up, the ffmpeg capacity account every ffmpeg job of the daemon
// draws on, and the Transcoder (nil when transcoding is unavailable, with
// Reason saying why).
type Service struct {
	Transcoder *Transcoder
	Account    *ffmpeg.Account
	Detection  Detection
	Profiles   []Profile
	Reason     string
}

// Setup detects the encoder (ffmpeg -encoders, then a one-second test
// encode per candidate, within 90 s), builds the ffmpeg capacity account
// (cfg.Capacity units, or automatic for the encoder family detected, x264
// when none) and the transcoder. Without ffmpeg the daemon runs
// passthrough-only and says so; a forced encoder that fails its test
// encode is an error naming ffmpeg's message.
func Setup(ctx context.Context, cfg conf.Transcode, reg prometheus.Registerer, log *slog.Logger) (*Service, error) {
	s := &Service{}
	for _, p := range cfg.Profiles {
		b, err := ParseBitrate(p.VideoBitrate)
		if err != nil {
			return nil, fmt.Errorf("transcode.profiles %s: %w", p.Name, err)
		}
		s.Profiles = append(s.Profiles, Profile{Name: p.Name, Height: p.Height, Bitrate: b, MaxFPS: p.MaxFPS, Codec: p.Codec})
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	det, err := Detect(ctx, DetectConfig{Encoder: cfg.Encoder, VAAPIDevice: cfg.VAAPIDevice, Logger: log})
	s.Detection = det
	total := float64(cfg.Capacity)
	if total <= 0 {
		total = AutoCapacity(det.Family, runtime.NumCPU())
	}
	fm, merr := ffmpeg.NewMetrics(reg)
	if merr != nil {
		return nil, fmt.Errorf("ffmpeg metrics: %w", merr)
	}
	if s.Account, merr = ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: total, Metrics: fm}); merr != nil {
		return nil, fmt.Errorf("transcode.capacity: %w", merr)
	}
	switch {
	case errors.Is(err, ErrNoFFmpeg):
		s.Reason = "ffmpeg is not on PATH"
		log.Warn("transcoding is off: ffmpeg is not on PATH; streams are passed through only")
		return s, nil
	case err != nil && cfg.Encoder != "" && cfg.Encoder != "auto":
		return nil, fmt.Errorf("transcode.encoder %s: %w", cfg.Encoder, err)
	case err != nil:
		s.Reason = err.Error()
		log.Warn("transcoding is off: no working encoder", "error", err)
		return s, nil
	}
	var rejected []string
	for _, c := range det.Candidates {
		if !c.OK {
			rejected = append(rejected, c.Encoder+": "+c.Reason)
		}
	}
	log.Info("transcode encoder chosen", "encoder", det.Encoder, "requested", det.Requested, "rejected", strings.Join(rejected, "; "))
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("transcode metrics: %w", err)
	}
	s.Transcoder, err = New(Config{Detection: det, VAAPIDevice: cfg.VAAPIDevice, Profiles: s.Profiles, Account: s.Account,
		Metrics: m, Logger: log.With("component", "transcode")})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ProfileNames are the names of the configured profiles, in order.
func (s *Service) ProfileNames() []string {
	names := make([]string, 0, len(s.Profiles))
	for _, p := range s.Profiles {
		names = append(names, p.Name)
	}
	return names
}

// Standins is the Service as the finder of the rendition that stands in
// for a live stream's video where a player cannot take the source (WHEP:
// WebRTC carries no B-frames), reading the live inputs' settings.
type Standins struct {
	Service  *Service // nil: this daemon does not transcode
	Settings pipeline.Settings
}

// Standin is Transcoder.Standin; without a transcoder it says that this
// server does not transcode, and why (Service.Reason).
func (s Standins) Standin(ctx context.Context, src *stream.Stream) (string, error) {
	if s.Service == nil || s.Service.Transcoder == nil {
		reason := "no working encoder"
		if s.Service != nil && s.Service.Reason != "" {
			reason = s.Service.Reason
		}
		return "", fmt.Errorf("transcoding is unavailable on this server (%s)", reason)
	}
	return s.Service.Transcoder.Standin(ctx, s.Settings, src)
}

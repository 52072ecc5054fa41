package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// transcodeFeature is ABR transcoding (issue 9): the encoder detected at
// start-up and the transcoder whose sinks join the graphs of live inputs
// with transcode.mode "on".
type transcodeFeature struct {
	tc       *transcode.Transcoder // nil: transcoding unavailable (reason)
	det      transcode.Detection
	reason   string
	profiles []transcode.Profile
	lis      store.LiveInputs
}

// transcodeProfileNames are the names of transcode.profiles, in order (the
// API validates live input ladders against them).
func transcodeProfileNames(cfg *conf.Config) []string {
	out := make([]string, 0, len(cfg.Transcode.Profiles))
	for _, p := range cfg.Transcode.Profiles {
		out = append(out, p.Name)
	}
	return out
}

// initTranscode detects the encoder (ffmpeg -encoders, then a one-second
// test encode per candidate) and builds the transcoder. Without ffmpeg the
// daemon runs passthrough-only and says so; a forced transcode.encoder
// that fails its test encode is a start-up error naming ffmpeg's message.
func (a *App) initTranscode(st store.Store, bus *events.Bus) (api.SystemDeps, error) {
	f := &transcodeFeature{lis: st.LiveInputs()}
	a.transcode = f
	deps := api.SystemDeps{Transcode: f.info}
	cfg := a.cfg.Transcode
	for _, p := range cfg.Profiles {
		b, err := transcode.ParseBitrate(p.VideoBitrate)
		if err != nil {
			return deps, fmt.Errorf("transcode.profiles %s: %w", p.Name, err)
		}
		f.profiles = append(f.profiles, transcode.Profile{Name: p.Name, Height: p.Height, Bitrate: b, MaxFPS: p.MaxFPS, Codec: p.Codec})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	det, err := transcode.Detect(ctx, transcode.DetectConfig{Encoder: cfg.Encoder, VAAPIDevice: cfg.VAAPIDevice, Logger: a.log})
	f.det = det
	if err := a.initFFmpeg(float64(cfg.Capacity), det.Family); err != nil {
		return deps, err
	}
	switch {
	case errors.Is(err, transcode.ErrNoFFmpeg):
		f.reason = "ffmpeg is not on PATH"
		a.log.Warn("transcoding is off: ffmpeg is not on PATH; streams are passed through only")
		return deps, nil
	case err != nil && cfg.Encoder != "" && cfg.Encoder != "auto":
		return deps, fmt.Errorf("transcode.encoder %s: %w", cfg.Encoder, err)
	case err != nil:
		f.reason = err.Error()
		a.log.Warn("transcoding is off: no working encoder", "error", err)
		return deps, nil
	}
	var rejected []string
	for _, c := range det.Candidates {
		if !c.OK {
			rejected = append(rejected, c.Encoder+": "+c.Reason)
		}
	}
	a.log.Info("transcode encoder chosen", "encoder", det.Encoder, "requested", det.Requested, "rejected", strings.Join(rejected, "; "))
	m, err := transcode.NewMetrics(a.metrics.Registry)
	if err != nil {
		return deps, fmt.Errorf("transcode metrics: %w", err)
	}
	f.tc, err = transcode.New(transcode.Config{
		Detection:   det,
		VAAPIDevice: cfg.VAAPIDevice,
		Profiles:    f.profiles,
		Account:     a.ffm,
		Output:      hlsRenditions{a},
		Metrics:     m,
		OnError: func(liveInput, code, message string) {
			if a.control != nil { // built once the features are
				a.control.Errored(liveInput, code, message)
				return
			}
			a.eventPublisher(bus).Publish(events.New(events.LiveInputErrored, liveInput, events.ErrorData{Code: code, Message: message}))
		},
		Logger: a.log.With("component", "transcode"),
	})
	if err != nil {
		return deps, err
	}
	return deps, nil
}

// initFFmpeg builds the ffmpeg capacity account every ffmpeg job draws on
// (ladders, WHIP audio, thumbnails, MP4 builds): transcode.capacity units,
// or automatic for the encoder family detected (x264 when none).
func (a *App) initFFmpeg(total float64, family transcode.Family) error {
	if total <= 0 {
		total = transcode.AutoCapacity(family, runtime.NumCPU())
	}
	m, err := ffmpeg.NewMetrics(a.metrics.Registry)
	if err != nil {
		return fmt.Errorf("ffmpeg metrics: %w", err)
	}
	a.ffm, err = ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: total, Metrics: m})
	if err != nil {
		return fmt.Errorf("transcode.capacity: %w", err)
	}
	return nil
}

// info is GET /v1/system's transcode object.
func (f *transcodeFeature) info() api.TranscodeInfo {
	out := api.TranscodeInfo{Available: f.tc != nil, Reason: f.reason, Requested: f.det.Requested,
		Encoder: f.det.Encoder, Family: string(f.det.Family)}
	for _, c := range f.det.Candidates {
		out.Candidates = append(out.Candidates, api.EncoderCandidate{Family: string(c.Family), Encoder: c.Encoder,
			Compiled: c.Compiled, OK: c.OK, Reason: c.Reason})
	}
	for _, p := range f.profiles {
		out.Profiles = append(out.Profiles, api.TranscodeProfile{Name: p.Name, Height: p.Height, BitrateBPS: p.Bitrate, MaxFPS: p.MaxFPS, Codec: p.Codec})
	}
	if f.tc != nil {
		out.Capacity, out.CapacityUsed, out.Active = f.tc.Capacity(), f.tc.Used(), f.tc.Active()
	}
	return out
}

// transcodeSinks returns the transcoder's sink when the live input's
// stored setting has transcode.mode "on" (its ladder, or every profile when
// the ladder is empty).
func (a *App) transcodeSinks(s *stream.Stream) []pipeline.Sink {
	ladder, ok := a.transcodeLadder(s)
	if !ok {
		return nil
	}
	return []pipeline.Sink{a.transcode.tc.Sink(s, ladder)}
}

// transcodeLadder returns the profile names a stream is transcoded to when
// its live input's stored setting has transcode.mode "on" (its ladder, or
// every profile when the ladder is empty); ok is false when it is not
// transcoded.
func (a *App) transcodeLadder(s *stream.Stream) (ladder []string, ok bool) {
	f := a.transcode
	if f == nil || f.tc == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	li, err := f.lis.Get(ctx, s.ID())
	if err != nil {
		a.log.Warn("transcode setting unreadable; not transcoding", "live_input", s.ID(), "error", err)
		return nil, false
	}
	if li.Transcode.Mode != api.TranscodeOn {
		return nil, false
	}
	ladder = li.Transcode.Ladder
	if len(ladder) == 0 {
		for _, p := range f.profiles {
			ladder = append(ladder, p.Name)
		}
	}
	return ladder, true
}

// topRendition returns, for a stream without a passthrough source
// rendition (VP8/VP9 video, stream.TranscodedOnly), the name of its top
// transcoded rung and the video track that describes it; ok is false for
// other streams, and for such a stream that is not transcoded.
func (a *App) topRendition(s *stream.Stream) (name string, vt store.VideoTrack, ok bool) {
	var video stream.Codec
	for _, t := range s.Tracks() {
		if t.Kind() == stream.KindVideo {
			video = t.Codec
			break
		}
	}
	if video == nil || !stream.TranscodedOnly(video) {
		return "", vt, false
	}
	ladder, ok := a.transcodeLadder(s)
	if !ok {
		return "", vt, false
	}
	r, ok := a.transcode.tc.TopRung(video, ladder)
	if !ok {
		return "", vt, false
	}
	codec := r.Codec
	if codec == "hevc" {
		codec = "h265"
	}
	return r.Name, store.VideoTrack{Kind: "video", Codec: codec, Width: r.Width, Height: r.Height}, true
}

// whipAcceptVPX tells the WHIP server whether a VP8/VP9 offer may be accepted
// for a live input: only when its stored transcode.mode is "on" and the
// transcoder has capacity left, since HLS cannot carry VP8/VP9 and their
// transcoded H.264 rungs are all that players get. Otherwise the offer is
// refused with 406 saying to enable transcoding or send H.264.
func (a *App) whipAcceptVPX(ctx context.Context, liveInput string) bool {
	f := a.transcode
	if f == nil || f.tc == nil {
		return false
	}
	li, err := f.lis.Get(ctx, liveInput)
	if err != nil {
		a.log.Warn("transcode setting unreadable; refusing vp8/vp9", "live_input", liveInput, "error", err)
		return false
	}
	return li.Transcode.Mode == api.TranscodeOn && f.tc.Used() < f.tc.Capacity()
}

// closeTranscode releases the transcoder; its ffmpeg processes belong to
// the graphs' sinks, which the graphs stop and wait for.
func (a *App) closeTranscode() {}

// hlsRenditions lands the transcoder's renditions in the HLS muxer of the
// live input, next to the source rendition.
type hlsRenditions struct{ a *App }

func (h hlsRenditions) AddRendition(liveInput, name string, tracks []stream.Track) (transcode.RenditionWriter, error) {
	return h.a.hls.AddRendition(liveInput, name, tracks)
}

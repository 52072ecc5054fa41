package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// RecorderVideos is the VideoService of a recorder: its errors become the
// ones the error table maps to HTTP statuses.
func RecorderVideos(rec *record.Recorder) VideoService { return recorderVideos{rec} }

type recorderVideos struct{ rec *record.Recorder }

func (v recorderVideos) Delete(ctx context.Context, id string) error {
	return recorderErr(v.rec.Delete(ctx, id))
}

func (v recorderVideos) RequestDownload(ctx context.Context, id string) (*store.Video, error) {
	vid, err := v.rec.RequestDownload(ctx, id)
	return vid, recorderErr(err)
}

func (v recorderVideos) Clip(ctx context.Context, id string, start, end time.Duration, name string) (*store.Video, ClipRange, error) {
	c, cr, err := v.rec.Clip(ctx, id, start, end, name)
	return c, ClipRange{RequestedStart: cr.RequestedStart, RequestedEnd: cr.RequestedEnd, Start: cr.Start, End: cr.End,
		PartBoundaries: cr.PartBoundaries, StartMoved: cr.StartMoved}, recorderErr(err)
}

func recorderErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, record.ErrNotFound):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.Is(err, record.ErrRecording):
		return fmt.Errorf("%w: %w", ErrVideoRecording, err)
	case errors.Is(err, record.ErrNotReady):
		return fmt.Errorf("%w: %w", ErrVideoNotReady, err)
	case errors.Is(err, record.ErrOutOfRange):
		return fmt.Errorf("%w: %w", ErrVideoRange, err)
	case errors.Is(err, record.ErrNoFFmpeg):
		return fmt.Errorf("%w: %w", ErrVideoUnavailable, err)
	}
	return err
}

// TranscodeSystem is GET /v1/system's transcode object of s.
func TranscodeSystem(s *transcode.Service) func() TranscodeInfo {
	return func() TranscodeInfo {
		det := s.Detection
		out := TranscodeInfo{Available: s.Transcoder != nil, Reason: s.Reason, Requested: det.Requested,
			Encoder: det.Encoder, Family: string(det.Family)}
		for _, c := range det.Candidates {
			out.Candidates = append(out.Candidates, EncoderCandidate{Family: string(c.Family), Encoder: c.Encoder,
				Compiled: c.Compiled, OK: c.OK, Reason: c.Reason})
		}
		for _, p := range s.Profiles {
			out.Profiles = append(out.Profiles, TranscodeProfile{Name: p.Name, Height: p.Height, BitrateBPS: p.Bitrate, MaxFPS: p.MaxFPS, Codec: p.Codec})
		}
		if tc := s.Transcoder; tc != nil {
			out.Capacity, out.CapacityUsed, out.Active = tc.Capacity(), tc.Used(), tc.Active()
		}
		return out
	}
}

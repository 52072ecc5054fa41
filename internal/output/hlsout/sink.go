package hlsout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// StreamSink feeds one stream into the source rendition of its muxer.
type StreamSink struct {
	srv *Server
	e   *entry
}

// Name is the sink's reader name.
func (s *StreamSink) Name() string { return "hls" }

func toCodec(c stream.Codec) (hls.Codec, error) {
	switch c := c.(type) {
	case stream.H264:
		return hls.H264{SPS: c.SPS, PPS: c.PPS}, nil
	case stream.H265:
		return hls.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}, nil
	case stream.AV1:
		return hls.AV1{SequenceHeader: c.SequenceHeader}, nil
	case stream.AAC:
		return hls.AAC{Config: c.Config}, nil
	case stream.Opus:
		return hls.Opus{ChannelCount: c.ChannelCount}, nil
	case nil:
		return nil, errors.New("no codec")
	default:
		return nil, fmt.Errorf("codec %s not supported by HLS", c.Name())
	}
}

// Run writes the units of r into the muxer until the stream ends (nil) or
// ctx is done.
func (s *StreamSink) Run(ctx context.Context, r *stream.Reader) error {
	tracks := s.e.tracks
	disc := make([]bool, len(tracks)) // tracks that have seen the current discontinuity
	pending := false
	hasVideo := false
	for _, t := range tracks {
		hasVideo = hasVideo || t.Kind() == stream.KindVideo
	}
	shift := newPresentShift(hasVideo)
	start := newStartHold(s.e, hasVideo)
	writeVideo := func(u *stream.Unit) {
		if u.Codec != nil {
			if c, err := toCodec(u.Codec); err != nil {
				s.srv.log.Warn("codec change refused", "live_input", s.e.id, "error", err)
			} else if err := s.e.rend.SetVideoCodec(c); err != nil {
				s.srv.log.Warn("codec change refused", "live_input", s.e.id, "error", err)
			}
		}
		v := hls.VideoUnit{DTS: u.DTS, PTS: u.PTS, Wall: u.Wall, Key: u.Key, NALUs: u.NALUs}
		s.writeAudio(shift.video(&v))
		s.e.audioShift.Store(int64(shift.shift)) // for runAudio
		s.logErr(stream.KindVideo, s.e.rend.WriteVideo(v))
	}
	for {
		u, err := r.Next(ctx)
		if err != nil {
			for _, h := range start.release(false, true, time.Now()) {
				writeVideo(h)
			}
			if errors.Is(err, stream.ErrEnded) {
				return nil
			}
			return err
		}
		if u.Track >= len(tracks) || s.e.rend == nil {
			continue // no source rendition (VP8, VP9): transcoded renditions only
		}
		for _, h := range start.release(s.e.audioIn.Load(), u.Discontinuity, time.Now()) {
			writeVideo(h)
		}
		kind := tracks[u.Track].Kind()
		if kind == stream.KindAudio && s.e.audioFrom != "" {
			continue // the rendition audioFrom carries the audio (runAudio)
		}
		if u.Discontinuity {
			// Each track of a reconnect carries the flag on its first unit;
			// one muxer discontinuity covers them all.
			if !pending || disc[u.Track] {
				s.writeAudio(shift.reset())
				s.e.rend.Discontinuity()
				for i := range disc {
					disc[i] = false
				}
				pending = true
			}
			disc[u.Track] = true
			if all(disc) {
				pending = false
			}
		}
		if kind == stream.KindVideo {
			if u.Codec != nil {
				if _, err := toCodec(u.Codec); err != nil {
					return err
				}
			}
			if !start.hold(u, time.Now()) {
				writeVideo(u)
			}
		} else {
			if err := s.setAudioCodec(u.Codec); err != nil {
				return err
			}
			s.writeAudio(shift.audio(hls.AudioUnit{PTS: u.PTS, Wall: u.Wall, Frame: u.Data}))
		}
	}
}

// setAudioCodec sets the source rendition's audio codec from a unit that
// carries one (nil: none); a codec HLS cannot carry is an error, a change
// the muxer refuses is logged.
func (s *StreamSink) setAudioCodec(sc stream.Codec) error {
	if sc == nil {
		return nil
	}
	c, err := toCodec(sc)
	if err != nil {
		return err
	}
	if err := s.e.rend.SetAudioCodec(c); err != nil {
		s.srv.log.Warn("codec change refused", "live_input", s.e.id, "error", err)
	}
	return nil
}

func (s *StreamSink) writeAudio(us []hls.AudioUnit) {
	for _, a := range us {
		s.logErr(stream.KindAudio, s.e.rend.WriteAudio(a))
	}
}

func (s *StreamSink) logErr(kind stream.Kind, err error) {
	if err == nil {
		return
	}
	s.e.writeErrs++
	if s.e.writeErrs == 1 || s.e.writeErrs%1000 == 0 {
		s.srv.log.Warn("hls write failed", "live_input", s.e.id, "kind", kind.String(), "error", err, "count", s.e.writeErrs)
	}
}

// runAudio writes the audio units of r, the rendition that stands for the
// source's audio (entry.audioFrom), into the source rendition until the
// rendition ends (nil) or ctx is done. They move with the source's
// presentation (presentShift) to keep their sync with its video.
func (s *StreamSink) runAudio(ctx context.Context, r *stream.Reader) error {
	errs := 0
	for {
		u, err := r.Next(ctx)
		if err != nil {
			if errors.Is(err, stream.ErrEnded) {
				return nil
			}
			return err
		}
		if s.e.rend == nil {
			continue
		}
		if err := s.setAudioCodec(u.Codec); err != nil {
			return err
		}
		pts := u.PTS - time.Duration(s.e.audioShift.Load())
		err = s.e.rend.WriteAudio(hls.AudioUnit{PTS: pts, Wall: u.Wall, Frame: u.Data})
		s.e.audioIn.Store(true) // the source's first video may go (startHold)
		if err != nil {
			errs++
			if errs == 1 || errs%1000 == 0 {
				s.srv.log.Warn("hls write failed", "live_input", s.e.id, "kind", "audio", "rendition", s.e.audioFrom, "error", err, "count", errs)
			}
		}
	}
}

func all(b []bool) bool {
	for _, x := range b {
		if !x {
			return false
		}
	}
	return true
}

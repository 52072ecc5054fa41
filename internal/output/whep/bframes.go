package whep

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// spsBFrames tells from an H.264 SPS whether the stream may reorder frames
// (B-frames): never in the Baseline profile (ITU-T H.264 A.2.1, profile_idc
// 66); otherwise as max_num_reorder_frames of the VUI bitstream
// restriction (E.2.1), which x264 and most encoders write. known is false
// when the SPS does not say; the feed then watches for PTS != DTS.
func spsBFrames(c stream.Codec) (bframes, known bool) {
	c264, ok := c.(stream.H264)
	if !ok {
		return false, false
	}
	var sps h264.SPS
	if err := sps.Unmarshal(c264.SPS); err != nil {
		return false, false
	}
	if sps.ProfileIdc == 66 {
		return false, true
	}
	if sps.VUI != nil && sps.VUI.BitstreamRestriction != nil {
		return sps.VUI.BitstreamRestriction.MaxNumReorderFrames > 0, true
	}
	return false, false
}

// hasBFrames reports whether the feed's video has B-frames: its SPS says
// so, or a unit had PTS != DTS.
func (f *feed) hasBFrames() bool {
	for _, t := range f.s.Tracks() {
		if b, known := spsBFrames(t.Codec); known && b {
			f.bframes.Store(true) // the SPS says so: no viewer needs to find out
		}
	}
	return f.bframes.Load()
}

// bframesFix is what a publisher changes so that WebRTC carries its video
// as it is.
const bframesFix = "publish without B-frames (x264 bframes=0, ffmpeg -bf 0, OBS: profile baseline or tune zerolatency) or over WHIP"

// refusal is an offer refused with an HTTP status and a JSON error.
type refusal struct {
	status    int
	code, msg string
	retry     bool // worth retrying in a moment (Retry-After)
}

func (r *refusal) Error() string { return r.msg }

// standinFeed returns the feed of the rendition that stands in for src,
// whose video has B-frames (RTP carries presentation timestamps only, and
// WebRTC players do not reorder frames): its top transcoded rung, encoded
// without B-frames, with its audio (AAC becomes Opus once per rung stream,
// as for any source). It waits up to StandinWait for the transcoder to plan
// the ladder and publish the rung. Refusals: 409 source_has_bframes when
// the live input has no such rung (transcoding off, at capacity, no rung
// below the source), saying why and what to change; 503 while the rung is
// not ready in time; 409 not_live when src ends meanwhile.
func (s *Server) standinFeed(ctx context.Context, src *stream.Stream) (*feed, error) {
	const why = "the source video has B-frames, which WebRTC cannot carry"
	if s.cfg.Standins == nil {
		return nil, &refusal{status: http.StatusConflict, code: "source_has_bframes", msg: why + ": " + bframesFix}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StandinWait)
	defer cancel()
	notReady := &refusal{status: http.StatusServiceUnavailable, code: "unavailable", retry: true,
		msg: why + " and its transcoded rung without them is not ready yet; try again in a few seconds"}
	ended := &refusal{status: http.StatusConflict, code: "not_live", msg: "the live input stopped being live"}
	name, err := s.cfg.Standins.Standin(ctx, src)
	switch {
	case errors.Is(err, stream.ErrEnded):
		return nil, ended
	case ctx.Err() != nil:
		return nil, notReady
	case err != nil:
		return nil, &refusal{status: http.StatusConflict, code: "source_has_bframes",
			msg: why + ", and no transcoded rung stands in for it: " + err.Error() + "; or " + bframesFix}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if rs := s.cfg.Hub.Rendition(src.ID(), name); rs != nil && rs.Source() == src && !rs.Withdrawn() {
			f, err := s.feedOf(rs)
			if err != nil {
				return nil, err
			}
			if f.hasBFrames() {
				s.log.Error("whep: the stand-in rung has B-frames", "live_input", src.ID(), "rendition", name)
				return nil, &refusal{status: http.StatusConflict, code: "source_has_bframes", msg: why + ", nor its rung " + name + ": " + bframesFix}
			}
			return f, nil
		}
		select {
		case <-src.Ended():
			return nil, ended
		case <-ctx.Done():
			return nil, notReady
		case <-tick.C:
		}
	}
}

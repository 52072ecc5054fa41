package hlsout

import (
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// startHold holds a stream's first video units while the audio that
// stands for the source's (entry.audioFrom, transcoded from it, late in
// wall-clock time) has not begun, at most the rendition's lag: the first
// parts of the broadcast are then muxed with their audio, as an ingest that
// interleaves the two delivers them, instead of a run of video-only parts
// followed by audio that starts in a later part. It holds only at the start
// of the stream: later cuts wait for their audio in the muxer
// (hls.RenditionConfig.AudioLag).
type startHold struct {
	on    bool
	lag   time.Duration
	until time.Time
	held  []*stream.Unit
}

func newStartHold(e *entry, hasVideo bool) *startHold {
	return &startHold{on: e.audioFrom != "" && hasVideo && e.audioLag > 0, lag: e.audioLag}
}

// hold reports whether video unit u is held (units are shared and never
// modified, so the pointer is kept).
func (h *startHold) hold(u *stream.Unit, now time.Time) bool {
	if !h.on {
		return false
	}
	if len(h.held) == 0 {
		h.until = now.Add(h.lag)
	}
	h.held = append(h.held, u)
	return true
}

// release ends the hold once the audio began (audioIn), its bound passed,
// or force (a discontinuity, the end of the stream), and returns the held
// units to write, in order.
func (h *startHold) release(audioIn, force bool, now time.Time) []*stream.Unit {
	if !h.on || !(audioIn || force || (len(h.held) > 0 && !now.Before(h.until))) {
		return nil
	}
	h.on = false
	out := h.held
	h.held = nil
	return out
}

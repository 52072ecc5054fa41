package hls

import (
	"math"
	"time"
)

// Target duration: fitted once to the publisher's GOP.
//
// A player that does not use the low-latency features (hls.js with
// lowLatencyMode off, ffplay, VLC, smart-TV players) plays HOLD-BACK behind
// the live edge, and HOLD-BACK is at least 3 x EXT-X-TARGETDURATION
// (RFC 8216bis §4.4.3.8). A target duration fixed at 10 s, so that an 8 s
// GOP fits, keeps such a player 30 s behind live even on a 2 s GOP. The
// target duration may not change during a playlist's life (§4.4.3.1, and
// §6.2.1 allows a server only to append to a live playlist), so it is fitted
// once, before any media playlist is served:
//
//   - until it is fitted, a video rendition cuts a segment at every key
//     frame, so each segment is one GOP; the target duration is fitted when
//     the first video rendition has SegmentDuration of segments (the moment
//     its first segment closed before fitting existed, so a player's first
//     frame comes no later): the longest GOP so far, rounded to the nearest
//     second, at least ceil(SegmentDuration) and at most
//     ceil(MaxSegmentDuration). A 2 s GOP gives 2 s (HOLD-BACK 6 s), OBS's
//     automatic 8.3 s GOP 8 s (HOLD-BACK 24 s). A muxer without video fits it
//     to ceil(SegmentDuration) at once. MuxerConfig.TargetDuration fixes it
//     instead;
//   - media playlists, and the multivariant playlist's variants, wait for
//     it (a blocking request waits as for a segment that is not there yet);
//   - afterwards a segment is closed at a key frame once it lasts
//     SegmentDuration, or earlier when waiting for the next key frame could
//     make it too long: when its duration plus the GOP the target was
//     fitted to exceeds the longest a segment may last (a scene-cut key
//     frame 1.5 s into a segment of a 2 s-GOP stream closes it there). The
//     rule depends on nothing a rendition saw before, so renditions whose
//     key frames are the source's (a transcoded ladder) cut alike;
//   - a segment lasts at most the target duration plus 499 ms, which still
//     rounds to the target duration (§4.4.3.1). A GOP that runs past that
//     (the first GOPs understated it: an x264 scene cut early in a stream
//     with a long keyframe interval) is cut there without a key frame: the
//     next segment continues the GOP, no frame is dropped and the timeline
//     has no discontinuity, but that segment is not independent (its first
//     part has no INDEPENDENT=YES, §4.4.4.9). This is why live playlists do
//     not declare EXT-X-INDEPENDENT-SEGMENTS (§4.4.2.1): RFC 8216 §3 lets a
//     segment start anywhere in the bitstream, hls.js ignores the tag, and a
//     low-latency player starts on an INDEPENDENT=YES part.

// maxRoundDown is how much longer than the target duration a segment may
// last: its EXTINF still rounds to the target duration (§4.4.3.1).
const maxRoundDown = 499 * time.Millisecond

// ceilSeconds rounds d up to whole seconds, at least one.
func ceilSeconds(d time.Duration) time.Duration {
	return max(1, time.Duration(math.Ceil(d.Seconds()))) * time.Second
}

// windowFor is the playlist window with target duration td: at least 6 x
// td (CAN-SKIP-UNTIL, §4.4.3.8) plus 4 segments.
func (m *Muxer) windowFor(td time.Duration) time.Duration {
	return max(m.cfg.PlaylistWindow, 6*td+4*m.cfg.SegmentDuration, m.cfg.DVRWindow)
}

// setTargetLocked fixes the target duration td (whole seconds), fitted to
// GOPs up to gop long, for the life of the muxer.
func (m *Muxer) setTargetLocked(td, gop time.Duration) {
	if m.targetDuration != 0 {
		return
	}
	m.targetDuration = td
	m.fitGOP = gop
	m.window = m.windowFor(td)
	m.broadcastLocked(true)
}

// targetOrMaxLocked is the target duration, or the longest it may become
// while it is not fitted.
func (m *Muxer) targetOrMaxLocked() time.Duration {
	if m.targetDuration != 0 {
		return m.targetDuration
	}
	return m.maxTarget
}

// segCapLocked is the longest a segment may last.
func (m *Muxer) segCapLocked() time.Duration {
	return m.targetOrMaxLocked() + maxRoundDown
}

// cutsAtKeyLocked reports whether a key frame at output time dts closes the
// segment in progress of video rendition r.
func (r *Rendition) cutsAtKeyLocked(dts time.Duration) bool {
	m := r.m
	if m.targetDuration == 0 {
		return true // one GOP per segment until the target is fitted
	}
	d := r.segDurAt(dts)
	// half a frame of tolerance: a 2 s GOP of 1/30 s frames sums to 1.99999998 s
	if d+r.lastFrameDur/2 >= m.cfg.SegmentDuration {
		return true
	}
	return d > 0 && d+m.fitGOP > m.segCapLocked()
}

// noteKeyLocked records the GOP a key frame at dts ends.
func (r *Rendition) noteKeyLocked(dts time.Duration, continuous bool) {
	if continuous && r.lastKeyValid && dts > r.lastKey {
		r.maxGOP = max(r.maxGOP, dts-r.lastKey)
	}
	r.lastKey, r.lastKeyValid = dts, true
}

// listedLocked reports whether r's media playlist is served: it has a
// complete segment and the target duration is fitted.
func (r *Rendition) listedLocked() bool {
	return r.stats.ready && r.m.targetDuration != 0
}

// fitTargetLocked fits the target duration after rendition r closed a
// segment, when it is the first to know the stream's GOP (see above), or
// when force (the stream ends, a segment hit the cap).
func (r *Rendition) fitTargetLocked(force bool) {
	m := r.m
	if m.targetDuration != 0 {
		return
	}
	rens := []*Rendition{r}
	if force {
		rens = m.renditions
	}
	var longest time.Duration
	for _, o := range rens {
		for _, s := range o.segments {
			if s.complete {
				longest = max(longest, s.duration)
			}
		}
		longest = max(longest, o.maxGOP)
	}
	switch {
	case force:
	case r.vIdx < 0:
		if m.hasVideoRen {
			return // the video fits it
		}
	case r.stats.videoDur+r.lastFrameDur/2 < m.cfg.SegmentDuration:
		return
	}
	td := time.Duration(math.Round(longest.Seconds())) * time.Second
	m.setTargetLocked(min(max(td, m.minTarget), m.maxTarget), longest)
}

package hls

import "time"

// Muxed renditions: a segment's audio reaches its video's presentation end.
//
// A muxed SourceBuffer (MSE) buffers the intersection of its tracks'
// buffered ranges, and a player places a segment's end at its video's
// presentation end: with B-frames that is the decode-time end plus the
// composition delay (a 30 fps stream with two B-frames: 67 ms). Audio cut at
// the decode-time end leaves the buffered range short of where the player
// puts the next segment, and hls.js, finding the playhead inside the segment
// it already has, stops loading for good. So closePartLocked takes the
// queued audio up to the presentation end of the video so far (presEnd), and
// the keyframe that cuts a segment is held until that audio has arrived: an
// ingest interleaving audio by PTS with video by DTS (RTMP, FLV) delivers it
// about a composition delay after the keyframe.
//
// The wait is bounded, so that audio that stops or comes late never stalls
// the packager: the held units are written when the audio arrives, when a
// part's worth of video (or RenditionConfig.AudioLag's, for audio known to
// come late) has been held (heldBound), or when heldBound of wall-clock has
// passed (checked on every write and by the muxer's ticker).
// What audio has arrived by then is what the segment carries; the audio
// timeline stays gapless either way, as every queued frame still lands in
// exactly one part, in order (queueMuxedAudioLocked).

// heldBound is how long (in media time and in wall-clock) a keyframe that
// cuts a segment waits for the audio of the segment's end.
func (r *Rendition) heldBound() time.Duration {
	if t := r.m.partTarget; t > 0 {
		return max(t, r.audioLag)
	}
	return max(r.m.cfg.PartDuration, r.audioLag)
}

// audioWaitLocked reports whether writing video unit u now would close a
// segment of a muxed rendition before its audio reaches the presentation end
// of the segment's video, and that end.
func (r *Rendition) audioWaitLocked(u *VideoUnit) (time.Duration, bool) {
	m := r.m
	if !u.Key || r.vIdx < 0 || r.aIdx < 0 || !r.aLive || !r.aSynced || !r.pv.valid ||
		r.cur == nil || r.waitKey || r.rebase || m.partTarget == 0 {
		return 0, false
	}
	dts := u.DTS + r.offset
	d := dts - r.pv.dts
	if d <= 0 || d > 2*r.nominalFrameDur() {
		// a discontinuity or a hole in the media: the segment is closed as
		// it is, the audio after it starts the next timeline
		return 0, false
	}
	if !r.cutsAtKeyLocked(dts) {
		return 0, false // the keyframe does not cut the segment
	}
	need := max(r.presEnd, r.pv.pts+d)
	if fromTicks(r.aNext, r.audio.timescale) >= need {
		return 0, false
	}
	return need, true
}

// videoInLocked writes video unit u, or holds it (and the units after it)
// while the segment it cuts waits for its audio.
func (r *Rendition) videoInLocked(u *VideoUnit, now time.Time) {
	if len(r.vHeld) > 0 {
		r.vHeld = append(r.vHeld, cloneVideoUnit(u))
		d := u.DTS - r.vHeld[0].DTS
		if d < 0 || d >= r.heldBound() || now.Sub(r.vHeldSince) >= r.heldBound() {
			r.releaseVideoLocked(false, now)
		}
		return
	}
	if need, ok := r.audioWaitLocked(u); ok {
		r.vHeld = append(r.vHeld, cloneVideoUnit(u))
		r.vHeldNeed, r.vHeldSince = need, now
		return
	}
	r.writeVideoLocked(u)
}

// audioInLocked is called after an audio frame was queued in a muxed
// rendition: the held video goes on once the audio it waits for is there.
func (r *Rendition) audioInLocked(now time.Time) {
	if len(r.vHeld) == 0 {
		return
	}
	if fromTicks(r.aNext, r.audio.timescale) >= r.vHeldNeed || now.Sub(r.vHeldSince) >= r.heldBound() {
		r.releaseVideoLocked(false, now)
	}
}

// releaseVideoLocked writes the held video units in order. Unless force, a
// later held unit that cuts a segment before its audio has arrived is held
// again, with a new bound.
func (r *Rendition) releaseVideoLocked(force bool, now time.Time) {
	first := true
	for len(r.vHeld) > 0 {
		u := &r.vHeld[0]
		if !first && !force {
			if need, ok := r.audioWaitLocked(u); ok {
				r.vHeldNeed, r.vHeldSince = need, now
				return
			}
		}
		first = false
		r.writeVideoLocked(u)
		r.vHeld[0] = VideoUnit{}
		r.vHeld = r.vHeld[1:]
	}
	r.vHeld = nil
}

// expireHeldLocked releases held video whose wall-clock bound has passed
// (the muxer's ticker: no unit arrived to do it).
func (r *Rendition) expireHeldLocked(now time.Time) {
	if len(r.vHeld) > 0 && now.Sub(r.vHeldSince) >= r.heldBound() {
		r.releaseVideoLocked(false, now)
	}
}

// cloneVideoUnit copies u and its NAL units (the caller may reuse them).
func cloneVideoUnit(u *VideoUnit) VideoUnit {
	c := *u
	n := 0
	for _, b := range u.NALUs {
		n += len(b)
	}
	buf := make([]byte, 0, n)
	c.NALUs = make([][]byte, len(u.NALUs))
	for i, b := range u.NALUs {
		buf = append(buf, b...)
		c.NALUs[i] = buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	return c
}

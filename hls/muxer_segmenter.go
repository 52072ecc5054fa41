package hls

import (
	"encoding/binary"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
)

// startPad is added to the first timestamp of a muxer so that later tracks
// with slightly earlier timestamps (audio before the first keyframe, B-frame
// DTS before 0) still map to positive decode times.
const startPad = 10 * time.Second

func toTicks(d time.Duration, rate uint32) int64 {
	r := int64(rate)
	return int64(d/time.Second)*r + int64(d%time.Second)*r/int64(time.Second)
}

func fromTicks(t int64, rate uint32) time.Duration {
	r := int64(rate)
	return time.Duration(t/r)*time.Second + time.Duration(t%r)*time.Second/time.Duration(r)
}

func (r *Rendition) initOffsetLocked(ts time.Duration) {
	m := r.m
	if !m.haveBase {
		m.base = startPad - ts
		m.haveBase = true
	}
	r.offset = m.base
	if ts+r.offset < 0 {
		r.offset = -ts
	}
	r.haveOffset = true
}

// writeVideoLocked is the video segmenter: every frame is held back until the
// next one gives its duration, then placed into the current part.
func (r *Rendition) writeVideoLocked(u *VideoUnit) {
	m := r.m
	if !r.haveOffset {
		r.initOffsetLocked(u.DTS)
	}
	if r.rebase {
		if r.lastEnd > 0 {
			r.offset = r.rebaseOffsetLocked(u.DTS)
		}
		r.rebase = false
	}
	dts, pts := u.DTS+r.offset, u.PTS+r.offset
	if r.pv.valid {
		delta := dts - r.pv.dts
		if delta == 0 {
			return // duplicate timestamp: drop
		}
		if delta < 0 || delta > m.cfg.MaxTimestampJump {
			// timestamp reset or jump: a discontinuity, the timeline continues
			r.flushLocked()
			r.offset = r.rebaseOffsetLocked(u.DTS)
			dts, pts = u.DTS+r.offset, u.PTS+r.offset
			r.nextDisc = true
			r.waitKey = true
			r.clock.reset()
		}
	} else if dts < 0 {
		r.offset -= dts
		dts, pts = 0, pts-dts
	}
	r.clock.push(dts, u.Wall)
	if (r.waitKey || r.cur == nil) && !u.Key && !r.pv.valid {
		return // segments start on a keyframe
	}

	if r.pv.valid {
		dur := dts - r.pv.dts
		if m.partTarget == 0 {
			m.decidePartTargetLocked(dur)
		}
		t := m.partTarget
		nom := r.nominalFrameDur()
		// where the part the pending frame goes into starts
		from := r.pv.dts
		if r.partOpen {
			from = r.partStart
		} else if r.leadValid {
			from = r.leadFrom
		}
		held := r.pv.dts - from
		// A hole in the media (frames missing, timestamps continuing: an
		// encoder dropping frames, a transcoder restarted on the same
		// timeline) is absorbed when it is short: the frame before it
		// lasts until the next one, or, when that would overfill the part,
		// fills the part to PART-TARGET and the rest of the hole opens the
		// next part (a lead, see appendPendingVideoLocked). A hole that
		// does not fit in that closes the part and the segment after the
		// frame before it; the next segment starts on the first keyframe
		// after the hole (see the package doc, Holes).
		appendDur, fill := dur, false
		hole := false
		switch {
		case held+dur <= t:
		case r.partOpen && held >= t*9/10 && dur <= t:
			r.closePartLocked(r.pv.dts)
		case held+dur-t <= t-nom:
			appendDur, fill = t-held, true
		default:
			hole = true
			appendDur = nom
		}
		overCap := r.cur != nil && r.segDurAt(r.pv.dts)+appendDur > m.segCapLocked()
		if overCap && !hole && r.segDurAt(r.pv.dts) > 0 {
			// the GOP runs past the longest a segment may last: cut
			// the segment before the pending frame, which opens the
			// next one, not independent (muxer_target.go)
			r.closePartLocked(r.pv.dts)
			r.closeSegmentLocked()
			r.fitTargetLocked(true)
			r.startSegmentLocked(r.pv.dts, r.clock.at(r.pv.dts, r.pv.wall))
			overCap = false
		}
		if hole && !overCap && r.partOpen && r.pv.dts+appendDur-r.partStart > t {
			r.closePartLocked(r.pv.dts)
		}
		if overCap || hole {
			if overCap {
				// a hole after a segment at its longest: close the
				// segment here, drop frames until the next keyframe
				r.closePartLocked(r.pv.dts)
				r.frag[r.vIdx].data = r.frag[r.vIdx].data[:r.vPartBytes]
			} else {
				r.appendPendingVideoLocked(appendDur)
				r.closePartLocked(r.pv.dts + appendDur)
			}
			r.closeSegmentLocked()
			r.pv.valid = false
			r.waitKey = true
			r.aLive = false
			if hole || !u.Key {
				r.nextDisc = true
			}
			if !u.Key {
				return
			}
		} else {
			r.appendPendingVideoLocked(appendDur)
			if fill {
				r.closePartLocked(r.pv.dts + appendDur)
				r.leadFrom, r.leadValid = r.pv.dts+appendDur, true
			}
			// The frame duration follows shorter frames at once, longer
			// ones when two in a row agree (a lower frame rate), not a
			// frame stretched over a hole, which would close the next
			// parts early.
			switch {
			case dur > t:
			case r.lastFrameDur == 0 || dur <= r.lastFrameDur*5/4:
				r.lastFrameDur = dur
			case r.longFrameDur > 0 && abs64(int64(dur-r.longFrameDur)) <= int64(dur/10):
				r.lastFrameDur = dur
			}
			r.longFrameDur = 0
			if dur > r.lastFrameDur*5/4 {
				r.longFrameDur = dur
			}
		}
	}

	cut := u.Key && (r.cur == nil || r.waitKey || r.cutsAtKeyLocked(dts))
	if u.Key {
		// a GOP is measured between key frames of one timeline
		r.noteKeyLocked(dts, r.cur != nil && !r.waitKey)
	}
	if cut {
		start := dts
		if r.leadValid && r.leadFrom < dts {
			start = r.leadFrom // the segment starts with the rest of a hole
		}
		if r.cur != nil {
			r.closePartLocked(dts)
			r.closeSegmentLocked()
		}
		r.startSegmentLocked(start, r.clock.at(start, u.Wall))
		if start < dts {
			r.leadFrom, r.leadValid = start, true
		}
		r.waitKey = false
	} else if t := m.partTarget; t > 0 && r.partOpen && dts-r.partStart+r.lastFrameDur > t {
		r.closePartLocked(dts)
	}

	ft := &r.frag[r.vIdx]
	r.pv = pendingVideo{valid: true, key: u.Key, dts: dts, pts: pts, wall: u.Wall, off: len(ft.data)}
	for _, n := range u.NALUs {
		if len(n) == 0 {
			continue
		}
		switch r.video.codec.(type) {
		case AV1:
			ft.data = AppendOBU(ft.data, n)
			continue
		case H265:
			if typ := (n[0] >> 1) & 0x3F; typ >= 32 && typ <= 34 {
				continue // parameter sets live in hvcC (hvc1)
			}
		}
		ft.data = binary.BigEndian.AppendUint32(ft.data, uint32(len(n)))
		ft.data = append(ft.data, n...)
	}
	r.pv.size = len(ft.data) - r.pv.off
}

// AppendOBU appends an AV1 OBU (as the hub carries it, with or without
// its size field) with obu_has_size_field set (AV1 §5.3.1), the low
// overhead bitstream format of MP4 samples and Enhanced RTMP frames;
// temporal delimiters are dropped (AV1-ISOBMFF §2.4).
func AppendOBU(b, obu []byte) []byte {
	h := obu[0]
	typ := (h >> 3) & 0x0F
	if typ == 2 {
		return b
	}
	if h&0x02 != 0 {
		return append(b, obu...)
	}
	hl := 1
	if h&0x04 != 0 {
		hl = 2
	}
	if len(obu) < hl {
		return b
	}
	b = append(b, h|0x02)
	b = append(b, obu[1:hl]...)
	n := len(obu) - hl
	for {
		c := byte(n & 0x7F)
		n >>= 7
		if n == 0 {
			b = append(b, c)
			break
		}
		b = append(b, c|0x80)
	}
	return append(b, obu[hl:]...)
}

func (r *Rendition) nominalFrameDur() time.Duration {
	d := r.lastFrameDur
	if d <= 0 {
		d = r.m.frameDur
	}
	if d <= 0 {
		d = time.Second / 30
	}
	if t := r.m.partTarget; t > 0 && d > t {
		d = t
	}
	return d
}

// segDurAt is the duration of the segment in progress if it ended at t.
func (r *Rendition) segDurAt(t time.Duration) time.Duration {
	if r.cur == nil {
		return 0
	}
	d := r.cur.closedDur
	if r.partOpen {
		d += t - r.partStart
	} else if r.leadValid {
		d += t - r.leadFrom
	}
	return d
}

func (r *Rendition) appendPendingVideoLocked(dur time.Duration) {
	ft := &r.frag[r.vIdx]
	if !r.partOpen {
		r.partOpen = true
		r.partStart = r.pv.dts
		if r.leadValid && r.leadFrom < r.pv.dts {
			// the rest of a hole: the part's duration counts it, its
			// media (tfdt) starts at the frame
			r.partStart = r.leadFrom
		}
		r.leadValid = false
		r.partBase = r.pv.dts
	}
	dt := toTicks(r.pv.dts, videoTimescale)
	ft.samples = append(ft.samples, sampleMeta{
		duration: uint32(toTicks(r.pv.dts+dur, videoTimescale) - dt),
		size:     uint32(r.pv.size),
		cto:      int32(toTicks(r.pv.pts, videoTimescale) - dt),
		sync:     r.pv.key,
	})
	r.vPartBytes += r.pv.size
	r.presEnd = max(r.presEnd, r.pv.pts+dur)
	r.pv.valid = false
	if r.cur != nil {
		r.cur.frames++
	}
}

func audioFrameTicks(a *trackInfo, frame []byte) int64 {
	if a.frameTicks > 0 {
		return a.frameTicks
	}
	return opus.PacketDuration2(frame)
}

// writeAudioLocked places an audio frame: in a muxed rendition it waits in
// the queue for the video part it belongs to; in an audio-only rendition audio
// leads the cutting.
func (r *Rendition) writeAudioLocked(u *AudioUnit) {
	m := r.m
	a := r.audio
	if len(u.Frame) == 0 {
		return
	}
	dur := audioFrameTicks(a, u.Frame)
	if dur <= 0 {
		return
	}
	if !r.haveOffset {
		r.initOffsetLocked(u.PTS)
	}
	if r.vIdx >= 0 {
		r.queueMuxedAudioLocked(u, dur)
		r.audioInLocked(time.Now())
		return
	}

	if r.rebase {
		if r.lastEnd > 0 {
			r.offset = r.rebaseOffsetLocked(u.PTS)
		}
		r.rebase = false
	}
	t := toTicks(u.PTS+r.offset, a.timescale)
	if r.aSynced {
		diff := t - r.aNext
		switch {
		case diff < -2*dur || fromTicks(diff, a.timescale) > m.cfg.MaxTimestampJump:
			r.flushLocked()
			r.offset = r.rebaseOffsetLocked(u.PTS)
			t = toTicks(u.PTS+r.offset, a.timescale)
			r.nextDisc = true
			r.aSynced = false
			r.clock.reset()
		case diff > 2*dur:
			r.closePartLocked(fromTicks(r.aNext, a.timescale))
			r.aNext = t
		}
	}
	if t < 0 {
		r.offset -= fromTicks(t, a.timescale)
		t = 0
	}
	if !r.aSynced {
		r.aNext = t
		r.aSynced = true
	}
	// the frame is placed at aNext
	at := fromTicks(r.aNext, a.timescale)
	r.clock.push(at, u.Wall)
	wall := r.clock.at(at, u.Wall)
	if m.partTarget == 0 {
		r.aWaited += fromTicks(dur, a.timescale)
		if m.hasVideoRen && r.aWaited < m.cfg.SegmentDuration && len(r.aHeld) < maxHeldAudio {
			// PART-TARGET is fitted to the video's frame rate: hold the
			// frame until a video rendition fixes it
			r.aHeld = append(r.aHeld, heldAudio{ticks: r.aNext, dur: dur, wall: wall, frame: append([]byte(nil), u.Frame...)})
			r.aNext += dur
			return
		}
	}
	r.placeHeldAudioLocked()
	r.placeAudioLocked(dur, wall, u.Frame)
}

// maxQueuedAudio bounds the audio frames a muxed rendition queues for the
// video part they belong to.
const maxQueuedAudio = 4096

// queueMuxedAudioLocked queues an audio frame of dur ticks of a muxed
// rendition. Frames are placed back to back from the first one's PTS (aNext)
// and wait in frag[aIdx] until the video closes the part they start in
// (closePartLocked takes every queued frame that starts before the part's
// end, or before the presentation end of its video when that is later:
// B-frames), so each frame lands in exactly one part.
//
// Audio arrives ahead of or behind the video it goes with (an ingest that
// transcodes audio delivers it late; one that interleaves by PTS early):
//
//   - ahead: frames queued before the keyframe that starts a segment wait
//     for it, at the start of a stream as at every cut; those that end at or
//     before the segment's start are dropped (startSegmentLocked);
//   - behind: a frame that arrives after its part was closed, its PTS before
//     the part's end, cannot go back into a part already published: it opens
//     the next part. At a cut the keyframe waits for it, boundedly (see
//     muxer_audiowait.go), so that the segment's audio reaches its video's
//     presentation end; audio later than the bound opens the next segment.
//     The audio timeline stays gapless and without overlap; the closed
//     segment's audio ends, and the next one's starts, within one audio
//     frame after the video's presentation boundary when audio is on time or
//     ahead, up to the audio's delay past the bound before it otherwise.
//
// Only at the start of a timeline (the first segment, or after a
// discontinuity) is audio from before the segment's first keyframe dropped.
func (r *Rendition) queueMuxedAudioLocked(u *AudioUnit, dur int64) {
	m := r.m
	a := r.audio
	ft := &r.frag[r.aIdx]
	waiting := r.cur == nil || r.waitKey
	if waiting && r.rebase {
		return // the timeline restarts with the next video unit
	}
	t := toTicks(u.PTS+r.offset, a.timescale)
	if len(ft.samples) == 0 && (!r.aSynced || abs64(t-r.aNext) > 2*dur) {
		if r.aSynced {
			r.aLive = false // the audio timestamps jumped
		}
		r.aNext = t
		r.aBase = t
		r.aSynced = true
	}
	at := fromTicks(r.aNext, a.timescale)
	if !waiting && !r.aLive {
		if at < r.cur.start {
			// before the first keyframe of a timeline: no segment has it
			r.aNext += dur
			r.aBase = r.aNext
			return
		}
		r.aLive = true
		if r.cur.disc && len(r.cur.parts) == 0 {
			// the first audio of a timeline after a hole: see
			// padTimelineAudioLocked
			r.padTimelineAudioLocked(r.cur.start)
		}
	}
	if r.pv.valid && at > r.pv.dts+m.cfg.MaxTimestampJump {
		return
	}
	if waiting {
		// waiting for a keyframe: keep the audio that may follow it, at
		// most MaxTimestampJump of it
		for len(ft.samples) > 0 && (len(ft.samples) >= maxQueuedAudio ||
			fromTicks(r.aNext-r.aBase, a.timescale) > m.cfg.MaxTimestampJump) {
			r.consumeAudio(1, int(ft.samples[0].size), r.aBase+int64(ft.samples[0].duration))
		}
	} else if len(ft.samples) >= maxQueuedAudio {
		return
	}
	ft.samples = append(ft.samples, sampleMeta{duration: uint32(dur), size: uint32(len(u.Frame)), sync: true})
	ft.data = append(ft.data, u.Frame...)
	r.aNext += dur
}

// maxHeldAudio bounds the audio frames an audio-only rendition holds while
// waiting for PART-TARGET (a few seconds of AAC or Opus).
const maxHeldAudio = 512

// heldAudio is an audio frame of an audio-only rendition held until
// PART-TARGET is known.
type heldAudio struct {
	ticks, dur int64
	wall       time.Time
	frame      []byte
}

// placeHeldAudioLocked places the held frames of an audio-only rendition,
// fixing PART-TARGET from their frame duration if nothing else has.
func (r *Rendition) placeHeldAudioLocked() {
	if len(r.aHeld) == 0 {
		return
	}
	held := r.aHeld
	r.aHeld = nil
	if r.m.partTarget == 0 {
		r.m.decidePartTargetLocked(fromTicks(held[0].dur, r.audio.timescale))
	}
	next := r.aNext
	for i, h := range held {
		if i > 0 && h.ticks != r.aNext {
			r.closePartLocked(fromTicks(r.aNext, r.audio.timescale)) // a gap
		}
		r.aNext = h.ticks
		r.placeAudioLocked(h.dur, h.wall, h.frame)
	}
	r.aNext = next
}

// placeAudioLocked places a frame of dur ticks at r.aNext in an audio-only
// rendition, cutting parts and segments.
func (r *Rendition) placeAudioLocked(dur int64, wall time.Time, frame []byte) {
	m := r.m
	a := r.audio
	ft := &r.frag[r.aIdx]
	fd := fromTicks(dur, a.timescale)
	if m.partTarget == 0 {
		m.decidePartTargetLocked(fd)
	}
	if r.cur == nil {
		r.startSegmentLocked(fromTicks(r.aNext, a.timescale), wall)
	}
	if !r.partOpen {
		r.partOpen = true
		r.aBase = r.aNext
		r.partStart = fromTicks(r.aNext, a.timescale)
	}
	ft.samples = append(ft.samples, sampleMeta{duration: uint32(dur), size: uint32(len(frame)), sync: true})
	ft.data = append(ft.data, frame...)
	r.aNext += dur
	end := fromTicks(r.aNext, a.timescale)
	if end-r.partStart+fd > m.partTarget {
		r.closePartLocked(end)
		if r.cur.closedDur+fd/2 >= m.cfg.SegmentDuration {
			r.closeSegmentLocked()
		}
	}
}

// rebaseOffsetLocked returns the offset from input to output time for a
// rendition whose timestamps were reset (ts is its first input timestamp
// after the reset). Renditions of one stream see the same reset (a publisher
// reconnecting) and must keep one timeline, or a separate audio rendition
// drifts from the video: the first to see it puts the new timeline after
// the end of every rendition's media, and the others take that offset when
// it lands them within a part duration of their own end.
func (r *Rendition) rebaseOffsetLocked(ts time.Duration) time.Duration {
	m := r.m
	if m.rebaseSeq != 0 && r.rebaseSeq != m.rebaseSeq {
		if d := ts + m.rebaseOffset - r.lastEnd; d >= -m.cfg.PartDuration && d <= m.cfg.PartDuration {
			r.rebaseSeq = m.rebaseSeq
			return m.rebaseOffset
		}
	}
	end := r.lastEnd
	for _, o := range m.renditions {
		end = max(end, o.contentEndLocked())
	}
	m.rebaseSeq++
	m.rebaseOffset = end - ts
	r.rebaseSeq = m.rebaseSeq
	return m.rebaseOffset
}

// contentEndLocked is the output time at which the media a rendition has
// been given ends.
func (r *Rendition) contentEndLocked() time.Duration {
	end := r.lastEnd
	if r.pv.valid {
		end = max(end, r.pv.dts+r.nominalFrameDur())
	}
	if r.vIdx < 0 && r.aSynced {
		end = max(end, fromTicks(r.aNext, r.audio.timescale))
	}
	return end
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// flushLocked puts everything pending into a last part and closes the
// segment in progress.
func (r *Rendition) flushLocked() {
	m := r.m
	r.placeHeldAudioLocked()
	if r.pv.valid {
		dur := r.nominalFrameDur()
		if m.partTarget == 0 {
			m.decidePartTargetLocked(dur)
		}
		if r.partOpen && r.pv.dts+dur-r.partStart > m.partTarget {
			r.closePartLocked(r.pv.dts)
		}
		r.appendPendingVideoLocked(dur)
		r.closePartLocked(r.pv.dts + dur)
	} else if r.vIdx < 0 && r.partOpen {
		if m.partTarget == 0 {
			m.decidePartTargetLocked(fromTicks(r.aNext, r.audio.timescale) - r.partStart)
		}
		r.closePartLocked(fromTicks(r.aNext, r.audio.timescale))
	}
	r.closeSegmentLocked()
	r.presEnd = 0
	if r.aIdx >= 0 && r.vIdx >= 0 {
		ft := &r.frag[r.aIdx]
		ft.samples = ft.samples[:0]
		ft.data = ft.data[:0]
		r.aSynced = false
		r.aLive = false
	}
}

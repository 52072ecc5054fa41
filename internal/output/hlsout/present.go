package hlsout

import (
	"time"

	"github.com/mpegflow/mpegflow/hls"
)

// presentShift moves a source's presentation earlier by its composition
// delay, audio with it, so that a key frame presents at its decode time.
//
// With B-frames a key frame presents a composition delay (typically two
// frames, 67 ms at 30 fps) after it decodes. Every fragment's video then
// begins that much after the fragment's decode start, which is where its
// audio begins and where a player places it: a player that loads a fragment
// into an empty buffer (a level switch, a seek, a start) finds the first
// 67 ms of the muxed buffered range missing and stalls until its gap logic
// jumps the hole; one that appends it after a rung's fragment (which
// presents at its decode time, see the transcoder) finds the same hole
// inside its buffer. Moving PTS earlier by the delay of the timeline's first
// key frame makes a fragment's presentation start at its decode start; the
// frames decoded before the ones they are presented after get negative
// composition offsets (trun version 1, ISO/IEC 14496-12 8.8.8, which the
// muxer writes). The transcoder's rungs make the same move, so the source
// and its rungs share one media timeline. Audio keeps its sync with the
// video because it moves by the same amount.
//
// The delay is known at the timeline's first key frame; audio that arrives
// before it waits (bounded) so that it moves by the same amount.
type presentShift struct {
	hasVideo bool
	known    bool
	shift    time.Duration
	held     []hls.AudioUnit
}

// maxPresentHeld bounds the audio held while a timeline waits for its first
// key frame (about 4 s of AAC at 48 kHz); past it the timeline goes
// unshifted.
const maxPresentHeld = 200

// maxShift bounds the composition delay taken as a shift; a larger PTS - DTS
// on a key frame is a broken timestamp, not a reorder delay.
const maxShift = time.Second

func newPresentShift(hasVideo bool) *presentShift {
	return &presentShift{hasVideo: hasVideo, known: !hasVideo}
}

// reset starts a new timeline (a discontinuity) and returns the audio still
// held for the old one, unshifted, to be written before the discontinuity.
func (p *presentShift) reset() []hls.AudioUnit {
	out := p.held
	p.known, p.shift, p.held = !p.hasVideo, 0, nil
	return out
}

// audio returns the audio units to write now, in order: none while the
// timeline waits for its first key frame, and then, on overflow, the held
// ones unshifted.
func (p *presentShift) audio(u hls.AudioUnit) []hls.AudioUnit {
	if p.known {
		u.PTS -= p.shift
		return []hls.AudioUnit{u}
	}
	p.held = append(p.held, u)
	if len(p.held) < maxPresentHeld {
		return nil
	}
	p.known = true // no key frame in sight: this timeline goes unshifted
	out := p.held
	p.held = nil
	return out
}

// video shifts a video unit and returns the audio held for the timeline's
// first key frame (shifted like it), to be written before it.
func (p *presentShift) video(u *hls.VideoUnit) []hls.AudioUnit {
	if !p.known && u.Key {
		p.known = true
		if d := u.PTS - u.DTS; d > 0 && d <= maxShift {
			p.shift = d
		}
		out := p.held
		p.held = nil
		for i := range out {
			out[i].PTS -= p.shift
		}
		u.PTS -= p.shift
		return out
	}
	if p.known {
		u.PTS -= p.shift
	}
	return nil
}

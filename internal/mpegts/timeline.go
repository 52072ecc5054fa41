package mpegts

import "time"

// MPEG-TS timestamps (ISO/IEC 13818-1 §2.4.3.7): PTS and DTS count a 90 kHz
// clock in 33 bits and wrap after about 26.5 hours.
const (
	tsClock    = 90000
	tsWrap     = int64(1) << 33
	tsWrapMask = tsWrap - 1
)

// Internal timeline slots (not stream track indexes).
const (
	slotVideo = 0
	slotAudio = 1
)

// ticksToDuration converts 90 kHz ticks into a time.Duration.
func ticksToDuration(t int64) time.Duration {
	return time.Duration(t * 100000 / 9) // t·10⁹/90000 without overflow for 3·10⁶ years
}

// signed33 interprets the 33-bit difference d as a signed step
// (serial number arithmetic: 0x1FFFFFFF0 → 0x10 is +32 ticks).
func signed33(d int64) int64 {
	d &= tsWrapMask
	if d >= tsWrap/2 {
		d -= tsWrap
	}
	return d
}

// timeline turns the 33-bit 90 kHz timestamps of one program into a
// monotonic 64-bit timeline shared by its audio and video.
//
// Each slot unwraps its timestamps against its own previous one, or against
// the other slot's when it has none. A step of more than maxJump forward, or
// more than jitter backward, is a discontinuity, as is the next timestamp
// after markDiscontinuity (a PCR discontinuity, ISO/IEC 13818-1 §2.4.3.5
// discontinuity_indicator): the timeline is rebased so that the slot
// continues one frame after its previous unit, and the next unit of every
// slot is flagged. Smaller backward steps are clamped to one tick after the
// previous unit, so every slot's output never decreases.
type timeline struct {
	maxJump int64 // ticks
	jitter  int64 // ticks
	offset  int64 // added to unwrapped timestamps
	slots   [2]clock
	force   bool // rebase at the next convert
	rebases int  // discontinuities so far
}

type clock struct {
	valid     bool // lastRaw/lastExt may anchor unwrapping
	seen      bool // lastOut is set
	lastRaw   int64
	lastExt   int64
	lastOut   int64
	lastDelta int64
	disc      bool
}

func newTimeline(maxJump, jitter time.Duration) *timeline {
	return &timeline{
		maxJump: int64(maxJump / (time.Second / tsClock)),
		jitter:  int64(jitter / (time.Second / tsClock)),
	}
}

// markDiscontinuity makes the next converted timestamp start a new
// timeline segment, whatever its value.
func (t *timeline) markDiscontinuity() { t.force = true }

// convert returns the time in ticks on the output timeline of the 33-bit
// timestamp raw of slot, and whether it starts a discontinuity.
func (t *timeline) convert(slot int, raw int64) (int64, bool) {
	raw &= tsWrapMask
	c := &t.slots[slot]
	o := &t.slots[1-slot]
	var ext int64
	switch {
	case t.force:
		ext = raw
	case c.valid:
		ext = c.lastExt + signed33(raw-c.lastRaw)
	case o.valid:
		ext = o.lastExt + signed33(raw-o.lastRaw)
	default:
		ext = raw
	}
	out := ext + t.offset
	rebased := false
	switch {
	case t.force:
		t.force = false
		rebased = true
		if c.seen {
			out = c.lastOut + min(max(c.lastDelta, 1), tsClock)
		} else if o.seen {
			out = o.lastOut + 1
		}
		t.offset = out - ext
	case c.seen:
		delta := out - c.lastOut
		switch {
		case delta > t.maxJump || delta < -t.jitter:
			out = c.lastOut + min(max(c.lastDelta, 1), tsClock)
			t.offset = out - ext
			rebased = true
		case delta <= 0:
			out = c.lastOut + 1
		default:
			c.lastDelta = delta
		}
	}
	if rebased {
		t.rebases++
		for i := range t.slots {
			t.slots[i].disc = true
		}
		o.valid = false
	}
	c.valid, c.seen = true, true
	c.lastRaw, c.lastExt, c.lastOut = raw, ext, out
	disc := c.disc
	c.disc = false
	return out, disc
}

package rtmp

// Internal track slots of a timeline (not stream track indexes).
const (
	slotVideo = 0
	slotAudio = 1
)

// timeline turns the 32-bit millisecond timestamps of RTMP messages (RTMP
// spec §5.3.1.2: they wrap at 2^32 ms) into a monotonic 64-bit timeline
// shared by the audio and video of one publish.
//
// Each track unwraps its timestamps against its previous one (serial number
// arithmetic, so 0xFFFFFFF0 → 0x10 is +32 ms). A step of more than maxJump
// forward, or more than jitter backward, is a discontinuity: the timeline is
// rebased so that the track continues one frame after its previous unit, and
// the next unit of every track is flagged. Small backward steps (≤ jitter)
// are clamped to 1 ms after the previous unit.
type timeline struct {
	maxJump int64 // ms
	jitter  int64 // ms
	offset  int64 // ms added to unwrapped timestamps
	slots   [2]clock
	rebases int // number of discontinuities so far
}

type clock struct {
	valid     bool // lastRaw/lastExt may anchor unwrapping
	seen      bool // lastOut is set
	lastRaw   uint32
	lastExt   int64
	lastOut   int64
	lastDelta int64
	disc      bool
}

func newTimeline(maxJumpMS, jitterMS int64) *timeline {
	return &timeline{maxJump: maxJumpMS, jitter: jitterMS}
}

// convert returns the time in ms on the output timeline of a message of
// slot with RTMP timestamp raw, and whether the unit starts a discontinuity.
func (t *timeline) convert(slot int, raw uint32) (int64, bool) {
	c := &t.slots[slot]
	o := &t.slots[1-slot]
	var ext int64
	switch {
	case c.valid:
		ext = c.lastExt + int64(int32(raw-c.lastRaw))
	case o.valid:
		ext = o.lastExt + int64(int32(raw-o.lastRaw))
	default:
		ext = int64(raw)
	}
	out := ext + t.offset
	rebased := false
	if c.seen {
		delta := out - c.lastOut
		switch {
		case delta > t.maxJump || delta < -t.jitter:
			step := min(max(c.lastDelta, 1), 1000)
			out = c.lastOut + step
			t.offset = out - ext
			rebased = true
		case delta < 0:
			out = c.lastOut + 1
		case delta > 0:
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

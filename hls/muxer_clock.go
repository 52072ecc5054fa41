package hls

import (
	"math"
	"time"
)

// clockWindow is how far back wallClock looks for the least delayed arrival.
const clockWindow = 5 * time.Second

// wallClock maps a rendition's output timeline to the ingest wall-clock, for
// EXT-X-PROGRAM-DATE-TIME (RFC 8216bis §4.4.4.6).
//
// A frame with decode time t that arrived at wall-clock W gives the offset
// W - t. Arrival jitter only ever delays a frame (a keyframe, the largest
// frame, is typically the latest), so the offset of the frames that arrived
// with the least delay is the mapping: offset = the minimum of W - t over the
// frames of the last clockWindow, kept with a monotonic deque (amortised
// O(1) per frame, no allocation once the ring has grown). A segment's
// PROGRAM-DATE-TIME is then t(first frame) + offset, taken when its first
// part completes (when the segment is first listed; the frames of that part
// refine the offset, which matters at the start of a stream), which is
//
//   - never later than the real arrival of that frame, since the frame
//     itself is in the window: latency measured from it is never understated;
//   - free of that frame's own jitter, so consecutive segments' dates step by
//     their durations, and part availability measured against them does not
//     go negative;
//   - free of drift: the window slides, so a media clock running slower or
//     faster than the wall-clock is followed within clockWindow.
//
// t is the decode time, the order frames arrive in. The date labels the
// segment's start as players see it (hls.js and Safari map it to the first
// sample's presentation time): the wall-clock at which the first frame to be
// presented arrived. The clock is reset at every discontinuity (a publisher
// reconnecting restarts timestamps against a new wall-clock).
type wallClock struct {
	ring []clockSample // ring buffer, len is a power of two
	head int           // index of the oldest sample
	n    int
}

type clockSample struct {
	t   time.Duration // output decode time
	off int64         // wall-clock Unix nanoseconds minus t
}

func (c *wallClock) reset() { c.head, c.n = 0, 0 }

// push adds the arrival of a frame with decode time t at wall-clock wall.
func (c *wallClock) push(t time.Duration, wall time.Time) {
	if wall.IsZero() {
		return
	}
	off := wall.UnixNano() - int64(t)
	mask := len(c.ring) - 1
	// a later sample with a smaller or equal offset makes earlier ones useless
	for c.n > 0 && c.ring[(c.head+c.n-1)&mask].off >= off {
		c.n--
	}
	// samples older than the window leave it
	for c.n > 0 && c.ring[c.head].t < t-clockWindow {
		c.head = (c.head + 1) & mask
		c.n--
	}
	if c.n > 0 && c.ring[(c.head+c.n-1)&mask].t > t {
		// time went backwards without a reset: start over
		c.reset()
	}
	if c.n == len(c.ring) {
		c.grow()
		mask = len(c.ring) - 1
	}
	c.ring[(c.head+c.n)&mask] = clockSample{t: t, off: off}
	c.n++
}

func (c *wallClock) grow() {
	size := max(16, 2*len(c.ring))
	ring := make([]clockSample, size)
	for i := 0; i < c.n; i++ {
		ring[i] = c.ring[(c.head+i)&(len(c.ring)-1)]
	}
	c.ring, c.head = ring, 0
}

// at returns the wall-clock of output time t, or fallback before any frame
// was pushed.
func (c *wallClock) at(t time.Duration, fallback time.Time) time.Time {
	if c.n == 0 {
		return fallback
	}
	return time.Unix(0, c.ring[c.head].off+int64(t)).UTC()
}

// offsetNear returns the clock's offset if its latest frame is within
// clockWindow of output time t (the clock is alive around t).
func (c *wallClock) offsetNear(t time.Duration) (int64, bool) {
	if c.n == 0 {
		return 0, false
	}
	last := c.ring[(c.head+c.n-1)&(len(c.ring)-1)].t
	if last < t-clockWindow || last > t+clockWindow {
		return 0, false
	}
	return c.ring[c.head].off, true
}

// dateSlew is the largest rate at which the dates of a timeline may move
// away from its media time: a segment's PROGRAM-DATE-TIME steps from the
// previous one by the media duration between them, plus or minus at most
// dateSlew of it, as NTP slews a clock instead of stepping it.
//
// Players take the dates and the EXTINF durations of one playlist as one
// timeline: hls.js aligns a refreshed playlist on an earlier one by the date
// difference of two segments minus their EXTINF distance (its
// alignMediaPlaylistByPDT, on the first refresh and on every level switch).
// Dates that followed the wall-clock freely made that difference the drift
// of half a playlist window: with a publisher running 3 % slow (ffmpeg -re on
// a loaded host), 1 s over 32 segments, and hls.js placed every part a
// segment away from its media, left holes and stopped loading. With the
// slew bounded, the error is at most dateSlew of the window (32 ms over 32
// s), while an encoder clock off by up to dateSlew (100 ppm is common) is
// still followed, and one running further off drifts from the wall-clock
// instead of breaking players.
const dateSlew = 1e-3

// timelineDates is the date mapping shared by the renditions of one
// timeline (one timestamp rebase): the last date given and its media time.
type timelineDates struct {
	t     time.Duration
	date  time.Time
	first time.Duration // media time of the timeline's first date
}

// wallAtLocked returns the PROGRAM-DATE-TIME of output time t in rendition
// r: the least offset of the clocks of the renditions on r's timeline (same
// timestamp rebase) that are alive around t, or fallback if none is. Renditions
// of a ladder share one timeline (§6.2.4) but a transcoded one arrives later
// than its source: taking the source's mapping gives every variant the same
// date for the same media time, so a player switching variants sees no jump,
// and it is still never later than r's own first frame's arrival.
//
// The result is slewed (dateSlew) against the timeline's previous date, once
// the timeline is older than clockWindow (its first frames refine the
// mapping freely).
func (m *Muxer) wallAtLocked(r *Rendition, t time.Duration, fallback time.Time) time.Time {
	ideal, ok := m.idealWallLocked(r, t)
	if !ok {
		return fallback
	}
	if m.dates == nil {
		m.dates = make(map[uint64]*timelineDates)
	}
	d := m.dates[r.rebaseSeq]
	if d == nil {
		// a new timeline: forget those no rendition is on any more
		for seq := range m.dates {
			if !m.timelineInUseLocked(seq) {
				delete(m.dates, seq)
			}
		}
		m.dates[r.rebaseSeq] = &timelineDates{t: t, date: ideal, first: t}
		return ideal
	}
	step := t - d.t
	predicted := d.date.Add(step)
	date := ideal
	if t-d.first >= clockWindow {
		limit := time.Duration(math.Abs(float64(step)) * dateSlew)
		date = predicted.Add(min(max(ideal.Sub(predicted), -limit), limit))
	}
	if t > d.t {
		d.t, d.date = t, date
	}
	return date
}

func (m *Muxer) timelineInUseLocked(seq uint64) bool {
	for _, o := range m.renditions {
		if o.rebaseSeq == seq {
			return true
		}
	}
	return false
}

// idealWallLocked is the wall-clock mapping of t before slewing: the least
// offset of the live clocks on r's timeline, or r's own clock.
func (m *Muxer) idealWallLocked(r *Rendition, t time.Duration) (time.Time, bool) {
	off, ok := r.clock.offsetNear(t)
	for _, o := range m.renditions {
		if o == r || o.rebaseSeq != r.rebaseSeq {
			continue
		}
		if oo, ok2 := o.clock.offsetNear(t); ok2 && (!ok || oo < off) {
			off, ok = oo, true
		}
	}
	if !ok {
		if r.clock.n == 0 {
			return time.Time{}, false
		}
		return r.clock.at(t, time.Time{}), true
	}
	return time.Unix(0, off+int64(t)).UTC(), true
}

package transcode

import (
	"sync"
	"time"
)

// wallMapSize is how many source video frames wallMap remembers: 20 s at
// 30 fps, far more than ffmpeg holds.
const wallMapSize = 600

// wallMap remembers the ingest wall-clock of the source's video frames fed
// to ffmpeg, so that a rung frame coming back gets the wall-clock of the
// source frame it was made from. Rung and source then carry the same
// EXT-X-PROGRAM-DATE-TIME for the same media (players align renditions by
// it when they switch, RFC 8216bis §4.4.4.6), even when the publisher's
// clock drifts from the server's, which a wall-clock extrapolated from the
// media time would not follow. Written by the feeder, read by the rung
// readers.
type wallMap struct {
	mu   sync.Mutex
	dts  [wallMapSize]time.Duration
	wall [wallMapSize]time.Time
	n    int // entries written (the ring holds the last wallMapSize)
}

// add records the wall-clock of the source frame at dts (dts increasing).
func (m *wallMap) add(dts time.Duration, wall time.Time) {
	if wall.IsZero() {
		return
	}
	m.mu.Lock()
	i := m.n % wallMapSize
	m.dts[i], m.wall[i] = dts, wall
	m.n++
	m.mu.Unlock()
}

// reset forgets everything (the source's timeline restarted).
func (m *wallMap) reset() {
	m.mu.Lock()
	m.n = 0
	m.mu.Unlock()
}

// at returns the wall-clock of the media at dts: the latest source frame at
// or before dts plus the media time since. ok is false when no frame that
// old is remembered.
func (m *wallMap) at(dts time.Duration) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// newest first: rung frames trail the feeder by a few frames
	for k := 0; k < min(m.n, wallMapSize); k++ {
		i := (m.n - 1 - k) % wallMapSize
		if m.dts[i] <= dts {
			return m.wall[i].Add(dts - m.dts[i]), true
		}
	}
	return time.Time{}, false
}

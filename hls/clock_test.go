package hls

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// jitterSpec describes synthetic arrivals: frame i with decode time t
// arrives at base + t*(1+drift) + delay + jitter, jitter uniform in
// [0, maxJitter), keyframes keyExtra later still (large frames arrive late).
type jitterSpec struct {
	delay, maxJitter, keyExtra time.Duration
	drift                      float64 // media clock rate error, e.g. 1e-4
}

func (js jitterSpec) arrival(rng *rand.Rand, t time.Duration, key bool) (truth, wall time.Time) {
	truth = testWall.Add(time.Duration(float64(t)*(1+js.drift)) + js.delay)
	wall = truth.Add(time.Duration(rng.Int64N(int64(js.maxJitter))))
	if key {
		wall = wall.Add(js.keyExtra)
	}
	return truth, wall
}

// TestProgramDateTimeJitter feeds video (and audio-only) units whose arrival
// times jitter and checks that every segment's EXT-X-PROGRAM-DATE-TIME is
// never later than the arrival of its first frame, is within a few
// milliseconds of the jitter-free arrival, steps by the segment durations,
// and does not drift with a media clock off by 100 ppm.
func TestProgramDateTimeJitter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		js    jitterSpec
		audio bool
		dur   time.Duration
	}{
		{"video", jitterSpec{delay: 300 * time.Millisecond, maxJitter: 60 * time.Millisecond, keyExtra: 50 * time.Millisecond}, false, 60 * time.Second},
		{"video-drift-slow", jitterSpec{delay: 100 * time.Millisecond, maxJitter: 40 * time.Millisecond, drift: 1e-4}, false, 5 * time.Minute},
		{"video-drift-fast", jitterSpec{delay: 100 * time.Millisecond, maxJitter: 40 * time.Millisecond, drift: -1e-4}, false, 5 * time.Minute},
		{"audio-only", jitterSpec{delay: 200 * time.Millisecond, maxJitter: 60 * time.Millisecond}, true, 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := NewMuxer(MuxerConfig{DVRWindow: 10 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var r *Rendition
			if tc.audio {
				r, _ = m.AddRendition(RenditionConfig{Name: "a", Audio: testAAC()})
			} else {
				r, _ = m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
			}
			type arrival struct{ truth, wall time.Time }
			var arrivals []arrival // by unit index
			fd := time.Second / 30
			if tc.audio {
				fd = time.Second * 1024 / 48000
			}
			for i := 0; time.Duration(i)*fd < tc.dur; i++ {
				ts := time.Duration(i) * fd
				key := !tc.audio && i%60 == 0
				truth, wall := tc.js.arrival(rng, ts, key)
				arrivals = append(arrivals, arrival{truth, wall})
				if tc.audio {
					if err := r.WriteAudio(AudioUnit{PTS: ts, Wall: wall, Frame: make([]byte, 300)}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				nalus := [][]byte{{0x41, 1, 2, 3}}
				if key {
					nalus = [][]byte{{0x65, 1, 2, 3}}
				}
				if err := r.WriteVideo(VideoUnit{DTS: ts, PTS: ts + 2*fd, Wall: wall, Key: key, NALUs: nalus}); err != nil {
					t.Fatal(err)
				}
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			base := r.offset
			if len(r.segments) < 20 {
				t.Fatalf("%d segments", len(r.segments))
			}
			var prev *segment
			var worst time.Duration
			for _, s := range r.segments {
				i := int(math.Round(float64(s.start-base) / float64(fd)))
				if i < 0 || i >= len(arrivals) {
					t.Fatalf("segment %d starts at %v: no unit there", s.msn, s.start-base)
				}
				a := arrivals[i]
				if s.pdt.After(a.wall) {
					t.Errorf("segment %d: PDT %v later than the first frame's arrival %v", s.msn, s.pdt, a.wall)
				}
				// PDT - the jitter-free arrival: what is left of the jitter
				// (the least of a window of arrivals; the first segment has
				// only its first part's), plus what the window lags behind a
				// slow media clock (5 s x 100 ppm = 0.5 ms)
				late := s.pdt.Sub(a.truth)
				limit := 5 * time.Millisecond
				if s.msn == 0 {
					limit = tc.js.maxJitter / 2
				}
				if late < -time.Millisecond || late > limit {
					t.Errorf("segment %d: PDT %v off the jitter-free arrival by %v", s.msn, s.pdt, late)
				}
				worst = max(worst, late)
				if prev != nil && s.complete {
					step := s.pdt.Sub(prev.pdt) - prev.duration
					if step < -10*time.Millisecond || step > 10*time.Millisecond {
						t.Errorf("segment %d: PDT steps %v beyond the previous segment's duration", s.msn, step)
					}
				}
				prev = s
			}
			t.Logf("%d segments, PDT at most %v after the jitter-free arrival (frames jitter up to %v)", len(r.segments), worst, tc.js.maxJitter+tc.js.keyExtra)
		})
	}
}

// TestProgramDateTimeReset checks that a discontinuity (a publisher
// reconnecting, timestamps restarting at 0 ten seconds later) starts a new
// wall-clock mapping.
func TestProgramDateTimeReset(t *testing.T) {
	m, _ := NewMuxer(MuxerConfig{})
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	fd := time.Second / 30
	write := func(from time.Time, n int) {
		for i := 0; i < n; i++ {
			ts := time.Duration(i) * fd
			nalus := [][]byte{{0x41, 1}}
			if i%60 == 0 {
				nalus = [][]byte{{0x65, 1}}
			}
			if err := r.WriteVideo(VideoUnit{DTS: ts, PTS: ts, Wall: from.Add(ts), Key: i%60 == 0, NALUs: nalus}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(testWall, 300)
	r.Discontinuity()
	second := testWall.Add(time.Minute)
	write(second, 300)
	m.mu.Lock()
	defer m.mu.Unlock()
	var disc *segment
	for _, s := range r.segments {
		if s.disc {
			disc = s
		}
	}
	if disc == nil {
		t.Fatal("no discontinuity")
	}
	if !disc.pdt.Equal(second) {
		t.Fatalf("PDT after the reset %v, want %v", disc.pdt, second)
	}
}

// TestProgramDateTimeLadder checks that a rendition arriving later than its
// source (a transcoded rung, 1.5 s behind) gets the source's dates for the
// same media time, which are still not later than its own arrivals.
func TestProgramDateTimeLadder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, _ := NewMuxer(MuxerConfig{TargetDuration: 10 * time.Second}) // every segment lists its parts
	defer m.Close()
	src, _ := m.AddRendition(RenditionConfig{Name: "src", Video: testH264(t)})
	rung, _ := m.AddRendition(RenditionConfig{Name: "rung", Video: testH264(t)})
	fd := time.Second / 30
	const lag = 45 // frames: 1.5 s
	var rungWall []time.Time
	write := func(r *Rendition, i int, wall time.Time) {
		ts := time.Duration(i) * fd
		nalus := [][]byte{{0x41, 1}}
		if i%60 == 0 {
			nalus = [][]byte{{0x65, 1}}
		}
		if err := r.WriteVideo(VideoUnit{DTS: ts, PTS: ts, Wall: wall, Key: i%60 == 0, NALUs: nalus}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 1800+lag; i++ {
		now := testWall.Add(time.Duration(i)*fd + time.Duration(rng.Int64N(int64(30*time.Millisecond))))
		if i < 1800 {
			write(src, i, now)
		}
		if i >= lag {
			rungWall = append(rungWall, now)
			write(rung, i-lag, now)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, rs := range rung.segments {
		ss := src.segmentByMSN(rs.msn)
		if ss == nil || ss.start != rs.start || len(rs.parts) == 0 {
			continue
		}
		// the source dated its first segment from its first part's arrivals
		// only; the rung, later, from more
		if d := rs.pdt.Sub(ss.pdt); rs.msn > 0 && (d < -time.Millisecond || d > time.Millisecond) {
			t.Errorf("segment %d: rung PDT %v, source %v", rs.msn, rs.pdt, ss.pdt)
		}
		i := int(math.Round(float64(rs.start-rung.offset) / float64(fd)))
		if rs.pdt.After(rungWall[i]) {
			t.Errorf("segment %d: rung PDT after its first frame's arrival", rs.msn)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("%d segments compared", n)
	}
}

// TestWallClockWindowMin checks the monotonic deque against a brute-force
// minimum over the window.
func TestWallClockWindowMin(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var c wallClock
	type sample struct {
		t   time.Duration
		off int64
	}
	var all []sample
	ts := time.Duration(0)
	for i := 0; i < 20000; i++ {
		ts += time.Duration(rng.Int64N(int64(60 * time.Millisecond)))
		wall := testWall.Add(ts + time.Duration(rng.Int64N(int64(time.Second))) + time.Duration(i)*time.Microsecond)
		c.push(ts, wall)
		all = append(all, sample{ts, wall.UnixNano() - int64(ts)})
		want := int64(math.MaxInt64)
		for _, s := range all {
			if s.t >= ts-clockWindow {
				want = min(want, s.off)
			}
		}
		if got := c.at(ts, time.Time{}).UnixNano() - int64(ts); got != want {
			t.Fatalf("push %d: offset %d, want %d", i, got, want)
		}
		if len(all) > 1000 {
			all = all[500:]
		}
	}
	if len(c.ring) > 512 {
		t.Errorf("ring grew to %d", len(c.ring))
	}
}

// TestProgramDateTimeSlew feeds a publisher whose media clock runs far off
// the wall-clock (ffmpeg -re on a loaded host falls 3 % behind, then bursts
// to catch up) and checks that, once the timeline is older than
// clockWindow, consecutive segments' dates step by their durations within
// dateSlew: players align playlists by date differences against EXTINF
// distances, and a date that follows such a clock misplaces every part.
func TestProgramDateTimeSlew(t *testing.T) {
	for _, drift := range []float64{0.03, -0.03} {
		m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, DVRWindow: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
		fd := time.Second / 30
		for i := 0; i < 30*90; i++ {
			ts := time.Duration(i) * fd
			wall := testWall.Add(time.Duration(float64(ts) * (1 + drift)))
			key := i%30 == 0
			nalus := [][]byte{{0x41, 1, 2, 3}}
			if key {
				nalus = [][]byte{{0x65, 1, 2, 3}}
			}
			if err := r.WriteVideo(VideoUnit{DTS: ts, PTS: ts, Wall: wall, Key: key, NALUs: nalus}); err != nil {
				t.Fatal(err)
			}
		}
		m.mu.Lock()
		var prev *segment
		checked := 0
		for _, s := range r.segments {
			if prev != nil && prev.complete && s.start-r.offset >= clockWindow+time.Second {
				step := s.pdt.Sub(prev.pdt) - prev.duration
				limit := prev.duration/1000 + time.Millisecond // dateSlew of 1e-3, and rounding
				if step < -limit || step > limit {
					t.Errorf("drift %v: segment %d: date steps %v beyond the previous segment's duration (limit %v)", drift, s.msn, step, limit)
				}
				checked++
			}
			prev = s
		}
		m.mu.Unlock()
		m.Close()
		if checked < 60 {
			t.Fatalf("drift %v: %d segments checked", drift, checked)
		}
	}
}

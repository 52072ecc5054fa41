package hls

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// feedHole writes 30 fps video with a 2 s GOP to r from 0 for d, leaving out
// the frames in [holeAt, holeAt+hole): timestamps continue across the hole
// (a transcoder restarted on the same timeline, an encoder dropping frames).
// The first frame after the hole is a key frame when resumeKey is set, and
// the GOP cadence restarts there; otherwise the cadence continues.
func feedHole(t *testing.T, r *Rendition, d, holeAt, hole time.Duration, resumeKey bool) {
	t.Helper()
	feedHoleAV(t, r, d, holeAt, hole, resumeKey, false, false)
}

// feedHoleAV is feedHole, with AAC audio (48 kHz) interleaved in time order
// when audio is set; the audio has the same hole when audioHole is set.
func feedHoleAV(t *testing.T, r *Rendition, d, holeAt, hole time.Duration, resumeKey, audio, audioHole bool) {
	t.Helper()
	aDur := time.Second * 1024 / 48000
	ai := 0
	writeAudio := func(until time.Duration) {
		for ; audio && time.Duration(ai)*aDur <= until; ai++ {
			at := time.Duration(ai) * aDur
			if audioHole && at >= holeAt && at < holeAt+hole {
				continue
			}
			if err := r.WriteAudio(AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: make([]byte, 300)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	params := testH264(t)
	fd := time.Second / 30
	key := [][]byte{params.SPS, params.PPS, append([]byte{0x65}, make([]byte, 1500)...)}
	delta := [][]byte{append([]byte{0x41}, make([]byte, 500)...)}
	gopStart := 0
	resumed := false
	for i := 0; time.Duration(i)*fd < d; i++ {
		ts := time.Duration(i) * fd
		if ts >= holeAt && ts < holeAt+hole {
			continue
		}
		if ts >= holeAt+hole && !resumed {
			resumed = true
			if resumeKey {
				gopStart = i
			}
		}
		k := (i-gopStart)%60 == 0
		u := VideoUnit{DTS: ts, PTS: ts, Wall: testWall.Add(ts), Key: k, NALUs: delta}
		if k {
			u.NALUs = key
		}
		writeAudio(ts)
		if err := r.WriteVideo(u); err != nil {
			t.Fatal(err)
		}
	}
	writeAudio(d - aDur)
}

// A hole in a rendition's video (its transcoder restarting on the shared
// timeline) never yields a part under 85 % of PART-TARGET that is not the
// last of its segment: the segment is closed at the hole and the next one
// starts on the first key frame after it, behind EXT-X-DISCONTINUITY. Every
// rule of the conformance checker holds, live and after End.
func TestVideoHole(t *testing.T) {
	for _, tc := range []struct {
		hole      time.Duration
		resumeKey bool
		cut       bool // the segment is cut at the hole
	}{
		{time.Second, true, true},
		{time.Second, false, true},
		{500 * time.Millisecond, true, true},
		{2 * time.Second, true, true},
		// a publisher hiccup: the frame before it lasts longer, no cut
		{150 * time.Millisecond, false, false},
		{100 * time.Millisecond, false, false},
		{60 * time.Millisecond, false, false},  // 2 frames dropped
		{30 * time.Millisecond, false, false},  // 1 frame dropped
		{300 * time.Millisecond, false, false}, // either: only the rules are checked
		{300 * time.Millisecond, true, false},
	} {
		for _, holeAt := range []time.Duration{
			5*time.Second + 500*time.Millisecond, // mid-segment
			5*time.Second + 100*time.Millisecond,
			5*time.Second + 133*time.Millisecond,
			5*time.Second + 166*time.Millisecond,
			5*time.Second + 200*time.Millisecond,
			5*time.Second + 233*time.Millisecond,
			5*time.Second + 900*time.Millisecond,
			6 * time.Second, // on a key frame
		} {
			t.Run(fmt.Sprintf("hole%v_at%v_key%v", tc.hole, holeAt, tc.resumeKey), func(t *testing.T) {
				m, err := NewMuxer(MuxerConfig{})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
				r2, _ := m.AddRendition(RenditionConfig{Name: "low", Video: testH264(t)})
				feed(t, r2, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, duration: 16 * time.Second}, testH264(t))
				feedHole(t, r, 16*time.Second, holeAt, tc.hole, tc.resumeKey)
				pl := getPlaylist(t, m, "v/media.m3u8")
				checkMedia(t, m, "v", pl, []string{"low"}, true)
				m.End()
				pl = getPlaylist(t, m, "v/media.m3u8")
				checkMedia(t, m, "v", pl, []string{"low"}, true)
				disc := 0
				var listed float64
				for _, s := range pl.segments {
					if s.disc {
						disc++
					}
					listed += s.dur
				}
				if tc.hole == 300*time.Millisecond {
					return // absorbed or cut, depending on where the part was
				}
				if tc.cut && disc != 1 {
					t.Fatalf("%d discontinuities, want 1 after the hole", disc)
				}
				if !tc.cut {
					if disc != 0 {
						t.Fatalf("a %v hiccup made %d discontinuities", tc.hole, disc)
					}
					run := 0.0 // segments continuing a GOP cut at the longest segment
					for _, s := range pl.segments[:len(pl.segments)-1] {
						// whole GOPs (a hiccup may drop a key frame, and the
						// 4 s GOP is then cut at the target duration + 499 ms)
						run += s.dur
						if run >= 1.98 && math.Abs(run-2*math.Round(run/2)) <= 0.02 {
							run = 0
						} else if s.dur < 2.4 || s.dur >= 2.5 {
							t.Fatalf("a %v hiccup cut segment %s at %vs", tc.hole, s.uri, s.dur)
						}
					}
					if math.Abs(listed-16) > 0.05 {
						t.Fatalf("%vs listed, want 16 s", listed)
					}
				}
			})
		}
	}
}

// A muxed rendition (video and audio in one fMP4) keeps every rule across a
// video hole, whether its audio goes on through the hole or has it too.
func TestMuxedHole(t *testing.T) {
	for _, audioHole := range []bool{false, true} {
		for _, hole := range []time.Duration{150 * time.Millisecond, time.Second} {
			for _, resumeKey := range []bool{false, true} {
				t.Run(fmt.Sprintf("hole%v_key%v_audiohole%v", hole, resumeKey, audioHole), func(t *testing.T) {
					m, _ := NewMuxer(MuxerConfig{})
					defer m.Close()
					r, _ := m.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC()})
					feedHoleAV(t, r, 16*time.Second, 5*time.Second+500*time.Millisecond, hole, resumeKey, true, audioHole)
					checkMedia(t, m, "av", getPlaylist(t, m, "av/media.m3u8"), nil, true)
					m.End()
					checkMedia(t, m, "av", getPlaylist(t, m, "av/media.m3u8"), nil, true)
				})
			}
		}
	}
}

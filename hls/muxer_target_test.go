package hls

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// gopFeed writes 30 fps video to r with key frames at the given GOP
// lengths (repeating the last) for d, calling after(dts, key) after each
// frame.
func gopFeed(t *testing.T, r *Rendition, gops []time.Duration, d time.Duration, after func(time.Duration, bool)) {
	t.Helper()
	const fd = time.Second / 30
	params := testH264(t)
	payload := make([]byte, 800)
	next, gi := time.Duration(0), 0
	for i := range int(math.Round(float64(d) / float64(fd))) {
		dts := time.Duration(i) * fd
		key := dts+fd/2 >= next
		if key {
			next += gops[min(gi, len(gops)-1)]
			gi++
		}
		nalus := [][]byte{append([]byte{0x41}, payload[:300]...)}
		if key {
			nalus = [][]byte{params.SPS, params.PPS, append([]byte{0x65}, payload...)}
		}
		if err := r.WriteVideo(VideoUnit{DTS: dts, PTS: dts, Wall: testWall.Add(dts), Key: key, NALUs: nalus}); err != nil {
			t.Fatal(err)
		}
		after(dts, key)
	}
}

func secs(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, s := range v {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

// The target duration is fitted once to the publisher's GOP and then never
// changes; no segment's EXTINF rounds above it (RFC 8216bis §4.4.3.1), no
// frame is dropped when a later GOP is longer, HOLD-BACK is 3 x the target
// (§4.4.3.8), and the media playlist is served as soon as it was before
// fitting existed: when the first key frame at or after SegmentDuration
// is written.
func TestTargetDurationFitted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gops  []time.Duration
		cfg   MuxerConfig
		want  int  // EXT-X-TARGETDURATION
		keyed bool // every segment starts on a key frame
	}{
		{"gop1s", secs(1), MuxerConfig{}, 2, true},
		{"gop2s", secs(2), MuxerConfig{}, 2, true},
		{"gop8s", secs(8), MuxerConfig{}, 8, true},
		{"obs_auto_8.33s", secs(250.0 / 30), MuxerConfig{}, 8, true},
		// x264 with a 2 s keyint and scene cuts: key frames come early, a
		// segment is closed at one when the next could come too late
		{"gop2s_scenecuts", secs(1.5, 2, 0.4, 2, 2, 1.2, 2, 0.3, 2, 1.9), MuxerConfig{}, 2, true},
		// the first GOP understates the later ones: they are cut at
		// the target duration + 499 ms without a key frame
		{"gop2s_then_8s", secs(2, 8), MuxerConfig{}, 2, false},
		{"scenecut_then_8s", secs(2.6, 8), MuxerConfig{}, 3, false},
		{"gop12s_over_max", secs(12), MuxerConfig{}, 10, false},
		{"varying", secs(1, 2, 1, 3, 1, 2, 6, 2), MuxerConfig{}, 2, false},
		{"configured", secs(2), MuxerConfig{TargetDuration: 6 * time.Second}, 6, true},
		{"max4_gop8s", secs(8), MuxerConfig{MaxSegmentDuration: 4 * time.Second}, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.DVRWindow = time.Hour // keep every segment listed
			m, err := NewMuxer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
			var target int64
			// before fitting existed, the first segment was closed, and the
			// playlist served, at the first key frame at or after 2 s
			var firstKey time.Duration
			for i := 0; firstKey+time.Second/60 < 2*time.Second; i++ {
				firstKey += tc.gops[min(i, len(tc.gops)-1)]
			}
			firstListed := time.Duration(-1)
			check := func(dts time.Duration) {
				m.mu.Lock()
				listed := r.listedLocked()
				m.mu.Unlock()
				if !listed {
					// a playlist request would wait for it
					if firstListed >= 0 {
						t.Fatalf("%v: playlist no longer served", dts)
					}
					return
				}
				code, _, body := get(t, m, "v/media.m3u8")
				if code != 200 {
					t.Fatalf("%v: playlist %d", dts, code)
				}
				if firstListed < 0 {
					firstListed = dts
				}
				pl, err := parsePlaylist(string(body))
				if err != nil {
					t.Fatal(err)
				}
				if target == 0 {
					target = pl.targetDuration
				} else if pl.targetDuration != target {
					t.Fatalf("%v: TARGETDURATION changed from %d to %d", dts, target, pl.targetDuration)
				}
				hb, _ := strconv.ParseFloat(pl.serverControl["HOLD-BACK"], 64)
				if hb != 3*float64(target) {
					t.Fatalf("HOLD-BACK %v with target %d", hb, target)
				}
				if pl.independent {
					t.Fatal("live playlist declares EXT-X-INDEPENDENT-SEGMENTS")
				}
				for _, s := range pl.segments {
					if s.uri != "" && int64(math.Round(s.dur)) > target {
						t.Fatalf("%v: %s EXTINF %v rounds above %d", dts, s.uri, s.dur, target)
					}
				}
			}
			gopFeed(t, r, tc.gops, 60*time.Second, func(dts time.Duration, key bool) {
				check(dts)
			})
			if target != int64(tc.want) || m.TargetDuration() != time.Duration(tc.want)*time.Second {
				t.Fatalf("TARGETDURATION %d (%v), want %d", target, m.TargetDuration(), tc.want)
			}
			if firstListed < 0 || firstListed > firstKey {
				t.Fatalf("playlist served from %v, want at the key frame at %v", firstListed, firstKey)
			}
			m.End()
			pl := getPlaylist(t, m, "v/media.m3u8")
			checkMedia(t, m, "v", pl, nil, true)
			var total float64
			keyed := true
			for i, s := range pl.segments {
				total += s.dur
				if s.disc {
					t.Fatalf("segment %d: discontinuity", i)
				}
				_, _, seg := get(t, m, "v/"+s.uri)
				keyed = keyed && parseFragments(seg).firstSync[1]
			}
			if math.Abs(total-60) > 0.001 {
				t.Fatalf("%.3f s listed of 60 s written: frames dropped", total)
			}
			if keyed != tc.keyed {
				t.Fatalf("every segment on a key frame: %v, want %v", keyed, tc.keyed)
			}
		})
	}
}

// A blocking playlist request made before the target duration is fitted
// waits for it rather than failing (§6.2.5.2), and a muxer without video
// fits it to ceil(SegmentDuration).
func TestTargetDurationBeforeFit(t *testing.T) {
	m, err := NewMuxer(MuxerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if td := m.TargetDuration(); td != 0 {
		t.Fatalf("target %v before any media", td)
	}
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	done := make(chan int, 1)
	go func() {
		code, _, _ := get(t, m, "v/media.m3u8?_HLS_msn=0&_HLS_part=0")
		done <- code
	}()
	gopFeed(t, r, secs(2), 2500*time.Millisecond, func(time.Duration, bool) {})
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("blocking request: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking request not answered")
	}

	a, err := NewMuxer(MuxerConfig{SegmentDuration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ar, _ := a.AddRendition(RenditionConfig{Name: "a", Audio: testAAC()})
	for i := range 200 {
		pts := time.Duration(i) * time.Second * 1024 / 48000
		if err := ar.WriteAudio(AudioUnit{PTS: pts, Wall: testWall.Add(pts), Frame: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if td := a.TargetDuration(); td != 3*time.Second {
		t.Fatalf("audio-only target %v, want 3s", td)
	}
}

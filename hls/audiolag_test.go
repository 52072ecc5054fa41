package hls

import (
	"fmt"
	"testing"
	"time"
)

// Audio transcoded from the source's (WHIP's Opus made AAC) is stamped on
// the video's timeline but arrives a few hundred milliseconds behind it.
// With RenditionConfig.AudioLag above that delay, the keyframe that cuts a
// segment waits for the segment's audio, so every segment's audio starts
// and ends within an audio frame of its video (no segment cut short of its
// audio, which players stall on); with the default bound (the part
// target) a delay past it leaves segments short.
func TestMuxedAudioLag(t *testing.T) {
	const aRate = 48000
	aFrame := time.Second * 1024 / aRate
	for _, tt := range []struct {
		name  string
		lag   func(i int) time.Duration
		bound time.Duration // RenditionConfig.AudioLag
		short bool          // some segments are expected short of audio
	}{
		{"lags 450ms, bound 600ms", func(int) time.Duration { return 450 * time.Millisecond }, 600 * time.Millisecond, false},
		{"lags 40-450ms, bound 600ms", func(i int) time.Duration { return time.Duration(40+i*37%411) * time.Millisecond }, 600 * time.Millisecond, false},
		{"lags 150ms, bound 600ms", func(int) time.Duration { return 150 * time.Millisecond }, 600 * time.Millisecond, false},
		{"lags 450ms, default bound", func(int) time.Duration { return 450 * time.Millisecond }, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMuxer(MuxerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			r, err := m.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC(), AudioLag: tt.bound})
			if err != nil {
				t.Fatal(err)
			}
			feed := muxedFeed(t, 0, 0, 13*time.Second, time.Second/30, 2*time.Second, false,
				func(i int) time.Duration { return -tt.lag(i) })
			for _, u := range feed {
				if u.video != nil {
					err = r.WriteVideo(*u.video)
				} else {
					err = r.WriteAudio(*u.audio)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			m.End()
			pl := getPlaylist(t, m, "av/media.m3u8")
			if len(pl.segments) < 6 {
				t.Fatalf("%d segments", len(pl.segments))
			}
			var aNext uint64
			haveA := false
			var short []string
			for i, s := range pl.segments {
				_, _, seg := get(t, m, "av/"+s.uri)
				segV, segA := int64(-1), int64(-1)
				for _, tr := range parseTrafs(t, seg) {
					if len(tr.durations) == 0 {
						continue
					}
					switch tr.track {
					case 1:
						if segV < 0 {
							segV = int64(tr.baseTime)
						}
					case 2:
						if haveA && tr.baseTime != aNext {
							t.Fatalf("segment %d: audio starts at %d, previous ended at %d: a hole or an overlap", i, tr.baseTime, aNext)
						}
						if segA < 0 {
							segA = int64(tr.baseTime)
						}
						aNext = tr.baseTime
						for _, d := range tr.durations {
							aNext += uint64(d)
						}
						haveA = true
					}
				}
				if i == 0 || segV < 0 || segA < 0 {
					continue // the first segment's audio starts with the stream's
				}
				vs, as := fromTicks(segV, videoTimescale), fromTicks(segA, aRate)
				if d := as - vs; d <= -aFrame || d >= aFrame {
					short = append(short, fmt.Sprintf("segment %d: audio starts at %v, video at %v", i, as, vs))
				}
			}
			switch {
			case !tt.short && len(short) > 0:
				t.Errorf("the previous segments were cut short of their audio:\n%v", short)
			case tt.short && len(short) == 0:
				t.Errorf("no segment short of audio with the default bound: the case does not show what AudioLag is for")
			}
		})
	}
}

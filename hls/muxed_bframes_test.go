package hls

import (
	"sort"
	"testing"
	"time"
)

// bframeFeed is 30 fps video with two B-frames (x264 -bf 2: decode order
// I P B B P B B ..., the composition delay two frames) and a keyframe every
// gop, and AAC from the same start to 300 ms past the video; audio frame i arrives lag after its
// PTS. With lag 0 audio is interleaved by PTS with video by DTS, as RTMP
// and FLV do, so the audio of a segment's presentation end comes after the
// keyframe that cuts it.
func bframeFeed(t *testing.T, start, d, gop, lag time.Duration) []muxedUnit {
	params := testH264(t)
	const fd = time.Second / 30
	aDur := time.Second * 1024 / 48000
	key := [][]byte{params.SPS, params.PPS, append([]byte{0x65}, make([]byte, 1500)...)}
	delta := [][]byte{append([]byte{0x41}, make([]byte, 500)...)}
	gopFrames := int(gop / fd)
	var out []muxedUnit
	for i := 0; time.Duration(i)*fd < d; i++ {
		k := i % gopFrames
		disp := k // display index within the GOP
		switch {
		case k == 0:
		case k == gopFrames-2: // the GOP's tail: P then B
			disp = gopFrames - 1
		case k == gopFrames-1:
			disp = gopFrames - 2
		case k%3 == 1:
			disp = k + 2
		default:
			disp = k - 1
		}
		dts := start + time.Duration(i)*fd
		pts := start + time.Duration(i-k+disp+2)*fd
		u := &VideoUnit{DTS: dts, PTS: pts, Wall: testWall.Add(dts), Key: k == 0, NALUs: delta}
		if u.Key {
			u.NALUs = key
		}
		out = append(out, muxedUnit{arrive: dts, video: u})
	}
	for i := 0; time.Duration(i)*aDur < d+300*time.Millisecond; i++ {
		at := start + time.Duration(i)*aDur
		out = append(out, muxedUnit{arrive: at + lag, audio: &AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: make([]byte, 300)}})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].arrive < out[j].arrive })
	return out
}

// segmentTimes reads a segment back: its video decode end, its video
// presentation end, and its audio start and end.
type segmentTimes struct {
	vDTSEnd, vPresEnd, aStart, aEnd time.Duration
	parts                           []struct{ aStart, aEnd time.Duration }
}

func readSegments(t *testing.T, m *Muxer, name string) []segmentTimes {
	t.Helper()
	pl := getPlaylist(t, m, name+"/media.m3u8")
	var out []segmentTimes
	for i, s := range pl.segments {
		if s.uri == "" {
			continue
		}
		st := segmentTimes{aStart: -1}
		for _, p := range s.parts {
			code, _, b := get(t, m, name+"/"+p.uri)
			if code != 200 {
				t.Fatalf("segment %d: GET %s: %d", i, p.uri, code)
			}
			pa := struct{ aStart, aEnd time.Duration }{-1, -1}
			for _, tr := range parseTrafs(t, b) {
				switch tr.track {
				case 1:
					dt := int64(tr.baseTime)
					for k, d := range tr.durations {
						pe := fromTicks(dt+int64(tr.ctos[k])+int64(d), videoTimescale)
						st.vPresEnd = max(st.vPresEnd, pe)
						dt += int64(d)
					}
					st.vDTSEnd = fromTicks(dt, videoTimescale)
				case 2:
					if len(tr.durations) == 0 {
						continue
					}
					sum := int64(0)
					for _, d := range tr.durations {
						sum += int64(d)
					}
					pa.aStart = fromTicks(int64(tr.baseTime), 48000)
					pa.aEnd = fromTicks(int64(tr.baseTime)+sum, 48000)
					if st.aStart < 0 {
						st.aStart = pa.aStart
					}
					st.aEnd = pa.aEnd
				}
			}
			st.parts = append(st.parts, pa)
		}
		out = append(out, st)
	}
	return out
}

// In a muxed rendition with B-frames, each segment's audio reaches its
// video's presentation end (a player's muxed SourceBuffer buffers where both
// tracks have media, and a player puts the segment's end there), by less
// than one audio frame past it, and the audio of consecutive parts and
// segments is contiguous.
func TestMuxedAudioCoversBFramePresentation(t *testing.T) {
	aFrame := time.Second * 1024 / 48000
	for _, c := range []struct {
		name  string
		start time.Duration
		lag   time.Duration
		gop   time.Duration
	}{
		{"interleaved", 0, 0, time.Second},
		{"interleaved start 7.3s", 7300 * time.Millisecond, 0, time.Second},
		{"audio 40ms late", 0, 40 * time.Millisecond, time.Second},
		{"audio 30ms early", 0, -30 * time.Millisecond, time.Second},
		{"interleaved gop 2s", 0, 0, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond, TargetDuration: 10 * time.Second}) // every segment lists its parts
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			r, err := m.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC()})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range bframeFeed(t, c.start, 12*time.Second, c.gop, c.lag) {
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
			segs := readSegments(t, m, "av")
			if len(segs) < 5 {
				t.Fatalf("%d segments", len(segs))
			}
			var prevEnd time.Duration = -1
			for i, s := range segs {
				for k, p := range s.parts {
					if p.aStart < 0 {
						continue
					}
					if prevEnd >= 0 && p.aStart != prevEnd {
						t.Fatalf("segment %d part %d: audio starts at %v, the previous audio ended at %v", i, k, p.aStart, prevEnd)
					}
					prevEnd = p.aEnd
				}
				if s.vPresEnd <= s.vDTSEnd {
					t.Fatalf("segment %d: presentation end %v not after decode end %v: no B-frames", i, s.vPresEnd, s.vDTSEnd)
				}
				if i == len(segs)-1 {
					break // the stream's end
				}
				if s.aEnd < s.vPresEnd-3*time.Millisecond || s.aEnd >= s.vPresEnd+aFrame {
					t.Errorf("segment %d of %d: audio ends at %v, video presentation at %v (decode %v)", i, len(segs), s.aEnd, s.vPresEnd, s.vDTSEnd)
				}
			}
		})
	}
}

// A segment's end waits for its audio only so long: with audio that stops,
// video goes on being packaged, a part duration behind at most.
func TestMuxedAudioWaitBounded(t *testing.T) {
	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond, TargetDuration: 10 * time.Second}) // every segment lists its parts
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, err := m.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC()})
	if err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for _, u := range bframeFeed(t, 0, 8*time.Second, time.Second, 0) {
		if u.video != nil {
			last = u.video.DTS
			err = r.WriteVideo(*u.video)
		} else if u.audio.PTS < 3*time.Second {
			err = r.WriteAudio(*u.audio)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pl := getPlaylist(t, m, "av/media.m3u8")
	var listed float64
	for _, s := range pl.segments {
		for _, p := range s.parts {
			listed += p.dur
		}
	}
	// the last frame is pending (its duration unknown) and the last
	// keyframe may be held for a part duration
	if behind := last - time.Duration(listed*float64(time.Second)); behind > 400*time.Millisecond {
		t.Fatalf("parts end %v behind the last video written", behind)
	}

	// with no unit coming, the ticker releases held video within its period
	// and the bound
	m2, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	r2, err := m2.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC()})
	if err != nil {
		t.Fatal(err)
	}
	var held bool
	for _, u := range bframeFeed(t, 0, 2*time.Second, time.Second, 0) {
		if u.video != nil && u.video.Key && u.video.DTS > 0 {
			if err := r2.WriteVideo(*u.video); err != nil {
				t.Fatal(err)
			}
			held = true
			break
		}
		if u.video != nil {
			err = r2.WriteVideo(*u.video)
		} else {
			err = r2.WriteAudio(*u.audio)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !held {
		t.Fatal("no keyframe at 1 s")
	}
	complete := func() int {
		m2.mu.Lock()
		defer m2.mu.Unlock()
		n := 0
		for _, s := range r2.segments {
			if s.complete {
				n++
			}
		}
		return n
	}
	if n := complete(); n != 0 {
		t.Fatalf("%d complete segments while the keyframe waits for audio", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for complete() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held keyframe was never released")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package hls

import (
	"encoding/binary"
	"fmt"
	"sort"
	"testing"
	"time"
)

// trafRun is one track fragment read back from a moof: its decode time and
// its sample durations, in the track's timescale.
type trafRun struct {
	track     uint32
	baseTime  uint64
	durations []uint32
	ctos      []int32 // composition offsets, when the trun has them
}

// parseTrafs returns every track fragment of b (moof+mdat...), in order.
func parseTrafs(t *testing.T, b []byte) []trafRun {
	t.Helper()
	var out []trafRun
	ok := boxes(b, func(typ string, body []byte) {
		if typ != "moof" {
			return
		}
		boxes(body, func(typ string, body []byte) {
			if typ != "traf" {
				return
			}
			var tr trafRun
			boxes(body, func(typ string, body []byte) {
				switch typ {
				case "tfhd":
					tr.track = binary.BigEndian.Uint32(body[4:])
				case "tfdt":
					if body[0] == 1 {
						tr.baseTime = binary.BigEndian.Uint64(body[4:])
					} else {
						tr.baseTime = uint64(binary.BigEndian.Uint32(body[4:]))
					}
				case "trun":
					flags := binary.BigEndian.Uint32(body) & 0xFFFFFF
					n := int(binary.BigEndian.Uint32(body[4:]))
					if flags&0x100 == 0 {
						t.Fatalf("trun without sample durations")
					}
					p := 8
					if flags&0x1 != 0 {
						p += 4
					}
					if flags&0x4 != 0 {
						p += 4
					}
					entry := 0
					for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
						if flags&f != 0 {
							entry += 4
						}
					}
					for i := 0; i < n; i++ {
						tr.durations = append(tr.durations, binary.BigEndian.Uint32(body[p+i*entry:]))
						if flags&0x800 != 0 {
							tr.ctos = append(tr.ctos, int32(binary.BigEndian.Uint32(body[p+i*entry+entry-4:])))
						}
					}
				}
			})
			out = append(out, tr)
		})
	})
	if !ok {
		t.Fatalf("malformed fragment")
	}
	return out
}

// muxedUnit is a unit of a synthetic muxed feed, with the order it arrives in.
type muxedUnit struct {
	arrive time.Duration
	video  *VideoUnit
	audio  *AudioUnit
}

// muxedFeed builds video at frameDur with a keyframe every gop from start
// for d, and AAC (1024 samples at 48 kHz) from start+phase. lead(i) is how far
// ahead of its PTS audio frame i arrives relative to video (negative: it
// lags); audio frames still arrive in PTS order. whip instead writes, before
// each video unit, the audio up to the first frame with PTS at or after that
// unit's (the WHIP ingest order: audio ahead by up to a video and an audio
// frame).
func muxedFeed(t *testing.T, start, phase, d, frameDur, gop time.Duration, whip bool, lead func(i int) time.Duration) []muxedUnit {
	params := testH264(t)
	aDur := time.Second * 1024 / 48000
	key := [][]byte{params.SPS, params.PPS, append([]byte{0x65}, make([]byte, 1500)...)}
	delta := [][]byte{append([]byte{0x41}, make([]byte, 500)...)}
	frame := make([]byte, 300)
	gopFrames := int(gop / frameDur)
	var vs, as []muxedUnit
	for i := 0; time.Duration(i)*frameDur < d; i++ {
		vt := start + time.Duration(i)*frameDur
		u := &VideoUnit{DTS: vt, PTS: vt, Wall: testWall.Add(vt), Key: i%gopFrames == 0, NALUs: delta}
		if u.Key {
			u.NALUs = key
		}
		vs = append(vs, muxedUnit{arrive: vt, video: u})
	}
	for i := 0; time.Duration(i)*aDur+phase < d+frameDur; i++ {
		at := start + phase + time.Duration(i)*aDur
		u := &AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: frame}
		arrive := at
		if lead != nil {
			arrive -= lead(i)
		}
		if len(as) > 0 {
			arrive = max(arrive, as[len(as)-1].arrive)
		}
		as = append(as, muxedUnit{arrive: arrive, audio: u})
	}
	var out []muxedUnit
	if whip {
		ai := 0
		for _, v := range vs {
			for ai < len(as) {
				out = append(out, as[ai])
				ai++
				if as[ai-1].audio.PTS >= v.video.DTS {
					break
				}
			}
			out = append(out, v)
		}
		return append(out, as[ai:]...)
	}
	out = append(vs, as...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].arrive < out[j].arrive })
	return out
}

// In a muxed rendition every audio frame written lands in exactly one part,
// in order, whatever the arrival order of audio against video: the audio of
// consecutive parts and segments is contiguous (no hole, no overlap), and
// each segment's audio starts within one audio frame of its video, or, when
// audio arrives late, up to that delay before it.
func TestMuxedAudioContinuity(t *testing.T) {
	const aRate = 48000
	aFrame := time.Second * 1024 / aRate
	tests := []struct {
		name     string
		frameDur time.Duration
		whip     bool
		lead     func(i int) time.Duration
		lag      time.Duration // the most audio arrives late
	}{
		{"whip 20fps", time.Second / 20, true, nil, 0},
		{"20fps audio leads 70ms", time.Second / 20, false, func(int) time.Duration { return 70 * time.Millisecond }, 0},
		{"20fps audio leads 0-70ms", time.Second / 20, false, func(i int) time.Duration { return time.Duration(i*13%71) * time.Millisecond }, 0},
		{"20fps audio lags 300ms", time.Second / 20, false, func(int) time.Duration { return -300 * time.Millisecond }, 300 * time.Millisecond},
		{"20fps audio lags 0-300ms", time.Second / 20, false, func(i int) time.Duration { return -time.Duration(i*37%301) * time.Millisecond }, 300 * time.Millisecond},
		{"20fps audio lags 130ms", time.Second / 20, false, func(int) time.Duration { return -130 * time.Millisecond }, 130 * time.Millisecond},
		{"30fps interleaved", time.Second / 30, false, nil, 0},
		{"whip 30fps", time.Second / 30, true, nil, 0},
	}
	for _, tt := range tests {
		for _, c := range []struct{ start, phase time.Duration }{
			{0, 0},
			{10*time.Second + 7*time.Millisecond, 0},
			{0, 13 * time.Millisecond},
			{3 * time.Second, -15 * time.Millisecond},
		} {
			start := c.start
			t.Run(fmt.Sprintf("%s start %v phase %v", tt.name, start, c.phase), func(t *testing.T) {
				m, err := NewMuxer(MuxerConfig{TargetDuration: 10 * time.Second}) // every segment lists its parts
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				r, err := m.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC()})
				if err != nil {
					t.Fatal(err)
				}
				written := 0
				for _, u := range muxedFeed(t, start, c.phase, 13*time.Second, tt.frameDur, 2*time.Second, tt.whip, tt.lead) {
					if u.video != nil {
						err = r.WriteVideo(*u.video)
					} else {
						err = r.WriteAudio(*u.audio)
						written++
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
				var aNext uint64 // end of the audio so far, audio ticks
				var vNext uint64 // end of the video so far, video ticks
				haveA := false
				frames := 0
				for i, s := range pl.segments {
					_, _, seg := get(t, m, "av/"+s.uri)
					// the parts, concatenated, are the segment
					var cat []byte
					for _, p := range s.parts {
						code, _, b := get(t, m, "av/"+p.uri)
						if code != 200 {
							t.Fatalf("segment %d: GET %s: %d", i, p.uri, code)
						}
						cat = append(cat, b...)
					}
					if string(cat) != string(seg) {
						t.Fatalf("segment %d: parts are not the segment", i)
					}
					segV, segA := int64(-1), int64(-1)
					for _, tr := range parseTrafs(t, seg) {
						var sum uint64
						for _, d := range tr.durations {
							sum += uint64(d)
						}
						switch tr.track {
						case 1:
							if vNext != 0 && tr.baseTime != vNext {
								t.Fatalf("segment %d: video starts at %d, previous ended at %d", i, tr.baseTime, vNext)
							}
							if segV < 0 {
								segV = int64(tr.baseTime)
							}
							vNext = tr.baseTime + sum
						case 2:
							if len(tr.durations) == 0 {
								continue
							}
							if haveA && tr.baseTime != aNext {
								t.Fatalf("segment %d: audio starts at %v, previous audio ended at %v (%+v)",
									i, fromTicks(int64(tr.baseTime), aRate), fromTicks(int64(aNext), aRate),
									fromTicks(int64(tr.baseTime)-int64(aNext), aRate))
							}
							if segA < 0 {
								segA = int64(tr.baseTime)
							}
							aNext = tr.baseTime + sum
							haveA = true
							frames += len(tr.durations)
							for _, d := range tr.durations {
								if d != 1024 {
									t.Fatalf("segment %d: audio sample of %d ticks", i, d)
								}
							}
						}
					}
					if segV < 0 || segA < 0 {
						t.Fatalf("segment %d: video at %d, audio at %d", i, segV, segA)
					}
					vs, as := fromTicks(segV, videoTimescale), fromTicks(segA, aRate)
					if d := as - vs; d <= -aFrame-tt.lag || d >= aFrame {
						t.Fatalf("segment %d: audio starts at %v, video at %v", i, as, vs)
					}
				}
				if d := fromTicks(int64(aNext), aRate) - fromTicks(int64(vNext), videoTimescale); d <= -aFrame || d >= aFrame {
					t.Fatalf("audio ends at %v, video at %v", fromTicks(int64(aNext), aRate), fromTicks(int64(vNext), videoTimescale))
				}
				// frames before the first keyframe and after the last video
				// frame have no segment; every other frame has one
				if frames < written-int(600*time.Millisecond/aFrame) {
					t.Fatalf("%d of %d audio frames in segments", frames, written)
				}
			})
		}
	}
}

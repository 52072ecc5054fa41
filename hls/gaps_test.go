package hls

import (
	"testing"
	"time"
)

// feedPair writes video to rv and audio (AAC 48 kHz, 300-byte frames) to ra,
// interleaved in time order, from start for d; audioLead starts the audio
// that much before the video.
func feedPair(t *testing.T, rv, ra *Rendition, start, d, audioLead time.Duration) (audioFrames int) {
	t.Helper()
	params := testH264(t)
	fd := time.Second / 30
	aDur := time.Second * 1024 / 48000
	frame := make([]byte, 300)
	key := [][]byte{params.SPS, params.PPS, append([]byte{0x65}, make([]byte, 1500)...)}
	delta := [][]byte{append([]byte{0x41}, make([]byte, 500)...)}
	vi, ai := 0, 0
	for {
		vt := start + audioLead + time.Duration(vi)*fd
		at := start + time.Duration(ai)*aDur
		if min(vt, at) >= start+d {
			return audioFrames
		}
		if vt <= at {
			u := VideoUnit{DTS: vt, PTS: vt, Wall: testWall.Add(vt), Key: vi%30 == 0, NALUs: delta}
			if u.Key {
				u.NALUs = key
			}
			if err := rv.WriteVideo(u); err != nil {
				t.Fatal(err)
			}
			vi++
		} else {
			if err := ra.WriteAudio(AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: frame}); err != nil {
				t.Fatal(err)
			}
			ai++
			audioFrames++
		}
	}
}

// An audio-only rendition next to a video rendition keeps the audio that
// arrives before the video has fixed PART-TARGET.
func TestAudioRenditionBeforeVideo(t *testing.T) {
	m, _ := NewMuxer(MuxerConfig{})
	defer m.Close()
	rv, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	ra, _ := m.AddRendition(RenditionConfig{Name: "a", Audio: testAAC()})
	n := feedPair(t, rv, ra, 0, 6*time.Second, 700*time.Millisecond)
	m.End()
	pl := getPlaylist(t, m, "a/media.m3u8")
	checkMedia(t, m, "a", pl, []string{"v"}, false)
	samples := 0
	for _, s := range pl.segments {
		_, _, body := get(t, m, "a/"+s.uri)
		samples += parseFragments(body).samples[1]
	}
	if samples != n {
		t.Fatalf("audio rendition holds %d of %d frames", samples, n)
	}
	if pt := m.PartTarget(); pt != 205*time.Millisecond && pt != 204*time.Millisecond {
		t.Fatalf("PART-TARGET %v, want it fitted to 30 fps video", pt)
	}
}

// After a timestamp reset a separate audio rendition stays on the video's
// timeline: the same input time maps to the same decode time in both.
func TestAudioRenditionResetSync(t *testing.T) {
	for _, lead := range []time.Duration{0, 10 * time.Millisecond, 25 * time.Millisecond} {
		m, _ := NewMuxer(MuxerConfig{})
		rv, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
		ra, _ := m.AddRendition(RenditionConfig{Name: "a", Audio: testAAC()})
		feedPair(t, rv, ra, 0, 4*time.Second+50*time.Millisecond, 0)
		// the publisher reconnects: timestamps start again near 0
		feedPair(t, rv, ra, time.Second, 4*time.Second, lead)
		m.mu.Lock()
		vOff, aOff := rv.offset, ra.offset
		m.mu.Unlock()
		if vOff != aOff {
			t.Fatalf("lead %v: video offset %v, audio offset %v: the renditions drift %v apart", lead, vOff, aOff, vOff-aOff)
		}
		checkMedia(t, m, "v", getPlaylist(t, m, "v/media.m3u8"), []string{"a"}, true)
		checkMedia(t, m, "a", getPlaylist(t, m, "a/media.m3u8"), []string{"v"}, false)
		m.Close()
	}
}

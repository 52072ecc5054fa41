package hls

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestAACSilentFrame: the frames are what ISO/IEC 14496-3 lays out, and
// ffmpeg decodes an ADTS stream of them to silence without errors.
func TestAACSilentFrame(t *testing.T) {
	if f := aacSilentFrame(1); !bytes.Equal(f, []byte{0x00, 0xc8, 0x00, 0x07}) {
		t.Errorf("mono: % x", f)
	}
	if f := aacSilentFrame(6); f != nil {
		t.Errorf("5.1: % x, want nil", f)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	for _, ch := range []int{1, 2} {
		frame := aacSilentFrame(ch)
		var adts []byte
		for i := 0; i < 20; i++ {
			n := 7 + len(frame)
			// ADTS header (ISO/IEC 13818-7 §6.2): AAC LC, 48 kHz, ch channels
			adts = append(adts, 0xFF, 0xF1, 0x01<<6|3<<2|byte(ch>>2), byte(ch&3)<<6|byte(n>>11),
				byte(n>>3), byte(n&7)<<5|0x1F, 0xFC)
			adts = append(adts, frame...)
		}
		in := filepath.Join(t.TempDir(), "s.aac")
		if err := os.WriteFile(in, adts, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", in, "-f", "s16le", "-").Output()
		if err != nil {
			t.Fatalf("%d channels: ffmpeg: %v", ch, err)
		}
		if len(out) != 20*1024*2*ch {
			t.Errorf("%d channels: %d bytes of PCM, want %d", ch, len(out), 20*1024*2*ch)
		}
		for _, b := range out {
			if b != 0 {
				t.Fatalf("%d channels: not silent", ch)
			}
		}
	}
}

// A muxed rendition whose audio resumes after a hole later than its video
// (a restarted transcoder's encoder) starts the segment behind the
// discontinuity with silence, so that its audio begins within one frame of
// the video, not a player-visible hole later.
func TestMuxedHoleAudioStartsWithVideo(t *testing.T) {
	for _, lag := range []time.Duration{0, 115 * time.Millisecond, 150 * time.Millisecond} {
		t.Run(fmt.Sprint(lag), func(t *testing.T) {
			m, _ := NewMuxer(MuxerConfig{})
			defer m.Close()
			r, _ := m.AddRendition(RenditionConfig{Name: "av", Video: testH264(t), Audio: testAAC()})
			params := testH264(t)
			key := [][]byte{params.SPS, params.PPS, append([]byte{0x65}, make([]byte, 1500)...)}
			delta := [][]byte{append([]byte{0x41}, make([]byte, 500)...)}
			fd, aDur := time.Second/30, time.Second*1024/48000
			holeAt, holeEnd := 165*fd, 195*fd
			ai := 0
			for i := 0; i < 300; i++ {
				ts := time.Duration(i) * fd
				for ; time.Duration(ai)*aDur <= ts; ai++ {
					at := time.Duration(ai) * aDur
					if at >= holeAt && at < holeEnd+lag {
						continue
					}
					if err := r.WriteAudio(AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: make([]byte, 300)}); err != nil {
						t.Fatal(err)
					}
				}
				if ts >= holeAt && ts < holeEnd {
					continue
				}
				k := ts < holeAt && i%60 == 0 || ts >= holeEnd && (i-195)%60 == 0
				u := VideoUnit{DTS: ts, PTS: ts, Wall: testWall.Add(ts), Key: k, NALUs: delta}
				if k {
					u.NALUs = key
				}
				if err := r.WriteVideo(u); err != nil {
					t.Fatal(err)
				}
			}
			pl := getPlaylist(t, m, "av/media.m3u8")
			checkMedia(t, m, "av", pl, nil, true)
			found := false
			for _, s := range pl.segments {
				if !s.disc {
					continue
				}
				found = true
				_, _, b := get(t, m, "av/"+s.parts[0].uri)
				var v, a float64 = -1, -1
				for _, tr := range parseTrafs(t, b) {
					if tr.track == 1 {
						v = float64(tr.baseTime) / videoTimescale
					} else if len(tr.durations) > 0 {
						a = float64(tr.baseTime) / 48000
					}
				}
				if a < 0 || v < 0 || math.Abs(a-v) >= aDur.Seconds() {
					t.Errorf("after the hole: video starts at %.4f s, audio at %.4f s", v, a)
				}
			}
			if !found {
				t.Fatal("no discontinuity")
			}
		})
	}
}

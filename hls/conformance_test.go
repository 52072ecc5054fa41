package hls

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkMedia checks the playlist rules of the issue (RFC 8216bis §4.4.3.7,
// §4.4.3.8, §4.4.4.9, §4.4.5.1-2, §6.2.5.2) on one served media playlist.
func checkMedia(t *testing.T, m *Muxer, name string, pl *playlist, others []string, video bool) {
	t.Helper()
	td := m.TargetDuration()
	pt := m.PartTarget().Seconds()
	if pl.targetDuration != int64(td/time.Second) {
		t.Fatalf("%s: TARGETDURATION %d", name, pl.targetDuration)
	}
	// rule 4
	sc := pl.serverControl
	f := func(k string) float64 {
		v, err := strconv.ParseFloat(sc[k], 64)
		if err != nil {
			t.Fatalf("%s: SERVER-CONTROL %s=%q", name, k, sc[k])
		}
		return v
	}
	if sc["CAN-BLOCK-RELOAD"] != "YES" {
		t.Fatalf("%s: no CAN-BLOCK-RELOAD", name)
	}
	if f("PART-HOLD-BACK") < 3*pl.partTarget-1e-9 || f("HOLD-BACK") < 3*float64(pl.targetDuration) ||
		f("CAN-SKIP-UNTIL") < 6*float64(pl.targetDuration) {
		t.Fatalf("%s: SERVER-CONTROL %v", name, sc)
	}
	// rule 1
	hasParts := false
	for _, s := range pl.segments {
		hasParts = hasParts || len(s.parts) > 0
	}
	if hasParts && math.Abs(pl.partTarget-pt) > 1e-9 {
		t.Fatalf("%s: PART-TARGET %v want %v", name, pl.partTarget, pt)
	}
	// rules 2, 3 (the parser rejects tags after EXT-X-PART), 7
	var total float64
	for i, s := range pl.segments {
		if s.mapURI == "" {
			t.Fatalf("%s: segment %d without EXT-X-MAP", name, i)
		}
		if s.pdt.IsZero() {
			t.Fatalf("%s: segment %d without PROGRAM-DATE-TIME", name, i)
		}
		// §4.4.3.1: the EXTINF rounded to the nearest integer
		if s.uri != "" && int64(math.Round(s.dur)) > pl.targetDuration {
			t.Fatalf("%s: segment %d EXTINF %v rounds above target %d", name, i, s.dur, pl.targetDuration)
		}
		var sum float64
		for j, p := range s.parts {
			sum += p.dur
			if p.dur > pl.partTarget+1e-9 {
				t.Fatalf("%s: part %s %v > PART-TARGET %v", name, p.uri, p.dur, pl.partTarget)
			}
			last := j == len(s.parts)-1
			if !last && p.dur < 0.85*pl.partTarget {
				t.Fatalf("%s: part %s %v < 85%% of PART-TARGET %v", name, p.uri, p.dur, pl.partTarget)
			}
			if j == 0 && !p.independent && (pl.independent || s.disc || pl.mediaSeq+int64(i) == 0) {
				t.Fatalf("%s: first part of a segment not INDEPENDENT", name)
			}
			code, hdr, body := get(t, m, name+"/"+strings.Split(p.uri, "?")[0])
			if code != 200 {
				t.Fatalf("%s: part %s: %d", name, p.uri, code)
			}
			want := "audio/mp4"
			if video {
				want = "video/mp4"
			}
			if hdr.Get("Content-Type") != want || !strings.Contains(hdr.Get("Cache-Control"), "max-age") {
				t.Fatalf("%s: part headers %v", name, hdr)
			}
			fi := parseFragments(body)
			if !fi.ok || fi.fragments != 1 {
				t.Fatalf("%s: part %s does not parse", name, p.uri)
			}
			if fi.firstSync[1] != p.independent {
				t.Fatalf("%s: part %s INDEPENDENT=%v, first sample sync=%v", name, p.uri, p.independent, fi.firstSync[1])
			}
		}
		if s.uri != "" {
			total += s.dur
			if len(s.parts) > 0 && math.Abs(sum-s.dur) > 1e-4*float64(len(s.parts)+1) {
				t.Fatalf("%s: segment %s EXTINF %v != sum of parts %v", name, s.uri, s.dur, sum)
			}
			code, _, body := get(t, m, name+"/"+s.uri)
			if code != 200 {
				t.Fatalf("%s: segment %s: %d", name, s.uri, code)
			}
			// a segment starts on a key frame, unless the GOP ran past the
			// longest segment: then it continues the previous one and the
			// playlist does not declare EXT-X-INDEPENDENT-SEGMENTS
			if fi := parseFragments(body); !fi.ok || !fi.firstSync[1] && (pl.independent || s.disc || pl.mediaSeq+int64(i) == 0) {
				t.Fatalf("%s: segment %s does not start with a sync sample", name, s.uri)
			}
		}
		if i > 0 && !s.disc && !pl.segments[i-1].pdt.IsZero() && pl.segments[i-1].uri != "" {
			gap := s.pdt.Sub(pl.segments[i-1].pdt).Seconds() - pl.segments[i-1].dur
			if math.Abs(gap) > 0.05 {
				t.Fatalf("%s: PROGRAM-DATE-TIME of segment %d off by %vs", name, i, gap)
			}
		}
	}
	// parts only for the last 3 target durations
	var fromEnd float64
	for i := len(pl.segments) - 1; i >= 0; i-- {
		s := pl.segments[i]
		if fromEnd > 3*float64(pl.targetDuration)+1e-6 && len(s.parts) > 0 {
			t.Fatalf("%s: parts listed for segment %d, %vs from the end", name, i, fromEnd)
		}
		for _, p := range s.parts {
			fromEnd += p.dur
		}
		if len(s.parts) == 0 {
			fromEnd += s.dur
		}
	}
	// rule 5 and 9
	if pl.endlist {
		if pl.preloadHint != nil {
			t.Fatalf("%s: preload hint after ENDLIST", name)
		}
	} else if pl.preloadHint["TYPE"] != "PART" || pl.preloadHint["URI"] == "" {
		t.Fatalf("%s: preload hint %v", name, pl.preloadHint)
	}
	// rule 6
	if len(pl.reports) != len(others) {
		t.Fatalf("%s: %d rendition reports, want %d", name, len(pl.reports), len(others))
	}
	for i, o := range others {
		if !strings.HasPrefix(pl.reports[i].uri, "../"+o+"/media.m3u8") {
			t.Fatalf("%s: report %v", name, pl.reports[i])
		}
	}
	_ = total
}

type confCase struct {
	name     string
	frameDur time.Duration
	gop      time.Duration
	bframes  bool
	audio    bool
	video    bool
}

func TestConformance(t *testing.T) {
	fps := map[string]time.Duration{
		"30":    time.Second / 30,
		"29.97": time.Second * 1001 / 30000,
		"25":    time.Second / 25,
		"60":    time.Second / 60,
	}
	var cases []confCase
	for _, f := range []string{"30", "29.97", "25", "60"} {
		for _, gop := range []time.Duration{time.Second, 2 * time.Second, 8 * time.Second} {
			cases = append(cases, confCase{
				name: fmt.Sprintf("%sfps_gop%v", f, gop), frameDur: fps[f], gop: gop,
				bframes: gop != time.Second, audio: gop == 2*time.Second, video: true,
			})
		}
	}
	cases = append(cases, confCase{name: "audio_only", audio: true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewMuxer(MuxerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			rc := RenditionConfig{Name: "main"}
			if tc.video {
				rc.Video = testH264(t)
			}
			if tc.audio {
				rc.Audio = testAAC()
			}
			r, err := m.AddRendition(rc)
			if err != nil {
				t.Fatal(err)
			}
			// a second, video-only rendition for rendition reports
			var r2 *Rendition
			if tc.video {
				r2, _ = m.AddRendition(RenditionConfig{Name: "low", Video: testH264(t)})
			}
			sp := feedSpec{frameDur: tc.frameDur, gop: tc.gop, bframes: tc.bframes, audio: tc.audio, duration: 50 * time.Second}
			feed(t, r, sp, testH264(t))
			if r2 != nil {
				feed(t, r2, feedSpec{frameDur: tc.frameDur, gop: tc.gop, duration: 50 * time.Second}, testH264(t))
			}
			names := []string{"main"}
			if r2 != nil {
				names = append(names, "low")
			}
			var first *playlist
			for i, n := range names {
				others := append(append([]string{}, names[:i]...), names[i+1:]...)
				pl := getPlaylist(t, m, n+"/media.m3u8?token=abc")
				checkMedia(t, m, n, pl, others, tc.video)
				if first == nil {
					first = pl
				} else if fmt.Sprint(first.serverControl) != fmt.Sprint(pl.serverControl) || first.targetDuration != pl.targetDuration {
					t.Fatalf("SERVER-CONTROL/TARGETDURATION differ between renditions")
				}
				if tc.video {
					want := max(2*time.Second, tc.gop).Seconds()
					for _, s := range pl.segments[:len(pl.segments)-1] {
						if s.uri != "" && math.Abs(s.dur-want) > 0.02 {
							t.Fatalf("segment %s lasts %v, want %v", s.uri, s.dur, want)
						}
					}
				}
				var listed float64
				for _, s := range pl.segments {
					listed += s.dur
					if s.uri != "" && !strings.HasSuffix(s.uri, "?token=abc") {
						t.Fatalf("query not carried: %s", s.uri)
					}
				}
				if listed < 3*float64(pl.targetDuration) {
					t.Fatalf("only %vs of segments listed", listed)
				}
				if tc.bframes {
					code, _, body := get(t, m, n+"/"+strings.Split(pl.segments[0].uri, "?")[0])
					if fi := parseFragments(body); code != 200 || !fi.trunV1 {
						t.Fatalf("%s: trun not version 1 (HTTP %d)", pl.segments[0].uri, code)
					}
				}
			}
			// rule 8
			mv := getPlaylist(t, m, "index.m3u8?token=abc")
			if len(mv.streams) != len(names) {
				t.Fatalf("%d variants", len(mv.streams))
			}
			for _, s := range mv.streams {
				for _, k := range []string{"BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS"} {
					if s.attrs[k] == "" {
						t.Fatalf("variant without %s: %v", k, s.attrs)
					}
				}
				if tc.video {
					if s.attrs["RESOLUTION"] != "320x240" || s.attrs["FRAME-RATE"] == "" || !strings.HasPrefix(s.attrs["CODECS"], "avc1.64000d") {
						t.Fatalf("variant %v", s.attrs)
					}
					fr, _ := strconv.ParseFloat(s.attrs["FRAME-RATE"], 64)
					if want := float64(time.Second) / float64(tc.frameDur); math.Abs(fr-want) > 0.05 {
						t.Fatalf("FRAME-RATE %v want %v", fr, want)
					}
				}
				if tc.audio && s.uri == "main/media.m3u8?token=abc" && !strings.Contains(s.attrs["CODECS"], "mp4a.40.2") {
					t.Fatalf("variant %v", s.attrs)
				}
			}
			// rule 9
			m.End()
			pl := getPlaylist(t, m, "main/media.m3u8?_HLS_msn=100000&_HLS_part=3")
			if !pl.endlist || pl.preloadHint != nil {
				t.Fatal("no ENDLIST after End")
			}
			checkMedia(t, m, "main", pl, names[1:], tc.video)
		})
	}
}

func TestPartTarget(t *testing.T) {
	for _, tc := range []struct {
		frame time.Duration
		want  time.Duration
	}{
		{time.Second / 30, 204 * time.Millisecond},
		{time.Second * 1001 / 30000, 205 * time.Millisecond},
		{time.Second / 25, 204 * time.Millisecond},
		{time.Second / 60, 204 * time.Millisecond},
		{time.Second * 1024 / 48000, 196 * time.Millisecond},
	} {
		m, _ := NewMuxer(MuxerConfig{})
		m.decidePartTargetLocked(tc.frame)
		if m.partTarget != tc.want {
			t.Errorf("frame %v: PART-TARGET %v want %v", tc.frame, m.partTarget, tc.want)
		}
		m.Close()
	}
}

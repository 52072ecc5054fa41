package upload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func probeJSON(streams string, dur string) []byte {
	return []byte(`{"streams":[` + streams + `],"format":{"duration":"` + dur + `","format_name":"mov,mp4"}}`)
}

const (
	h264Stream = `{"codec_type":"video","codec_name":"h264","width":1280,"height":720,"pix_fmt":"yuv420p","avg_frame_rate":"30/1"}`
	aacStream  = `{"codec_type":"audio","codec_name":"aac"}`
)

func TestParseProbe(t *testing.T) {
	cases := []struct {
		name      string
		in        []byte
		maxDur    time.Duration
		code      string
		copyVideo bool
		copyAudio bool
		w, h      int
	}{
		{"h264_aac", probeJSON(h264Stream+","+aacStream, "60.0"), 0, "", true, true, 1280, 720},
		{"hevc_4k_scaled_down", probeJSON(`{"codec_type":"video","codec_name":"hevc","width":3840,"height":2160,"pix_fmt":"yuv420p10le","avg_frame_rate":"60/1"},`+aacStream, "10"), 0, "", false, true, 1920, 1080},
		{"portrait_rotated", probeJSON(`{"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"pix_fmt":"yuv420p","side_data_list":[{"rotation":-90}]}`, "10"), 0, "", false, false, 1080, 1920},
		{"small_never_upscaled", probeJSON(`{"codec_type":"video","codec_name":"vp9","width":321,"height":241}`, "3"), 0, "", false, false, 320, 240},
		{"hdr_reencoded", probeJSON(`{"codec_type":"video","codec_name":"h264","width":1280,"height":720,"pix_fmt":"yuv420p","color_transfer":"smpte2084"}`, "3"), 0, "", false, false, 1280, 720},
		{"opus_audio_reencoded", probeJSON(h264Stream+`,{"codec_type":"audio","codec_name":"opus"}`, "3"), 0, "", true, false, 1280, 720},
		{"audio_only", probeJSON(aacStream, "3"), 0, CodeNotAVideo, false, false, 0, 0},
		{"cover_art_only", probeJSON(`{"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,"disposition":{"attached_pic":1}},`+aacStream, "3"), 0, CodeNotAVideo, false, false, 0, 0},
		{"not_json", []byte("garbage"), 0, CodeNotAVideo, false, false, 0, 0},
		{"too_long", probeJSON(h264Stream, "601.5"), 10 * time.Minute, CodeDurationExceeded, false, false, 0, 0},
		{"tiny_picture", probeJSON(`{"codec_type":"video","codec_name":"h264","width":8,"height":8}`, "3"), 0, CodeCodecUnsupported, false, false, 0, 0},
		{"too_many_tracks", probeJSON(h264Stream+strings.Repeat(","+aacStream, 200), "3"), 0, CodeTooManyTracks, false, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProbe(tc.in, tc.maxDur, 0)
			if tc.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tc.code || r.Message == "" {
					t.Fatalf("err %v, want refusal %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.CopyVideo != tc.copyVideo || p.CopyAudio != tc.copyAudio || p.OutWidth != tc.w || p.OutHeight != tc.h {
				t.Fatalf("plan %+v", p)
			}
			if p.Units() <= 0 {
				t.Fatalf("units %v", p.Units())
			}
		})
	}
}

func TestParseOutput(t *testing.T) {
	pl := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000000,\nseg0.m4s\n#EXTINF:2.5,\nseg1.m4s\n#EXT-X-ENDLIST\n"
	init, segs, err := parseOutput([]byte(pl))
	if err != nil || init != "init.mp4" || len(segs) != 2 || segs[1].File != "seg1.m4s" || segs[1].Duration != 2500*time.Millisecond {
		t.Fatalf("%q %+v %v", init, segs, err)
	}
	for _, bad := range []string{
		"#EXTM3U\n#EXTINF:4,\nseg0.m4s\n",                                 // no map
		"#EXTM3U\n#EXT-X-MAP:URI=\"../init.mp4\"\n#EXTINF:4,\nseg0.m4s\n", // a path
		"#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4,\n/etc/passwd\n", // a path
		"#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\nseg0.m4s\n",                // no EXTINF
		"#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:x,\nseg0.m4s\n",    // bad EXTINF
	} {
		if _, _, err := parseOutput([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParseProbe: ffprobe's output describes an untrusted file; no input
// panics, and an accepted plan has even output dimensions within bounds.
func FuzzParseProbe(f *testing.F) {
	for _, s := range [][]byte{probeJSON(h264Stream+","+aacStream, "60"), probeJSON(`{"codec_type":"video","codec_name":"hevc","width":4095,"height":17,"tags":{"rotate":"90"}}`, "x")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProbe(b, time.Hour, 0)
		if err != nil {
			return
		}
		if p.OutWidth%2 != 0 || p.OutHeight%2 != 0 || p.OutWidth <= 0 || p.OutHeight <= 0 || p.OutWidth > maxDimension || p.OutHeight > maxDimension {
			t.Fatalf("plan %+v", p)
		}
		_ = p.FFmpegArgs("in", "out")
	})
}

// FuzzParseOutput: every file name accepted is a plain name.
func FuzzParseOutput(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg0.m4s\n#EXT-X-ENDLIST\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		init, segs, err := parseOutput(b)
		if err != nil {
			return
		}
		for _, n := range append([]string{init}, func() []string {
			var out []string
			for _, s := range segs {
				out = append(out, s.File)
			}
			return out
		}()...) {
			if filepath.Base(n) != n || n == ".." || strings.ContainsAny(n, "/\\") {
				t.Fatalf("accepted name %q", n)
			}
		}
	})
}

// TestSeedCorpusPresent keeps the committed fuzz corpus in place.
func TestSeedCorpusPresent(t *testing.T) {
	for _, d := range []string{"testdata/fuzz/FuzzParseProbe", "testdata/fuzz/FuzzParseOutput", "testdata/fuzz/FuzzParseMasterCodecs"} {
		if es, err := os.ReadDir(d); err != nil || len(es) == 0 {
			t.Errorf("%s: %v", d, err)
		}
	}
}

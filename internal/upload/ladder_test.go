package upload

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// defaultProfiles are conf's default transcode.profiles.
var defaultProfiles = []transcode.Profile{
	{Name: "1080p", Height: 1080, Bitrate: 5_000_000, MaxFPS: 60, Codec: "h264"},
	{Name: "720p", Height: 720, Bitrate: 3_000_000, MaxFPS: 60, Codec: "h264"},
	{Name: "480p", Height: 480, Bitrate: 1_200_000, MaxFPS: 30, Codec: "h264"},
	{Name: "360p", Height: 360, Bitrate: 700_000, MaxFPS: 30, Codec: "hevc"},
}

func TestPlanLadder(t *testing.T) {
	cases := []struct {
		name   string
		stream string
		want   string // name:WxH@fps...; "" = one rendition
	}{
		{"720p30", h264Stream, "720p:1280x720@0 480p:854x480@0 360p:640x360@0"},
		{"1080p60", `{"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"pix_fmt":"yuv420p","avg_frame_rate":"60/1"}`,
			"1080p:1920x1080@0 720p:1280x720@0 480p:854x480@30 360p:640x360@30"},
		{"4k is at most 1080p", `{"codec_type":"video","codec_name":"hevc","width":3840,"height":2160,"pix_fmt":"yuv420p10le","avg_frame_rate":"30/1"}`,
			"1080p:1920x1080@0 720p:1280x720@0 480p:854x480@0 360p:640x360@0"},
		{"between profiles: a source rung on top", `{"codec_type":"video","codec_name":"h264","width":1000,"height":540,"pix_fmt":"yuv420p","avg_frame_rate":"25/1"}`,
			"source:1000x540@0 480p:890x480@0 360p:668x360@0"},
		{"portrait", `{"codec_type":"video","codec_name":"h264","width":720,"height":1280,"pix_fmt":"yuv420p","avg_frame_rate":"30/1"}`,
			"720p:720x1280@0 480p:480x854@0 360p:360x640@0"},
		{"below every profile", `{"codec_type":"video","codec_name":"h264","width":320,"height":240,"pix_fmt":"yuv420p","avg_frame_rate":"30/1"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProbe(probeJSON(tc.stream+","+aacStream, "60"), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			p.PlanLadder(defaultProfiles)
			var got []string
			for _, r := range p.Rungs {
				got = append(got, fmt.Sprintf("%s:%dx%d@%d", r.Name, r.Width, r.Height, r.FPS))
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("rungs %q, want %q", strings.Join(got, " "), tc.want)
			}
			if tc.want == "" {
				return
			}
			if p.CopyVideo || p.OutWidth != p.Rungs[0].Width || len(p.Tracks()) != len(p.Rungs)+1 || p.Units() <= 0 {
				t.Fatalf("plan %+v", p)
			}
			args := strings.Join(p.FFmpegArgs("in", "out"), " ")
			if !strings.Contains(args, "-var_stream_map v:0,a:0,name:"+p.Rungs[0].Name) || !strings.Contains(args, "expr:gte(t,n_forced*4)") {
				t.Fatalf("args %s", args)
			}
		})
	}
}

func TestParseMasterCodecs(t *testing.T) {
	m := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=3376187,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=846187,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n"
	got, err := parseMasterCodecs([]byte(m))
	if err != nil || got["720p/index.m3u8"] != "avc1.64001f,mp4a.40.2" || got["360p/index.m3u8"] != "avc1.64001e,mp4a.40.2" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := parseMasterCodecs([]byte("#EXTM3U\nx/index.m3u8\n")); err == nil {
		t.Fatal("a URI without EXT-X-STREAM-INF accepted")
	}
}

// FuzzParseMasterCodecs: no input panics, and no codecs string accepted
// could break out of a quoted attribute.
func FuzzParseMasterCodecs(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMasterCodecs(b)
		if err != nil {
			return
		}
		for _, c := range m {
			if strings.ContainsAny(c, "\"\r\n") {
				t.Fatalf("codecs %q", c)
			}
		}
	})
}

// TestLadderUpload: a 720p file becomes an adaptive VOD of 720p, 480p and
// 360p (nothing above the source), in one ffmpeg run: a multivariant
// playlist, each rung's media playlist and files decoding, key frames at
// the same instants in every rung, and the best rung in the index.
func TestLadderUpload(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Ladder = defaultProfiles })
	in := media(t, 9, "1280x720", "libx264", true, "mp4")
	fh, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	v, err := f.svc.CreatePlain(t.Context(), fh, Options{Name: "in.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	got := f.waitStatus(t, v.ID, 5*time.Minute)
	if got.Status != store.VideoReady {
		t.Fatalf("status %s (%s: %s)", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	f.checkPlays(t, got, 8*time.Second) // the index: the best rung, with audio
	if len(got.Tracks) != 4 || got.Tracks[0].Height != 720 || got.Tracks[1].Height != 480 || got.Tracks[2].Height != 360 ||
		got.Tracks[3].Kind != "audio" || got.Tracks[0].BitrateBPS <= got.Tracks[2].BitrateBPS {
		t.Fatalf("tracks %+v", got.Tracks)
	}
	mv, err := readBlob(t, f.blobs, record.Prefix(v.ID)+record.PlaylistName)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RESOLUTION=1280x720", `CODECS="avc1.`, "720p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"} {
		if !bytes.Contains(mv, []byte(want)) {
			t.Fatalf("multivariant playlist without %s:\n%s", want, mv)
		}
	}
	if bytes.Contains(mv, []byte("1080p")) {
		t.Fatalf("upscaled:\n%s", mv)
	}
	var keys []string
	for _, rung := range []string{"720p", "480p", "360p"} {
		pl, err := readBlob(t, f.blobs, record.RenditionKey(v.ID, rung, record.PlaylistName))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) || !bytes.Contains(pl, []byte(`#EXT-X-MAP:URI="init0.mp4"`)) {
			t.Fatalf("%s playlist:\n%s", rung, pl)
		}
		// init + segments concatenated: decodes, and its key frames
		var all bytes.Buffer
		b, err := readBlob(t, f.blobs, record.RenditionKey(v.ID, rung, "init0.mp4"))
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		for i := 0; ; i++ {
			b, err := readBlob(t, f.blobs, record.RenditionKey(v.ID, rung, fmt.Sprintf("seg%d.m4s", i)))
			if err != nil {
				if i < 3 {
					t.Fatalf("%s seg%d: %v", rung, i, err)
				}
				break
			}
			all.Write(b)
		}
		p := filepath.Join(t.TempDir(), rung+".mp4")
		if err := os.WriteFile(p, all.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
			"-of", "csv=p=0", p).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", rung, err)
		}
		var kf []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			ts, flags, _ := strings.Cut(l, ",")
			if strings.Contains(flags, "K") {
				kf = append(kf, ts)
			}
		}
		keys = append(keys, strings.Join(kf, " "))
		if o, err := exec.Command("ffmpeg", "-v", "error", "-i", p, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(o)) > 0 {
			t.Fatalf("%s does not decode: %v\n%s", rung, err, o)
		}
	}
	if keys[0] != keys[1] || keys[0] != keys[2] || strings.Count(keys[0], " ") < 2 {
		t.Fatalf("key frames not aligned across rungs:\n%s", strings.Join(keys, "\n"))
	}
}

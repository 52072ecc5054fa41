package transcode

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenRungs is a 3-rung ladder for a 1080p60 source.
func goldenRungs(t *testing.T) []Rung {
	t.Helper()
	rungs, err := PlanLadder([]Profile{
		{Name: "720p", Height: 720, Bitrate: 3_000_000, MaxFPS: 60, Codec: "h264"},
		{Name: "480p", Height: 480, Bitrate: 1_200_000, MaxFPS: 30, Codec: "h264"},
		{Name: "360p", Height: 360, Bitrate: 700_000, MaxFPS: 30, Codec: "h264"},
	}, []string{"360p", "720p", "480p"}, 1920, 1080, 60)
	if err != nil || len(rungs) != 3 {
		t.Fatalf("PlanLadder = %v, %v", rungs, err)
	}
	return rungs
}

// TestArgsGolden compares the exact ffmpeg arguments built for every encoder
// family, with hardware decoding and with the software-decode fallback (an
// input codec the hardware does not decode), against testdata/golden.
// UPDATE_GOLDEN=1 rewrites the files.
func TestArgsGolden(t *testing.T) {
	rungs := goldenRungs(t)
	tests := []struct {
		name string
		job  Job
	}{
		{"nvenc_cuda", Job{Family: NVENC, InputCodec: "h264", AudioCodec: "aac"}},
		{"nvenc_npp", Job{Family: NVENC, InputCodec: "h264", AudioCodec: "aac", ScaleNPP: true}},
		{"nvenc_swdecode_av1", Job{Family: NVENC, InputCodec: "av1", AudioCodec: "opus"}},
		{"qsv", Job{Family: QSV, InputCodec: "h265", AudioCodec: "aac"}},
		{"qsv_swdecode_av1", Job{Family: QSV, InputCodec: "av1", AudioCodec: "aac"}},
		{"vaapi", Job{Family: VAAPI, InputCodec: "h264", AudioCodec: "aac", VAAPIDevice: "/dev/dri/renderD129"}},
		{"vaapi_swdecode_av1", Job{Family: VAAPI, InputCodec: "av1", AudioCodec: "opus"}},
		{"videotoolbox", Job{Family: VideoToolbox, InputCodec: "h264", AudioCodec: "aac"}},
		{"videotoolbox_swdecode_av1", Job{Family: VideoToolbox, InputCodec: "av1", AudioCodec: "aac"}},
		{"x264", Job{Family: X264, InputCodec: "h264", AudioCodec: "aac"}},
		{"x264_opus_noaudio", Job{Family: X264, InputCodec: "h264"}},
	}
	// HEVC rungs, per family
	hevc := append([]Rung(nil), rungs...)
	for i := range hevc {
		hevc[i].Codec = "hevc"
	}
	for _, f := range append(Families(), X264) {
		tests = append(tests, struct {
			name string
			job  Job
		}{"hevc_" + string(f), Job{Family: f, InputCodec: "h264", AudioCodec: "aac", Rungs: hevc}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.job.Rungs == nil {
				tt.job.Rungs = rungs
			}
			tt.job.GOP = 120
			got := strings.Join(Args(tt.job), "\n") + "\n"
			path := filepath.Join("testdata", "golden", tt.name+".args")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
			}
			if got != string(want) {
				t.Errorf("ffmpeg arguments differ from %s:\ngot:\n%s", path, got)
			}
		})
	}
}

// TestArgsInvariants checks what every family's command line must hold.
func TestArgsInvariants(t *testing.T) {
	rungs := goldenRungs(t)
	for _, f := range append(Families(), X264) {
		for _, in := range []string{"h264", "av1"} {
			a := strings.Join(Args(Job{Family: f, InputCodec: in, AudioCodec: "opus", Rungs: rungs}), " ")
			for _, want := range []string{"-copyts -f mpegts -i pipe:0", "-bf 0", "-force_key_frames source", "pipe:3", "pipe:4", "pipe:5", "-c:a aac -b:a 128k -ac 2", "-c:v " + f.Encoder("h264"),
				"-flags low_delay"} {
				if !strings.Contains(a, want) {
					t.Errorf("%s/%s: no %q in %s", f, in, want, a)
				}
			}
			// every rung without B-frames: WebRTC viewers of a source with
			// B-frames play the top rung (LL-HLS needs none either)
			if n := strings.Count(a, "-bf 0 "); n != len(rungs) {
				t.Errorf("%s/%s: -bf 0 on %d of %d rungs", f, in, n, len(rungs))
			}
			// no frame waits in the rung's MPEG-TS for the next one
			if n := strings.Count(a, "-omit_video_pes_length 0 -f mpegts pipe:"); n != len(rungs) {
				t.Errorf("%s/%s: video PES length on %d of %d rungs", f, in, n, len(rungs))
			}
			ft := strings.Join(Args(Job{Family: f, InputCodec: in, AudioCodec: "opus", Rungs: rungs, FrameThreads: true}), " ")
			if strings.Contains(ft, "-flags low_delay") || strings.Replace(a, "-flags low_delay ", "", 1) != ft {
				t.Errorf("%s/%s: FrameThreads should drop only -flags low_delay:\n%s\n%s", f, in, a, ft)
			}
			if hw := strings.Contains(a, "-hwaccel "); hw != (in == "h264" && f != X264) {
				t.Errorf("%s/%s: hardware decoding %v", f, in, hw)
			}
		}
	}
}

func TestPlanLadder(t *testing.T) {
	profiles := []Profile{
		{Name: "1080p", Height: 1080, Bitrate: 5e6, MaxFPS: 60, Codec: "h264"},
		{Name: "720p", Height: 720, Bitrate: 3e6, MaxFPS: 60, Codec: "h264"},
		{Name: "480p", Height: 480, Bitrate: 1.2e6, MaxFPS: 30, Codec: "h264"},
		{Name: "360p", Height: 360, Bitrate: 7e5, MaxFPS: 30, Codec: "h264"},
	}
	tests := []struct {
		name    string
		ladder  []string
		w, h    int
		fps     float64
		want    string // name:WxH@fps ...
		wantErr bool
	}{
		{"720p source skips 1080p", []string{"1080p", "720p", "480p", "360p"}, 1280, 720, 30, "720p:1280x720@0 480p:854x480@0 360p:640x360@0", false},
		{"never upscale", []string{"1080p", "720p"}, 640, 360, 30, "", false},
		{"sorted by height, deduplicated", []string{"360p", "480p", "360p"}, 1920, 1080, 30, "480p:854x480@0 360p:640x360@0", false},
		{"fps capped only above the max", []string{"720p", "480p"}, 1920, 1080, 60, "720p:1280x720@0 480p:854x480@30", false},
		{"4:3 source keeps its aspect", []string{"480p"}, 1024, 768, 25, "480p:640x480@0", false},
		{"odd width rounded to even", []string{"360p"}, 1366, 768, 30, "360p:640x360@0", false},
		{"unknown profile", []string{"4k"}, 1920, 1080, 30, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rungs, err := PlanLadder(profiles, tt.ladder, tt.w, tt.h, tt.fps)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, r := range rungs {
				got = append(got, fmt.Sprintf("%s:%dx%d@%d", r.Name, r.Width, r.Height, r.FPS))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("got %q, want %q", g, tt.want)
			}
		})
	}
}

func TestParseBitrate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{{"3000k", 3_000_000, false}, {"5M", 5_000_000, false}, {"1.5M", 1_500_000, false}, {"700000", 700_000, false}, {"fast", 0, true}, {"", 0, true}}
	for _, tt := range tests {
		got, err := ParseBitrate(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseBitrate(%q) = %d, %v", tt.in, got, err)
		}
	}
}

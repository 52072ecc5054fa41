package transcode

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const encodersSample = ` Encoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 .F.... = Frame-level multithreading
 ..S... = Slice-level multithreading
 ...X.. = Codec is experimental
 ....B. = Supports draw_horiz_band
 .....D = Supports direct rendering method 1
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V..... h264_qsv             H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (Intel Quick Sync Video acceleration) (codec h264)
 V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
`

func TestParseEncoders(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		not  []string
	}{
		{"debian sample", encodersSample, []string{"libx264", "h264_nvenc", "h264_qsv", "h264_vaapi"}, []string{"aac", "V.....", "h264_videotoolbox"}},
		{"legend only", " V..... = Video\n ------\n", nil, []string{"=", "Video"}},
		{"no legend", " V....D libx264 x\n", []string{"libx264"}, nil},
		{"garbage", "\x00\xff V\n------\nVV libx264\n", nil, []string{"libx264"}},
		{"empty", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseEncoders([]byte(tt.in))
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("%s missing from %v", w, got)
				}
			}
			for _, n := range tt.not {
				if got[n] {
					t.Errorf("%s wrongly listed", n)
				}
			}
		})
	}
}

func TestFFmpegReason(t *testing.T) {
	tests := []struct{ in, want string }{
		{"[h264_nvenc @ 0x55] Cannot load libcuda.so.1\nError initializing output stream 0:0 -- ...\n", "Cannot load libcuda.so.1"},
		{"[AVHWDeviceContext @ 0x5] No VA display found for device /dev/dri/renderD128.\nDevice creation failed: -22.\n", "No VA display found for device /dev/dri/renderD128."},
		{"Unknown encoder 'h264_videotoolbox'\n", "Unknown encoder 'h264_videotoolbox'"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := FFmpegReason(tt.in); got != tt.want {
			t.Errorf("FFmpegReason(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDetectRealFFmpeg runs detection with the ffmpeg on PATH. The machines
// here have no GPU: the hardware encoders compiled into Debian's ffmpeg fail
// their test encode (nvenc: no libcuda) and auto falls back to libx264; a
// forced nvenc is an error naming ffmpeg's message.
func TestDetectRealFFmpeg(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := Detect(ctx, DetectConfig{Encoder: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Family != X264 || d.Encoder != "libx264" {
		t.Skipf("this machine has a working hardware encoder: %+v", d)
	}
	if len(d.Candidates) != 5 {
		t.Fatalf("candidates %+v, want the 4 hardware families then x264", d.Candidates)
	}
	for _, c := range d.Candidates[:4] {
		if c.OK || c.Reason == "" {
			t.Errorf("candidate %+v: want rejected with a reason", c)
		}
	}
	nv := d.Candidates[0]
	if nv.Encoder != "h264_nvenc" {
		t.Fatalf("first candidate %s, want h264_nvenc", nv.Encoder)
	}
	t.Logf("nvenc: compiled %v, reason %q", nv.Compiled, nv.Reason)

	_, err = Detect(ctx, DetectConfig{Encoder: "nvenc"})
	if !errors.Is(err, ErrEncoderUnavailable) || !strings.Contains(err.Error(), "h264_nvenc") || !strings.Contains(err.Error(), nv.Reason) {
		t.Fatalf("forced nvenc: %v, want ErrEncoderUnavailable naming h264_nvenc and %q", err, nv.Reason)
	}
	d, err = Detect(ctx, DetectConfig{Encoder: "x264"})
	if err != nil || d.Encoder != "libx264" || len(d.Candidates) != 1 {
		t.Fatalf("forced x264: %+v, %v", d, err)
	}
}

func TestDetectNoFFmpeg(t *testing.T) {
	_, err := Detect(context.Background(), DetectConfig{FFmpeg: "/nonexistent/ffmpeg"})
	if !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("err = %v, want ErrNoFFmpeg", err)
	}
}

func FuzzParseEncoders(f *testing.F) {
	f.Add([]byte(encodersSample))
	f.Add([]byte(" ------\n V....D x y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name := range ParseEncoders(b) {
			if name == "" || strings.ContainsAny(name, " \t\n") {
				t.Fatalf("bad encoder name %q", name)
			}
		}
	})
}

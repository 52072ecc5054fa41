package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
)

// MediaSpec describes the generated test file.
type MediaSpec struct {
	// FFmpeg is the ffmpeg binary; default "ffmpeg" from PATH.
	FFmpeg string
	// CacheDir holds generated files; default $XDG_CACHE_HOME/mpegflow-load.
	CacheDir string
	// BFrames is x264's -bf; 0 also sets -tune zerolatency. Default 2 is set
	// by the caller (0 is meaningful).
	BFrames int
	// Height and BitrateK are EnsureMedia's video lines (16:9) and CBR
	// rate; default 720 and 2500 kb/s.
	Height, BitrateK int
}

// mediaVersion changes when the encoding recipe does, invalidating caches.
const mediaVersion = 1

// EnsureMedia returns the path of a 30 s 720p30 H.264 High (2.5 Mb/s CBR,
// 2 s GOP, spec.BFrames B-frames; spec.Height and spec.BitrateK change the
// size and rate) + AAC-LC 48 kHz stereo 128 kb/s FLV file made from lavfi
// testsrc2 and sine, generating it once into the cache.
func EnsureMedia(ctx context.Context, spec MediaSpec, log *slog.Logger) (string, error) {
	if spec.FFmpeg == "" {
		spec.FFmpeg = "ffmpeg"
	}
	dir := spec.CacheDir
	if dir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		dir = filepath.Join(d, "mpegflow-load")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("media cache: %w", err)
	}
	h, rate := spec.Height, spec.BitrateK
	if h <= 0 {
		h = 720
	}
	if rate <= 0 {
		rate = 2500
	}
	w := (h*16/9 + 1) &^ 1
	name := fmt.Sprintf("testsrc2-%dp30-h264high-%dk-gop60-bf%d-aac-30s-v%d.flv", h, rate, spec.BFrames, mediaVersion)
	path := filepath.Join(dir, name)
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("media cache: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", w, h),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "30", "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-b:v", fmt.Sprintf("%dk", rate), "-minrate", fmt.Sprintf("%dk", rate), "-maxrate", fmt.Sprintf("%dk", rate),
		"-bufsize", fmt.Sprintf("%dk", rate),
		"-x264-params", "nal-hrd=cbr",
		"-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
		"-bf", strconv.Itoa(spec.BFrames),
	}
	if spec.BFrames == 0 {
		args = append(args, "-tune", "zerolatency")
	}
	args = append(args, "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv", tmp.Name())
	log.Info("generating test media (once)", "path", path, "bframes", spec.BFrames)
	start := time.Now()
	cmd := exec.CommandContext(ctx, spec.FFmpeg, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("generate media with %s: %w: %s", spec.FFmpeg, err, tail(out, 2000))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("media cache: %w", err)
	}
	log.Info("test media ready", "path", path, "took", time.Since(start).Round(time.Millisecond))
	return path, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// WHIPMedia is the media a WHIP publisher loops: what a browser sends.
type WHIPMedia struct {
	H264 []byte   // Annex B access units, 30 fps, no B-frames
	Opus [][]byte // 20 ms packets
}

// EnsureWHIPMedia returns 30 s of 720p30 H.264 constrained baseline (no
// B-frames, 2.5 Mb/s CBR, 2 s GOP, Annex B) and Opus (48 kHz stereo 64 kb/s,
// 20 ms frames) made from lavfi testsrc2 and sine, generating the two files
// once into the cache.
func EnsureWHIPMedia(ctx context.Context, spec MediaSpec, log *slog.Logger) (*WHIPMedia, error) {
	if spec.FFmpeg == "" {
		spec.FFmpeg = "ffmpeg"
	}
	dir := spec.CacheDir
	if dir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		dir = filepath.Join(d, "mpegflow-load")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("media cache: %w", err)
	}
	gen := func(name string, args ...string) (string, error) {
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			return path, nil
		}
		tmp, err := os.CreateTemp(dir, name+".*.tmp")
		if err != nil {
			return "", fmt.Errorf("media cache: %w", err)
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		log.Info("generating WHIP test media (once)", "path", path)
		args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
		args = append(args, tmp.Name())
		if out, err := exec.CommandContext(ctx, spec.FFmpeg, args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("generate media with %s: %w: %s", spec.FFmpeg, err, tail(out, 2000))
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return "", fmt.Errorf("media cache: %w", err)
		}
		return path, nil
	}
	vpath, err := gen(fmt.Sprintf("testsrc2-720p30-h264baseline-2500k-gop60-30s-v%d.h264", mediaVersion),
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "30",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0",
		"-tune", "zerolatency",
		"-b:v", "2500k", "-minrate", "2500k", "-maxrate", "2500k", "-bufsize", "2500k", "-x264-params", "nal-hrd=cbr",
		"-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
		"-bsf:v", "h264_mp4toannexb", "-f", "h264")
	if err != nil {
		return nil, err
	}
	apath, err := gen(fmt.Sprintf("sine-opus-48k-stereo-64k-20ms-30s-v%d.ogg", mediaVersion),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "30", "-ac", "2",
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg")
	if err != nil {
		return nil, err
	}
	m := &WHIPMedia{}
	if m.H264, err = os.ReadFile(vpath); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	ogg, err := os.ReadFile(apath)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	if m.Opus, err = whiptest.ReadOggOpus(ogg); err != nil {
		return nil, fmt.Errorf("media %s: %w", apath, err)
	}
	return m, nil
}

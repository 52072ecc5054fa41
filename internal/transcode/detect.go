package transcode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// ParseEncoders parses the output of `ffmpeg -hide_banner -encoders` into
// the set of video encoder names. Lines look like
// " V....D libx264              libx264 H.264 / AVC ..."; the legend
// before the "------" line and anything malformed are skipped.
func ParseEncoders(out []byte) map[string]bool {
	enc := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	legend := bytes.Contains(out, []byte("------"))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if legend {
			if strings.HasPrefix(line, "------") {
				legend = false
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f[0]) != 6 || f[0][0] != 'V' {
			continue
		}
		enc[f[1]] = true
	}
	return enc
}

// Candidate is one encoder Detect considered.
type Candidate struct {
	Family  Family `json:"family"`
	Encoder string `json:"encoder"` // ffmpeg name, e.g. h264_nvenc
	// Compiled reports whether ffmpeg lists the encoder.
	Compiled bool `json:"compiled"`
	// OK reports whether the test encode succeeded.
	OK bool `json:"ok"`
	// Reason says why the candidate was rejected ("" when chosen or untested).
	Reason string `json:"reason,omitempty"`
}

// Detection is the result of Detect.
type Detection struct {
	// Family is the chosen family; Encoder its H.264 ffmpeg encoder.
	Family  Family `json:"family"`
	Encoder string `json:"encoder"`
	// Requested is the setting ("auto" or a family).
	Requested string `json:"requested"`
	// Candidates are every encoder considered, in order.
	Candidates []Candidate `json:"candidates"`
}

// DetectConfig configures Detect.
type DetectConfig struct {
	// FFmpeg is the ffmpeg program (default "ffmpeg", looked up on PATH).
	FFmpeg string
	// Encoder is "auto" (default) or a Family to force.
	Encoder string
	// VAAPIDevice is the render node the VAAPI test encode uses (default
	// /dev/dri/renderD128).
	VAAPIDevice string
	// TestTimeout bounds one test encode (default 15 s).
	TestTimeout time.Duration
	Logger      *slog.Logger
}

// Detect picks the encoder: it reads `ffmpeg -hide_banner -encoders`, then
// for each hardware candidate (h264_nvenc, h264_qsv, h264_vaapi,
// h264_videotoolbox) that ffmpeg lists runs a real one-second test encode of
// lavfi testsrc to the null muxer; the first that succeeds is used, libx264
// otherwise. With a forced Encoder only that family is tested, and its
// failure is an ErrEncoderUnavailable naming ffmpeg's message.
func Detect(ctx context.Context, cfg DetectConfig) (Detection, error) {
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Encoder == "" {
		cfg.Encoder = "auto"
	}
	if cfg.TestTimeout <= 0 {
		cfg.TestTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := Detection{Requested: cfg.Encoder}
	path, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		return d, fmt.Errorf("%w: %w", ErrNoFFmpeg, err)
	}
	out, err := exec.CommandContext(ctx, path, "-hide_banner", "-encoders").Output()
	if err != nil {
		return d, fmt.Errorf("ffmpeg -encoders: %w", err)
	}
	listed := ParseEncoders(out)
	families := append(Families(), X264)
	if cfg.Encoder != "auto" {
		families = []Family{Family(cfg.Encoder)}
	}
	for _, f := range families {
		c := Candidate{Family: f, Encoder: f.Encoder("h264")}
		c.Compiled = listed[c.Encoder]
		switch {
		case !c.Compiled:
			c.Reason = "not compiled into this ffmpeg"
		default:
			if err := testEncode(ctx, path, f, cfg.VAAPIDevice, cfg.TestTimeout); err != nil {
				c.Reason = err.Error()
			} else {
				c.OK = true
			}
		}
		d.Candidates = append(d.Candidates, c)
		if c.OK {
			d.Family, d.Encoder = f, c.Encoder
			break
		}
		cfg.Logger.Info("transcode encoder rejected", "encoder", c.Encoder, "reason", c.Reason)
	}
	if d.Encoder == "" {
		last := d.Candidates[len(d.Candidates)-1]
		return d, fmt.Errorf("%w: %s: %s", ErrEncoderUnavailable, last.Encoder, last.Reason)
	}
	return d, nil
}

// TestArgs are the arguments of the one-second test encode of family f.
func TestArgs(f Family, vaapiDevice string) []string {
	if vaapiDevice == "" {
		vaapiDevice = "/dev/dri/renderD128"
	}
	a := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if f == VAAPI {
		a = append(a, "-vaapi_device", vaapiDevice)
	}
	a = append(a, "-f", "lavfi", "-i", "testsrc=size=256x144:rate=30", "-t", "1")
	switch f {
	case VAAPI:
		a = append(a, "-vf", "format=nv12,hwupload")
	case QSV:
		a = append(a, "-pix_fmt", "nv12")
	default:
		a = append(a, "-pix_fmt", "yuv420p")
	}
	a = append(a, "-c:v", f.Encoder("h264"))
	if f == X264 {
		a = append(a, "-preset", "ultrafast")
	}
	return append(a, "-f", "null", "-")
}

func testEncode(ctx context.Context, ffmpeg string, f Family, dev string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffmpeg, TestArgs(f, dev)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := FFmpegReason(stderr.String()); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("test encode: %w", err)
	}
	return nil
}

// FFmpegReason picks the telling line of a failed ffmpeg run's stderr: the
// first message of a component ("[h264_nvenc @ 0x...] Cannot load
// libcuda.so.1" gives "Cannot load libcuda.so.1"), else the first line.
func FFmpegReason(stderr string) string {
	first := ""
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if first == "" {
			first = l
		}
		if strings.HasPrefix(l, "[") {
			if i := strings.Index(l, "] "); i > 0 && strings.Contains(l[:i], " @ ") {
				return strings.TrimSpace(l[i+2:])
			}
		}
	}
	return first
}

// lastLines returns the last n non-empty lines of s joined by "; ".
func lastLines(s string, n int) string {
	var out []string
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append([]string{l}, out...)
		}
	}
	return strings.Join(out, "; ")
}

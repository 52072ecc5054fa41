// Package transcode turns one live stream into an adaptive-bitrate ladder
// with ffmpeg: it detects the best working H.264 encoder at start-up
// (hardware first, libx264 otherwise), plans the ladder of a stream from
// named profiles (never upscaling), builds the ffmpeg command line for the
// encoder family, and supervises one ffmpeg process per transcoded live
// input, feeding it the source access units as MPEG-TS on stdin (Matroska
// for VP8 and VP9, which MPEG-TS cannot carry) and reading
// every rung back as MPEG-TS from its own pipe (H.264 or HEVC), on the
// source's timeline.
//
// A failing ffmpeg is restarted with backoff; it never takes the source
// stream down, which keeps playing as the top rendition.
package transcode

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Errors of the package.
var (
	// ErrNoFFmpeg is returned by Detect when ffmpeg is not on PATH.
	ErrNoFFmpeg = errors.New("ffmpeg not found")
	// ErrEncoderUnavailable is returned by Detect when a forced encoder
	// failed its test encode.
	ErrEncoderUnavailable = errors.New("encoder unavailable")
	// ErrUnknownProfile is returned for a ladder naming an unknown profile.
	ErrUnknownProfile = errors.New("unknown transcode profile")
)

// Family is an encoder family: the value of the transcode.encoder setting
// (other than "auto").
type Family string

// Encoder families, in detection order (x264 last: the software fallback).
const (
	NVENC        Family = "nvenc"
	QSV          Family = "qsv"
	VAAPI        Family = "vaapi"
	VideoToolbox Family = "videotoolbox"
	X264         Family = "x264"
)

// Families lists the hardware families in detection order.
func Families() []Family { return []Family{NVENC, QSV, VAAPI, VideoToolbox} }

// Encoder returns the ffmpeg encoder name of the family for codec ("h264"
// or "hevc").
func (f Family) Encoder(codec string) string {
	if codec != "hevc" {
		codec = "h264"
	}
	if f == X264 {
		if codec == "hevc" {
			return "libx265"
		}
		return "libx264"
	}
	return codec + "_" + string(f)
}

// Profile is one named rung of a ladder (config transcode.profiles).
type Profile struct {
	// Name is the rendition name ("480p").
	Name string
	// Height is the output height in pixels; the width follows the source's
	// aspect ratio, rounded to an even number.
	Height int
	// Bitrate is the target video bitrate in bit/s.
	Bitrate int64
	// MaxFPS caps the frame rate; a faster source is decimated.
	MaxFPS int
	// Codec is "h264" or "hevc".
	Codec string
}

var bitrateRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kKmM]?)$`)

// ParseBitrate parses "1200k", "5M" or "700000" into bit/s.
func ParseBitrate(s string) (int64, error) {
	m := bitrateRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("bitrate %q: must be like 3000k or 5M", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("bitrate %q: %w", s, err)
	}
	switch m[2] {
	case "k", "K":
		v *= 1e3
	case "m", "M":
		v *= 1e6
	}
	return int64(v), nil
}

// Rung is a profile placed on a ladder for one source: its output size.
type Rung struct {
	Profile
	Width int
	// FPS is the output frame rate cap applied (0: the source's rate kept).
	FPS int
}

// PlanLadder picks the rungs of names (in that order of preference, sorted
// by height descending in the result) for a source of srcW x srcH at
// srcFPS (0 = unknown: no frame rate cap). Rungs above the source's height are skipped: the
// source itself is always the top rendition, passed through, and is never
// upscaled. Unknown names are an ErrUnknownProfile.
func PlanLadder(profiles []Profile, names []string, srcW, srcH int, srcFPS float64) ([]Rung, error) {
	byName := make(map[string]Profile, len(profiles))
	for _, p := range profiles {
		byName[p.Name] = p
	}
	var out []Rung
	seen := map[string]bool{}
	for _, n := range names {
		p, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownProfile, n)
		}
		if seen[n] || srcH <= 0 || p.Height > srcH {
			continue
		}
		seen[n] = true
		r := Rung{Profile: p, Width: evenWidth(srcW, srcH, p.Height)}
		if p.MaxFPS > 0 && srcFPS > float64(p.MaxFPS)+0.01 {
			r.FPS = p.MaxFPS
		}
		out = append(out, r)
	}
	for i := 1; i < len(out); i++ { // insertion sort, height descending
		for j := i; j > 0 && out[j].Height > out[j-1].Height; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// withSourceRung returns rungs with a rung at the source's height on top
// when none is there (sources HLS cannot carry, whose rungs are all the
// variants). The added rung, named "source", takes its bitrate and codec
// from the lowest profile at or above the source's height (the highest
// profile when all are lower), scaled by the pixel count and at least
// 200 kb/s; it is never above the source.
func withSourceRung(profiles []Profile, rungs []Rung, srcW, srcH int) []Rung {
	if srcH <= 0 || len(profiles) == 0 || (len(rungs) > 0 && rungs[0].Height >= srcH) {
		return rungs
	}
	ref := sourceReference(profiles, srcH)
	top := Rung{Profile: Profile{Name: "source", Height: srcH &^ 1, Bitrate: SourceBitrate(profiles, srcH), Codec: ref.Codec},
		Width: evenWidth(srcW, srcH, srcH&^1)}
	return append([]Rung{top}, rungs...)
}

// SourceBitrate is the bitrate of a rung h pixels high that no profile
// describes (the source's own size): the lowest profile at or above h
// (the highest when all are lower) scaled by the pixel count, at least
// 200 kb/s. profiles must not be empty.
func SourceBitrate(profiles []Profile, h int) int64 {
	ref := sourceReference(profiles, h)
	b := ref.Bitrate
	if ref.Height > 0 {
		b = int64(float64(ref.Bitrate) * float64(h) * float64(h) / float64(ref.Height*ref.Height))
	}
	return max(b, 200_000)
}

// sourceReference is the profile a rung h pixels high is sized from: the
// lowest at or above h, else the highest.
func sourceReference(profiles []Profile, h int) *Profile {
	var ref *Profile
	for i, p := range profiles {
		if p.Height >= h && (ref == nil || p.Height < ref.Height) {
			ref = &profiles[i]
		}
	}
	if ref == nil {
		ref = &profiles[0]
		for i, p := range profiles {
			if p.Height > ref.Height {
				ref = &profiles[i]
			}
		}
	}
	return ref
}

func evenWidth(srcW, srcH, h int) int {
	if srcW <= 0 || srcH <= 0 {
		return h * 16 / 9 &^ 1
	}
	w := (srcW*h*2/srcH + 1) / 2 // rounded
	if w%2 == 1 {
		w++
	}
	return max(w, 2)
}

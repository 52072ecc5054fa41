package upload

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Reason codes of a video that errored (store.Video.ErrorCode), named as
// Cloudflare Stream names them where it has a name.
const (
	CodeNotAVideo        = "not_a_video"       // ffprobe found no video track, or no media at all
	CodeDurationExceeded = "duration_exceeded" // longer than max_duration_seconds
	CodeCodecUnsupported = "codec_unsupported" // a video track ffmpeg cannot turn into H.264
	CodeDownloadFailed   = "download_failed"   // a copy from a URL failed
	CodeTooLarge         = "too_large"         // larger than the upload's size limit
	CodeProcessingFailed = "processing_failed" // ffmpeg failed, or too many attempts
	CodeUploadExpired    = "upload_expired"    // the direct upload URL expired before the file was complete
	CodeTooManyTracks    = "too_many_tracks"   // more tracks than MaxTracks
)

// Limits of processing.
const (
	maxProbeOutput        = 4 << 20 // bytes of ffprobe JSON read at most
	defaultMaxTrackCount  = 64      // see Plan
	maxOutputHeight       = 1080    // the largest picture made when transcoding
	maxOutputWidth        = 1920    //
	defaultFPS            = 30.0    // when ffprobe cannot tell
	defaultSegmentSeconds = 4       // HLS segment length of processed videos
	minDimension          = 16      // smaller pictures are refused
	maxDimension          = 8192    // larger pictures are refused
	hdrPQ, hdrHLG         = "smpte2084", "arib-std-b67"
)

// probeResult is the part of ffprobe's JSON output (-show_format
// -show_streams -print_format json) that Plan reads.
type probeResult struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		Duration   string `json:"duration"`
		FormatName string `json:"format_name"`
	} `json:"format"`
}

type probeStream struct {
	CodecType     string            `json:"codec_type"`
	CodecName     string            `json:"codec_name"`
	Width         int               `json:"width"`
	Height        int               `json:"height"`
	PixFmt        string            `json:"pix_fmt"`
	AvgFrameRate  string            `json:"avg_frame_rate"`
	ColorTransfer string            `json:"color_transfer"`
	Duration      string            `json:"duration"`
	Tags          map[string]string `json:"tags"`
	SideData      []struct {
		Rotation float64 `json:"rotation"`
	} `json:"side_data_list"`
	Disposition struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
}

// Plan is what processing does with a file: which tracks it keeps and
// whether it re-encodes them.
type Plan struct {
	Duration    time.Duration // 0 = ffprobe could not tell
	Width       int           // of the source's video track
	Height      int           //
	FPS         float64       //
	VideoCodec  string        // the source's
	AudioCodec  string        // the source's; "" = no audio track
	CopyVideo   bool          // H.264 4:2:0 without rotation: remuxed, not re-encoded
	CopyAudio   bool          // AAC: remuxed
	OutWidth    int           // of the output (== Width when copied); even
	OutHeight   int           //
	Rotation    float64       // degrees, from the display matrix
	HDR         bool          // PQ or HLG transfer: re-encoded to SDR 8-bit
	AudioTracks int           // the source's; only the first is kept
	// Rungs are the renditions of an adaptive ladder (PlanLadder), the
	// best first, OutWidth×OutHeight; nil = one rendition.
	Rungs []Rung
}

// Refusal is a file processing refuses, with the video's reason code.
type Refusal struct {
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// ParseProbe reads ffprobe's JSON output and plans the processing of the
// file it describes; a *Refusal when the file cannot become a video
// (maxDuration 0 = no limit, maxTracks 0 = the default of 64).
func ParseProbe(b []byte, maxDuration time.Duration, maxTracks int) (*Plan, error) {
	var pr probeResult
	if err := json.Unmarshal(b, &pr); err != nil {
		return nil, &Refusal{CodeNotAVideo, "ffprobe cannot read the file as media"}
	}
	if maxTracks <= 0 {
		maxTracks = defaultMaxTrackCount
	}
	if len(pr.Streams) > maxTracks {
		return nil, &Refusal{CodeTooManyTracks, fmt.Sprintf("the file has %d tracks; at most %d are accepted", len(pr.Streams), maxTracks)}
	}
	var p Plan
	var video *probeStream
	for i := range pr.Streams {
		s := &pr.Streams[i]
		switch s.CodecType {
		case "video":
			if video == nil && s.Disposition.AttachedPic == 0 {
				video = s
			}
		case "audio":
			if p.AudioTracks == 0 {
				p.AudioCodec = s.CodecName
			}
			p.AudioTracks++
		}
	}
	if video == nil {
		return nil, &Refusal{CodeNotAVideo, "the file has no video track"}
	}
	p.VideoCodec, p.Width, p.Height = video.CodecName, video.Width, video.Height
	if p.Width < minDimension || p.Height < minDimension || p.Width > maxDimension || p.Height > maxDimension {
		return nil, &Refusal{CodeCodecUnsupported, fmt.Sprintf("the video's picture size %dx%d is outside %d..%d", p.Width, p.Height, minDimension, maxDimension)}
	}
	p.Duration = parseSeconds(pr.Format.Duration)
	if p.Duration == 0 {
		p.Duration = parseSeconds(video.Duration)
	}
	if maxDuration > 0 && p.Duration > maxDuration {
		return nil, &Refusal{CodeDurationExceeded, fmt.Sprintf("the video lasts %.1f s; at most %.0f s are allowed", p.Duration.Seconds(), maxDuration.Seconds())}
	}
	p.FPS = parseRate(video.AvgFrameRate)
	if p.FPS <= 0 || p.FPS > 240 {
		p.FPS = defaultFPS
	}
	if r, ok := video.Tags["rotate"]; ok {
		p.Rotation, _ = strconv.ParseFloat(r, 64)
	}
	for _, sd := range video.SideData {
		if sd.Rotation != 0 {
			p.Rotation = sd.Rotation
		}
	}
	if math.IsNaN(p.Rotation) || math.IsInf(p.Rotation, 0) {
		p.Rotation = 0
	}
	p.HDR = video.ColorTransfer == hdrPQ || video.ColorTransfer == hdrHLG
	p.CopyVideo = p.VideoCodec == "h264" && (video.PixFmt == "yuv420p" || video.PixFmt == "yuvj420p") &&
		p.Rotation == 0 && p.Width%2 == 0 && p.Height%2 == 0 && !p.HDR
	p.CopyAudio = p.AudioCodec == "aac"
	p.OutWidth, p.OutHeight = p.Width, p.Height
	if !p.CopyVideo {
		w, h := p.Width, p.Height
		if int(math.Abs(p.Rotation))%180 == 90 { // ffmpeg applies the rotation when it decodes
			w, h = h, w
		}
		p.OutWidth, p.OutHeight = fitBox(w, h, maxOutputWidth, maxOutputHeight)
	}
	return &p, nil
}

// fitBox scales w×h down (never up) to fit in maxW×maxH (either
// orientation), keeping the aspect ratio, to even dimensions (4:2:0).
func fitBox(w, h, maxW, maxH int) (int, int) {
	if w < h { // portrait: the box turns too
		maxW, maxH = maxH, maxW
	}
	s := math.Min(1, math.Min(float64(maxW)/float64(w), float64(maxH)/float64(h)))
	ow, oh := int(float64(w)*s)&^1, int(float64(h)*s)&^1
	return max(ow, 2), max(oh, 2)
}

// parseSeconds reads ffprobe's decimal seconds; 0 when absent or bad.
func parseSeconds(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(f > 0) || f > 1e7 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// parseRate reads ffprobe's "num/den" frame rate; 0 when absent or bad.
func parseRate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	nf, err1 := strconv.ParseFloat(n, 64)
	df, err2 := strconv.ParseFloat(d, 64)
	if err1 != nil || err2 != nil || df == 0 {
		return 0
	}
	return nf / df
}

// Tracks are the tracks of the video processing makes of p.
func (p *Plan) Tracks() []store.VideoTrack {
	out := []store.VideoTrack{{Kind: "video", Codec: "h264", Width: p.OutWidth, Height: p.OutHeight}}
	if len(p.Rungs) > 0 { // a video track per rung
		out = out[:0]
		for _, r := range p.Rungs {
			out = append(out, store.VideoTrack{Kind: "video", Codec: "h264", Width: r.Width, Height: r.Height})
		}
	}
	if p.AudioCodec != "" {
		out = append(out, store.VideoTrack{Kind: "audio", Codec: "aac"})
	}
	return out
}

// Units is the job's cost on the ffmpeg capacity account: a remux a
// fraction of a core (like an MP4 build), an encode its output's
// megapixels per second (as a transcode rung costs).
func (p *Plan) Units() float64 {
	if len(p.Rungs) > 0 {
		return p.ladderUnits()
	}
	if p.CopyVideo {
		return 2
	}
	return float64(p.OutWidth*p.OutHeight) * math.Min(p.FPS, 60) / 1e6
}

// FFmpegArgs are ffmpeg's arguments turning the file in into an HLS VOD
// of fragmented MP4 (RFC 8216bis §3.3, ISO/IEC 23000-19) in dir: init.mp4,
// seg0.m4s, seg1.m4s... and index.m3u8. A re-encode makes key frames
// every segment (aligned segments), 8-bit 4:2:0 H.264 High.
//
// With rungs, the ladder's arguments (ladderArgs) instead.
func (p *Plan) FFmpegArgs(in, dir string) []string {
	if len(p.Rungs) > 0 {
		return p.ladderArgs(in, dir)
	}
	args := []string{"-i", in, "-map", "0:v:0"}
	if p.AudioCodec != "" {
		args = append(args, "-map", "0:a:0")
	}
	args = append(args, "-sn", "-dn", "-map_metadata", "-1")
	if p.CopyVideo {
		args = append(args, "-c:v", "copy")
	} else {
		vf := "scale=" + strconv.Itoa(p.OutWidth) + ":" + strconv.Itoa(p.OutHeight) + ",format=yuv420p"
		args = append(args, "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "21",
			"-force_key_frames", "expr:gte(t,n_forced*"+strconv.Itoa(defaultSegmentSeconds)+")", "-sc_threshold", "0")
		if p.HDR {
			args = append(args, "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709")
		}
	}
	if p.AudioCodec != "" {
		if p.CopyAudio {
			args = append(args, "-c:a", "copy")
		} else {
			args = append(args, "-c:a", "aac", "-b:a", "128k", "-ac", "2")
		}
	}
	return append(args, "-f", "hls", "-hls_time", strconv.Itoa(defaultSegmentSeconds), "-hls_playlist_type", "vod",
		"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
		"-hls_segment_filename", dir+"/seg%d.m4s", "-hls_flags", "independent_segments", dir+"/index.m3u8")
}

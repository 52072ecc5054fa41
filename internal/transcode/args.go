package transcode

import (
	"fmt"
	"strconv"
	"strings"
)

// Job describes one ffmpeg run: the source, the encoder and the rungs.
type Job struct {
	// Family is the encoder family in use.
	Family Family
	// VAAPIDevice is the DRM render node for VAAPI (default
	// /dev/dri/renderD128).
	VAAPIDevice string
	// InputCodec is the source video codec ("h264", "h265", "vp8", ...);
	// hardware decoding is used only for codecs the family decodes. VP8
	// and VP9 come as Matroska on stdin (InputFormat), the others as MPEG-TS.
	InputCodec string
	// AudioCodec is the source audio codec ("aac", "opus", "" = none). AAC is
	// copied; anything else becomes AAC-LC 128 kb/s stereo.
	AudioCodec string
	// ScaleNPP scales with scale_npp instead of scale_cuda on NVENC with
	// hardware decoding (needs an ffmpeg built with --enable-libnpp).
	ScaleNPP bool
	// GOP is the keyframe interval backstop in frames; keyframes follow the
	// source's (force_key_frames source). Default 60.
	GOP int
	// Rungs are the outputs, each written as MPEG-TS to file descriptor 3+i.
	Rungs []Rung
	// FrameThreads decodes with frame threads, which hold (threads - 1)
	// frames back; otherwise (the default) the decoder runs with -flags
	// low_delay. For sources past 1080p, which one decode thread may not
	// keep up with.
	FrameThreads bool
}

// frameThreadsAbove is the source size (pixels) past which the transcoder
// decodes with frame threads (Job.FrameThreads): one thread decodes
// 1080p H.264 at about 130 fps on a 2020s core, 4K at about a quarter.
const frameThreadsAbove = 1920 * 1088

// InputFormat is the container the transcoder feeds ffmpeg for a source
// video codec: "matroska" for VP8 and VP9 (MPEG-TS has no mapping for them), "mpegts"
// otherwise.
func InputFormat(codec string) string {
	if codec == "vp8" || codec == "vp9" {
		return "matroska"
	}
	return "mpegts"
}

// hwDecodes reports whether the family decodes codec in hardware.
func hwDecodes(f Family, codec string) bool {
	switch f {
	case NVENC, QSV, VAAPI, VideoToolbox:
		return codec == "h264" || codec == "h265"
	}
	return false
}

// Args returns ffmpeg's arguments (without the program name) for j: MPEG-TS
// on stdin with timestamps kept (-copyts), decoded once (in hardware when
// the family decodes the input codec, in software otherwise), split, scaled
// (scale_cuda, vpp_qsv, scale_vaapi or scale), encoded without B-frames
// with zero-latency settings and keyframes on the source's, each rung
// written as MPEG-TS to pipe:3, pipe:4, ... Nothing on the way holds a
// frame back that it need not: the rungs also stand in for WebRTC
// viewers' video (Transcoder.Standin), where every frame of delay shows.
func Args(j Job) []string {
	gop := j.GOP
	if gop <= 0 {
		gop = 60
	}
	dev := j.VAAPIDevice
	if dev == "" {
		dev = "/dev/dri/renderD128"
	}
	hw := hwDecodes(j.Family, j.InputCodec)
	a := []string{"-hide_banner", "-loglevel", "warning", "-nostats", "-nostdin"}
	switch j.Family {
	case NVENC:
		if hw {
			a = append(a, "-hwaccel", "cuda", "-hwaccel_output_format", "cuda")
		}
	case QSV:
		a = append(a, "-init_hw_device", "qsv=hw", "-filter_hw_device", "hw")
		if hw {
			a = append(a, "-hwaccel", "qsv", "-hwaccel_output_format", "qsv", "-c:v", qsvDecoder(j.InputCodec))
		}
	case VAAPI:
		if hw {
			a = append(a, "-hwaccel", "vaapi", "-hwaccel_device", dev, "-hwaccel_output_format", "vaapi")
		} else {
			a = append(a, "-vaapi_device", dev)
		}
	case VideoToolbox:
		if hw {
			a = append(a, "-hwaccel", "videotoolbox")
		}
	}
	// -flags low_delay: the decoder uses slice threads, not frame threads,
	// which hold (threads - 1) frames back (two at 30 fps on a 2-core
	// host: 67 ms on every rung, and on the WHEP viewer of a source with
	// B-frames); a source's own reordering delay stays (it is in its SPS)
	// and the pictures are the same.
	if !j.FrameThreads {
		a = append(a, "-flags", "low_delay")
	}
	a = append(a, "-probesize", "500000", "-analyzeduration", "1000000", "-copyts", "-f", InputFormat(j.InputCodec), "-i", "pipe:0")

	// one decode, split into every rung
	var fc strings.Builder
	n := len(j.Rungs)
	fmt.Fprintf(&fc, "[0:v:0]split=%d", n)
	for i := range n {
		fmt.Fprintf(&fc, "[s%d]", i)
	}
	for i, r := range j.Rungs {
		fmt.Fprintf(&fc, ";[s%d]", i)
		var f []string
		if r.FPS > 0 {
			f = append(f, "fps="+strconv.Itoa(r.FPS))
		}
		f = append(f, scaleFilter(j.Family, hw, j.ScaleNPP, r.Width, r.Height)...)
		fc.WriteString(strings.Join(f, ","))
		fmt.Fprintf(&fc, "[v%d]", i)
	}
	a = append(a, "-filter_complex", fc.String())

	for i, r := range j.Rungs {
		a = append(a, "-map", fmt.Sprintf("[v%d]", i))
		a = append(a, encoderArgs(j.Family, r, gop)...)
		b := strconv.FormatInt(r.Bitrate, 10)
		a = append(a, "-b:v", b, "-maxrate", b, "-bufsize", strconv.FormatInt(2*r.Bitrate, 10),
			"-bf", "0", "-g", strconv.Itoa(gop), "-force_key_frames", "source")
		if j.AudioCodec != "" {
			a = append(a, "-map", "0:a:0?")
			if j.AudioCodec == "aac" {
				a = append(a, "-c:a", "copy")
			} else {
				a = append(a, "-c:a", "aac", "-b:a", "128k", "-ac", "2")
			}
		}
		// MPEG-TS carries H.264 and HEVC alike (ffmpeg 5.1's FLV has no
		// HEVC); no mux delay, so timestamps stay the input's (-copyts),
		// and one audio frame per PES, so audio is not held back. Video PES
		// packets carry their length (ffmpeg omits it by default), so the
		// rung reader hands a frame on as soon as it is in instead of when
		// the next one starts (one frame interval sooner).
		a = append(a, "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0", "-pes_payload_size", "0", "-omit_video_pes_length", "0", "-f", "mpegts", "pipe:"+strconv.Itoa(3+i))
	}
	return a
}

// qsvDecoder is the QSV decoder of a codec hwDecodes accepts.
func qsvDecoder(codec string) string {
	if codec == "h265" {
		return "hevc_qsv"
	}
	return "h264_qsv"
}

func scaleFilter(f Family, hw, npp bool, w, h int) []string {
	ws, hs := strconv.Itoa(w), strconv.Itoa(h)
	switch f {
	case NVENC:
		if hw && npp {
			return []string{"scale_npp=" + ws + ":" + hs}
		}
		if hw {
			return []string{"scale_cuda=" + ws + ":" + hs}
		}
	case QSV:
		if hw {
			return []string{"vpp_qsv=w=" + ws + ":h=" + hs}
		}
		return []string{"scale=" + ws + ":" + hs, "format=nv12", "hwupload=extra_hw_frames=64"}
	case VAAPI:
		if hw {
			return []string{"scale_vaapi=w=" + ws + ":h=" + hs}
		}
		return []string{"format=nv12", "hwupload", "scale_vaapi=w=" + ws + ":h=" + hs}
	}
	return []string{"scale=" + ws + ":" + hs, "format=yuv420p"}
}

// encoderArgs are the codec and low-latency options of one rung. Forced
// key frames (-force_key_frames source) are IDR frames on every family
// (forced-idr where the encoder would make them plain I frames), so every
// segment starts with a random access point.
func encoderArgs(f Family, r Rung, gop int) []string {
	enc := f.Encoder(r.Codec)
	hevc := r.Codec == "hevc"
	a := []string{"-c:v", enc}
	switch f {
	case NVENC:
		a = append(a, "-preset", "p4", "-tune", "ll", "-zerolatency", "1", "-rc", "cbr", "-rc-lookahead", "0", "-forced-idr", "1")
	case QSV:
		a = append(a, "-preset", "veryfast")
		if !hevc {
			a = append(a, "-look_ahead", "0") // h264_qsv only
		}
		a = append(a, "-async_depth", "1", "-low_delay_brc", "1", "-forced_idr", "1")
	case VAAPI:
		a = append(a, "-rc_mode", "CBR", "-async_depth", "1")
	case VideoToolbox:
		a = append(a, "-realtime", "1", "-prio_speed", "1", "-allow_sw", "0")
	default:
		if hevc {
			// libx265: scene cuts and open GOPs off, key frames only where
			// forced or every gop frames, quiet
			a = append(a, "-preset", "veryfast", "-tune", "zerolatency", "-forced-idr", "1",
				"-x265-params", fmt.Sprintf("scenecut=0:open-gop=0:min-keyint=%d:log-level=error", gop))
			break
		}
		a = append(a, "-preset", "veryfast", "-tune", "zerolatency", "-sc_threshold", "0",
			"-keyint_min", strconv.Itoa(gop), "-profile:v", "high")
	}
	return a
}

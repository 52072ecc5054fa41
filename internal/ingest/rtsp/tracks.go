package rtsp

import (
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// Limits on what a session description (RFC 8866) may announce.
const (
	// MaxSDPSize bounds an ANNOUNCE body or a DESCRIBE answer; a camera's
	// is well under 4 KiB. The RTSP library itself refuses bodies over
	// 128 KiB before parsing them.
	MaxSDPSize = 16 << 10
	// maxMedias bounds the media sections considered.
	maxMedias = 16
)

// Reasons a session description is refused.
var (
	// ErrMJPEG means the only video is Motion JPEG (RFC 2435), which HLS
	// cannot carry and is not transcoded.
	ErrMJPEG = errors.New("motion JPEG video is not supported: set the camera to H.264 or H.265")
	// ErrNoTracks means no media section has a codec MpegFlow takes.
	ErrNoTracks = errors.New("no supported track: video must be H.264 or H.265, audio AAC or Opus")
	// ErrTooManyMedias means the description has more than 16 media sections.
	ErrTooManyMedias = errors.New("too many media sections")
)

// track is one media (and its chosen format) of a session that goes into
// the stream.
type track struct {
	media  *description.Media
	format format.Format
}

// plan is what a session description turns into: at most one video track
// (H.264 or H.265) and at most one audio track (AAC, Opus, or G.711 when
// g711 is set), plus a note for every media section left out.
type plan struct {
	video *track
	audio *track
	// g711 marks audio that HLS cannot carry (PCMA/PCMU, ITU-T G.711):
	// it needs an AAC transcode, or is dropped.
	g711    bool
	ignored []string
}

// audioCodec is the codec of the audio track in the stream (nil when the
// audio is G.711, or absent).
func (p plan) audioCodec() (stream.Codec, error) {
	if p.audio == nil {
		return nil, nil
	}
	switch f := p.audio.format.(type) {
	case *format.MPEG4Audio:
		cfg, err := f.Config.Marshal()
		if err != nil {
			return nil, fmt.Errorf("aac config: %w", err)
		}
		return stream.AAC{Config: cfg}, nil
	case *format.Opus:
		ch := f.ChannelCount
		if ch <= 0 {
			ch = 2
		}
		return stream.Opus{ChannelCount: ch}, nil
	}
	return nil, nil
}

// planTracks chooses the tracks of desc: the first H.264/H.265 video
// format and the first AAC (RFC 3640 mpeg4-generic) or Opus (RFC 7587)
// audio format; G.711 audio (RFC 3551 §4.5.14) when nothing better is
// there. A description whose only video is MJPEG is refused with ErrMJPEG,
// one with nothing usable with ErrNoTracks.
func planTracks(desc *description.Session) (plan, error) {
	var p plan
	if desc == nil {
		return p, ErrNoTracks
	}
	if len(desc.Medias) > maxMedias {
		return p, ErrTooManyMedias
	}
	mjpeg := false
	var g711 *track
	for _, m := range desc.Medias {
		if m == nil || m.IsBackChannel {
			continue
		}
		used := false
		for _, f := range m.Formats {
			switch ff := f.(type) {
			case *format.H264, *format.H265:
				if p.video == nil && m.Type == description.MediaTypeVideo {
					p.video = &track{media: m, format: f}
					used = true
				}
			case *format.MJPEG:
				mjpeg = true
			case *format.MPEG4Audio:
				if p.audio == nil && ff.Config != nil {
					p.audio = &track{media: m, format: f}
					used = true
				}
			case *format.Opus:
				if p.audio == nil {
					p.audio = &track{media: m, format: f}
					used = true
				}
			case *format.G711:
				if g711 == nil && ff.ChannelCount <= 2 {
					g711 = &track{media: m, format: f}
				}
			}
			if used {
				break
			}
		}
		if !used {
			names := ""
			for i, f := range m.Formats {
				if i > 0 {
					names += ","
				}
				names += f.Codec()
			}
			p.ignored = append(p.ignored, string(m.Type)+" "+names)
		}
	}
	if p.audio == nil && g711 != nil {
		p.audio, p.g711 = g711, true
	}
	switch {
	case p.video == nil && mjpeg:
		return plan{}, ErrMJPEG
	case p.video == nil && p.audio == nil:
		return plan{}, ErrNoTracks
	}
	return p, nil
}

// medias are the media sections to set up.
func (p plan) medias() []*description.Media {
	var out []*description.Media
	if p.video != nil {
		out = append(out, p.video.media)
	}
	if p.audio != nil && p.audio.media != p.videoMedia() {
		out = append(out, p.audio.media)
	}
	return out
}

func (p plan) videoMedia() *description.Media {
	if p.video == nil {
		return nil
	}
	return p.video.media
}

// names are the codec names of the chosen tracks, for logs.
func (p plan) names() []string {
	var out []string
	if p.video != nil {
		out = append(out, p.video.format.Codec())
	}
	if p.audio != nil {
		out = append(out, p.audio.format.Codec())
	}
	return out
}

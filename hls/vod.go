package hls

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// VODSegment is one stored segment of a recording.
type VODSegment struct {
	URI             string        // relative or absolute URI of the segment
	Duration        time.Duration // media duration
	InitURI         string        // URI of the init segment it needs (EXT-X-MAP)
	Discontinuity   bool          // follows a discontinuity (EXT-X-DISCONTINUITY)
	ProgramDateTime time.Time     // zero: no EXT-X-PROGRAM-DATE-TIME
	// Dependent: the segment does not start with a key frame (a live
	// segment cut inside a GOP longer than the target duration allowed);
	// the playlist then does not declare EXT-X-INDEPENDENT-SEGMENTS
	// (RFC 8216bis §4.4.2.1).
	Dependent bool
	// ByteRangeLength > 0: the segment is that many bytes of URI from
	// ByteRangeOffset (EXT-X-BYTERANGE, RFC 8216bis §4.4.4.2).
	ByteRangeLength int64
	ByteRangeOffset int64
}

// ErrEmptyVOD is returned by VODPlaylist for a recording without segments.
var ErrEmptyVOD = errors.New("hls: vod playlist without segments")

// VODPlaylist writes a VOD media playlist (RFC 8216bis §4.4.3.5
// EXT-X-PLAYLIST-TYPE:VOD, §4.4.3.4 EXT-X-ENDLIST) for stored segments.
// EXT-X-TARGETDURATION is the longest segment duration rounded up
// (§4.4.3.1). EXT-X-INDEPENDENT-SEGMENTS is declared unless a segment is
// Dependent. A new EXT-X-MAP is written whenever InitURI changes, and an
// EXT-X-BYTERANGE (§4.4.4.2) for a segment that is a range of its URI.
func VODPlaylist(segs []VODSegment) ([]byte, error) {
	if len(segs) == 0 {
		return nil, ErrEmptyVOD
	}
	var longest time.Duration
	independent := true
	for _, s := range segs {
		independent = independent && !s.Dependent
		if s.URI == "" || s.InitURI == "" || s.Duration <= 0 || s.ByteRangeLength < 0 || s.ByteRangeOffset < 0 ||
			strings.ContainsAny(s.URI+s.InitURI, "\"\r\n") {
			return nil, errors.New("hls: vod segment needs a URI, an init URI and a positive duration")
		}
		longest = max(longest, s.Duration)
	}
	td := int64(math.Ceil(longest.Seconds()))
	b := make([]byte, 0, 128+80*len(segs))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:VOD\n"...)
	if independent {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	b = append(b, "#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, td, 10)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:0\n"...)
	prevInit := ""
	for _, s := range segs {
		if s.Discontinuity {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		if s.InitURI != prevInit {
			b = append(b, `#EXT-X-MAP:URI="`...)
			b = append(b, s.InitURI...)
			b = append(b, "\"\n"...)
			prevInit = s.InitURI
		}
		if !s.ProgramDateTime.IsZero() {
			b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
			b = s.ProgramDateTime.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
			b = append(b, '\n')
		}
		b = append(b, "#EXTINF:"...)
		b = appendSeconds(b, s.Duration, 5)
		b = append(b, ",\n"...)
		if s.ByteRangeLength > 0 {
			b = append(b, "#EXT-X-BYTERANGE:"...)
			b = strconv.AppendInt(b, s.ByteRangeLength, 10)
			b = append(b, '@')
			b = strconv.AppendInt(b, s.ByteRangeOffset, 10)
			b = append(b, '\n')
		}
		b = append(b, s.URI...)
		b = append(b, '\n')
	}
	b = append(b, "#EXT-X-ENDLIST\n"...)
	return b, nil
}

// VODVariant is one variant stream of a VOD multivariant playlist.
type VODVariant struct {
	URI              string  // relative or absolute URI of its media playlist
	Bandwidth        int64   // peak segment bit rate, bit/s (BANDWIDTH)
	AverageBandwidth int64   // average bit rate, bit/s; 0 = not written
	Codecs           string  // RFC 6381 codecs of every track ("avc1.64001f,mp4a.40.2"); "" = not written
	Width, Height    int     // 0 = no RESOLUTION
	FrameRate        float64 // 0 = no FRAME-RATE
}

// VODMultivariant writes a multivariant playlist (RFC 8216bis §4.4.6)
// of VOD variant streams, in the order given (the first is the one a
// client starts with, §4.4.6.2), each an EXT-X-STREAM-INF with BANDWIDTH
// (required), AVERAGE-BANDWIDTH, CODECS, RESOLUTION and FRAME-RATE.
func VODMultivariant(vs []VODVariant) ([]byte, error) {
	if len(vs) == 0 {
		return nil, errors.New("hls: multivariant playlist without variants")
	}
	b := make([]byte, 0, 64+128*len(vs))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	for _, v := range vs {
		if v.URI == "" || strings.ContainsAny(v.URI+v.Codecs, "\"\r\n") {
			return nil, errors.New("hls: variant needs a URI, and no quote or line break")
		}
		b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
		b = strconv.AppendInt(b, max(v.Bandwidth, 1), 10)
		if v.AverageBandwidth > 0 {
			b = append(b, ",AVERAGE-BANDWIDTH="...)
			b = strconv.AppendInt(b, v.AverageBandwidth, 10)
		}
		if v.Codecs != "" {
			b = append(b, `,CODECS="`...)
			b = append(b, v.Codecs...)
			b = append(b, '"')
		}
		if v.Width > 0 && v.Height > 0 {
			b = append(b, ",RESOLUTION="...)
			b = strconv.AppendInt(b, int64(v.Width), 10)
			b = append(b, 'x')
			b = strconv.AppendInt(b, int64(v.Height), 10)
		}
		if v.FrameRate > 0 {
			b = append(b, ",FRAME-RATE="...)
			b = strconv.AppendFloat(b, v.FrameRate, 'f', 3, 64)
		}
		b = append(b, '\n')
		b = append(b, v.URI...)
		b = append(b, '\n')
	}
	return b, nil
}

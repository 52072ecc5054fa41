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
// (§4.4.3.1). A new EXT-X-MAP is written whenever InitURI changes, and an
// EXT-X-BYTERANGE (§4.4.4.2) for a segment that is a range of its URI.
func VODPlaylist(segs []VODSegment) ([]byte, error) {
	if len(segs) == 0 {
		return nil, ErrEmptyVOD
	}
	var longest time.Duration
	for _, s := range segs {
		if s.URI == "" || s.InitURI == "" || s.Duration <= 0 || s.ByteRangeLength < 0 || s.ByteRangeOffset < 0 ||
			strings.ContainsAny(s.URI+s.InitURI, "\"\r\n") {
			return nil, errors.New("hls: vod segment needs a URI, an init URI and a positive duration")
		}
		longest = max(longest, s.Duration)
	}
	td := int64(math.Ceil(longest.Seconds()))
	b := make([]byte, 0, 128+80*len(segs))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:"...)
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

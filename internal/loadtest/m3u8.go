package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrPlaylist is wrapped by every playlist parse error.
var ErrPlaylist = errors.New("invalid playlist")

// Playlist is the subset of an HLS playlist (draft-pantos-hls-rfc8216bis §4)
// that the load tool needs: variants of a multivariant playlist, and the
// segments, parts, preload hint and server control of a media playlist.
type Playlist struct {
	// Variants holds EXT-X-STREAM-INF entries (§4.4.6.2) in playlist order;
	// non-empty only for a multivariant playlist.
	Variants []Variant

	TargetDuration float64 // EXT-X-TARGETDURATION (§4.4.3.1), seconds
	MediaSequence  uint64  // EXT-X-MEDIA-SEQUENCE (§4.4.3.2), 0 when absent
	PartTarget     float64 // EXT-X-PART-INF:PART-TARGET (§4.4.3.7), 0 when absent
	CanBlockReload bool    // EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES (§4.4.3.8)
	PartHoldBack   float64 // EXT-X-SERVER-CONTROL:PART-HOLD-BACK, seconds
	EndList        bool    // EXT-X-ENDLIST (§4.4.3.4)

	// SkippedSegments is EXT-X-SKIP:SKIPPED-SEGMENTS (§4.4.5.2) of a delta update.
	SkippedSegments uint64

	// Segments lists the media segments in order. The last one may be
	// incomplete (Complete false): the parts of the segment being written,
	// announced before its EXTINF.
	Segments []Segment

	// PreloadHint is EXT-X-PRELOAD-HINT (§4.4.5.3), nil when absent.
	PreloadHint *PreloadHint
}

// Variant is one EXT-X-STREAM-INF entry (§4.4.6.2).
type Variant struct {
	URI        string
	Bandwidth  int64
	Codecs     string
	Resolution string
}

// Segment is a media segment (§4.4.4) with its parts (§4.4.4.9).
type Segment struct {
	MSN           uint64  // media sequence number
	URI           string  // empty while incomplete
	Duration      float64 // EXTINF duration, seconds; 0 while incomplete
	Complete      bool    // EXTINF and URI have been seen
	Discontinuity bool    // EXT-X-DISCONTINUITY (§4.4.4.3)
	Gap           bool    // EXT-X-GAP (§4.4.4.7)

	// ProgramDateTime is EXT-X-PROGRAM-DATE-TIME (§4.4.4.6) of the segment,
	// or extrapolated from the previous segment when PDTExplicit is false.
	// Zero when unknown.
	ProgramDateTime time.Time
	PDTExplicit     bool

	Parts []Part
}

// Part is one EXT-X-PART (§4.4.4.9).
type Part struct {
	URI         string
	Duration    float64 // seconds
	Independent bool
	Gap         bool
	// ByteRange is the BYTERANGE attribute; Length 0 means none.
	ByteRange ByteRange
}

// ByteRange is a byte range of a resource. Start is -1 when the range
// continues the previous one (unknown to us) and Length 0 means "whole resource".
type ByteRange struct {
	Start  int64
	Length int64
}

// PreloadHint is EXT-X-PRELOAD-HINT (§4.4.5.3).
type PreloadHint struct {
	Type      string // PART or MAP
	URI       string
	ByteRange ByteRange // from BYTERANGE-START / BYTERANGE-LENGTH
}

// IsMultivariant reports whether the playlist lists variants.
func (p *Playlist) IsMultivariant() bool { return len(p.Variants) > 0 }

// maxPlaylistLines bounds the work on hostile input.
const maxPlaylistLines = 1 << 20

// ParsePlaylist parses a multivariant or media playlist. It is lenient with
// unknown tags and strict with the tags it reads.
func ParsePlaylist(data []byte) (*Playlist, error) {
	pl := &Playlist{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)

	var (
		first      = true
		msn        uint64
		msnSet     bool // a segment or skip was seen: MEDIA-SEQUENCE can no longer change
		cur        Segment
		curHasInf  bool
		curStarted bool // a tag belonging to the next segment was seen
		streamInf  *Variant
		lineNo     int
	)
	fail := func(format string, args ...any) (*Playlist, error) {
		return nil, fmt.Errorf("%w: line %d: %s", ErrPlaylist, lineNo, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		lineNo++
		if lineNo > maxPlaylistLines {
			return fail("too many lines")
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if first {
			if line != "#EXTM3U" {
				return fail("missing #EXTM3U")
			}
			first = false
			continue
		}
		if !strings.HasPrefix(line, "#") {
			// A URI line.
			switch {
			case streamInf != nil:
				streamInf.URI = line
				pl.Variants = append(pl.Variants, *streamInf)
				streamInf = nil
			case curHasInf:
				cur.URI = line
				cur.Complete = true
				cur.MSN = pl.MediaSequence + msn
				pl.Segments = append(pl.Segments, cur)
				msn++
				msnSet = true
				cur, curHasInf, curStarted = Segment{}, false, false
			default:
				return fail("URI without EXTINF or EXT-X-STREAM-INF")
			}
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // comment
		}
		name, value, _ := strings.Cut(line, ":")
		switch name {
		case "#EXTINF":
			durStr, _, _ := strings.Cut(value, ",")
			d, err := parseDuration(durStr)
			if err != nil {
				return fail("EXTINF: %v", err)
			}
			cur.Duration, curHasInf, curStarted = d, true, true
		case "#EXT-X-TARGETDURATION":
			d, err := parseDuration(value)
			if err != nil {
				return fail("EXT-X-TARGETDURATION: %v", err)
			}
			pl.TargetDuration = d
		case "#EXT-X-MEDIA-SEQUENCE":
			n, err := strconv.ParseUint(value, 10, 63)
			if err != nil {
				return fail("EXT-X-MEDIA-SEQUENCE: %v", err)
			}
			if msnSet || curStarted {
				return fail("EXT-X-MEDIA-SEQUENCE after the first segment")
			}
			pl.MediaSequence = n
		case "#EXT-X-SKIP":
			attrs, err := ParseAttributes(value)
			if err != nil {
				return fail("EXT-X-SKIP: %v", err)
			}
			n, err := strconv.ParseUint(attrs["SKIPPED-SEGMENTS"], 10, 32)
			if err != nil {
				return fail("EXT-X-SKIP: SKIPPED-SEGMENTS: %v", err)
			}
			pl.SkippedSegments += n
			msn += n
			msnSet = true
		case "#EXT-X-PROGRAM-DATE-TIME":
			t, err := parsePDT(value)
			if err != nil {
				return fail("EXT-X-PROGRAM-DATE-TIME: %v", err)
			}
			cur.ProgramDateTime, cur.PDTExplicit, curStarted = t, true, true
		case "#EXT-X-DISCONTINUITY":
			cur.Discontinuity, curStarted = true, true
		case "#EXT-X-GAP":
			cur.Gap, curStarted = true, true
		case "#EXT-X-PART":
			attrs, err := ParseAttributes(value)
			if err != nil {
				return fail("EXT-X-PART: %v", err)
			}
			part, err := partFromAttrs(attrs)
			if err != nil {
				return fail("EXT-X-PART: %v", err)
			}
			cur.Parts = append(cur.Parts, part)
			curStarted = true
		case "#EXT-X-PRELOAD-HINT":
			attrs, err := ParseAttributes(value)
			if err != nil {
				return fail("EXT-X-PRELOAD-HINT: %v", err)
			}
			h := &PreloadHint{Type: attrs["TYPE"], URI: attrs["URI"], ByteRange: ByteRange{Start: 0}}
			if h.Type == "" || h.URI == "" {
				return fail("EXT-X-PRELOAD-HINT: TYPE and URI are required")
			}
			if v, ok := attrs["BYTERANGE-START"]; ok {
				if h.ByteRange.Start, err = strconv.ParseInt(v, 10, 63); err != nil {
					return fail("EXT-X-PRELOAD-HINT: BYTERANGE-START: %v", err)
				}
			}
			if v, ok := attrs["BYTERANGE-LENGTH"]; ok {
				if h.ByteRange.Length, err = strconv.ParseInt(v, 10, 63); err != nil {
					return fail("EXT-X-PRELOAD-HINT: BYTERANGE-LENGTH: %v", err)
				}
			}
			pl.PreloadHint = h
		case "#EXT-X-PART-INF":
			attrs, err := ParseAttributes(value)
			if err != nil {
				return fail("EXT-X-PART-INF: %v", err)
			}
			if pl.PartTarget, err = parseDuration(attrs["PART-TARGET"]); err != nil {
				return fail("EXT-X-PART-INF: PART-TARGET: %v", err)
			}
		case "#EXT-X-SERVER-CONTROL":
			attrs, err := ParseAttributes(value)
			if err != nil {
				return fail("EXT-X-SERVER-CONTROL: %v", err)
			}
			pl.CanBlockReload = attrs["CAN-BLOCK-RELOAD"] == "YES"
			if v, ok := attrs["PART-HOLD-BACK"]; ok {
				if pl.PartHoldBack, err = parseDuration(v); err != nil {
					return fail("EXT-X-SERVER-CONTROL: PART-HOLD-BACK: %v", err)
				}
			}
		case "#EXT-X-ENDLIST":
			pl.EndList = true
		case "#EXT-X-STREAM-INF":
			attrs, err := ParseAttributes(value)
			if err != nil {
				return fail("EXT-X-STREAM-INF: %v", err)
			}
			v := &Variant{Codecs: attrs["CODECS"], Resolution: attrs["RESOLUTION"]}
			if b, ok := attrs["BANDWIDTH"]; ok {
				if v.Bandwidth, err = strconv.ParseInt(b, 10, 64); err != nil || v.Bandwidth < 0 {
					return fail("EXT-X-STREAM-INF: BANDWIDTH: invalid %q", b)
				}
			}
			streamInf = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlaylist, err)
	}
	if first {
		return nil, fmt.Errorf("%w: empty", ErrPlaylist)
	}
	if streamInf != nil {
		return nil, fmt.Errorf("%w: EXT-X-STREAM-INF without URI", ErrPlaylist)
	}
	if len(cur.Parts) > 0 {
		// The segment being written: parts announced before its EXTINF.
		cur.MSN = pl.MediaSequence + msn
		pl.Segments = append(pl.Segments, cur)
	}
	// Extrapolate PROGRAM-DATE-TIME forward (§4.4.4.6): a segment without
	// the tag starts where the previous one ended, unless a discontinuity
	// separates them.
	for i := 1; i < len(pl.Segments); i++ {
		s, prev := &pl.Segments[i], &pl.Segments[i-1]
		if s.PDTExplicit || prev.ProgramDateTime.IsZero() || s.Discontinuity {
			continue
		}
		s.ProgramDateTime = prev.ProgramDateTime.Add(secondsToDuration(prev.Duration))
	}
	return pl, nil
}

func partFromAttrs(attrs map[string]string) (Part, error) {
	p := Part{URI: attrs["URI"]}
	if p.URI == "" {
		return p, errors.New("URI is required")
	}
	d, err := parseDuration(attrs["DURATION"])
	if err != nil {
		return p, fmt.Errorf("DURATION: %w", err)
	}
	p.Duration = d
	p.Independent = attrs["INDEPENDENT"] == "YES"
	p.Gap = attrs["GAP"] == "YES"
	if br, ok := attrs["BYTERANGE"]; ok {
		if p.ByteRange, err = parseByteRange(br); err != nil {
			return p, fmt.Errorf("BYTERANGE: %w", err)
		}
	}
	return p, nil
}

// parseByteRange parses "<n>[@<o>]" (§4.4.4.2).
func parseByteRange(s string) (ByteRange, error) {
	ls, offStr, hasOff := strings.Cut(s, "@")
	n, err := strconv.ParseInt(ls, 10, 63)
	if err != nil || n <= 0 {
		return ByteRange{}, fmt.Errorf("invalid length %q", ls)
	}
	br := ByteRange{Start: -1, Length: n}
	if hasOff {
		if br.Start, err = strconv.ParseInt(offStr, 10, 63); err != nil || br.Start < 0 {
			return ByteRange{}, fmt.Errorf("invalid offset %q", offStr)
		}
	}
	return br, nil
}

// parseDuration parses a non-negative decimal number of seconds.
func parseDuration(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	d, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(d) || math.IsInf(d, 0) || d < 0 || d > 1e6 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

func secondsToDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

var pdtLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
}

func parsePDT(s string) (time.Time, error) {
	for _, l := range pdtLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date-time %q", s)
}

// ParseAttributes parses an attribute list (§4.2): comma-separated
// NAME=VALUE pairs, where a value is a quoted string (no escapes), or a
// token without commas. Quotes are removed from quoted strings.
func ParseAttributes(s string) (map[string]string, error) {
	attrs := make(map[string]string, 4)
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("attribute without value in %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		for _, c := range []byte(name) {
			if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
				return nil, fmt.Errorf("invalid attribute name %q", name)
			}
		}
		if name == "" {
			return nil, errors.New("empty attribute name")
		}
		s = s[eq+1:]
		var value string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted string for %s", name)
			}
			value = s[1 : 1+end]
			s = s[end+2:]
			if len(s) > 0 && s[0] != ',' {
				return nil, fmt.Errorf("garbage after quoted string for %s", name)
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			value = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		if _, dup := attrs[name]; dup {
			return nil, fmt.Errorf("duplicate attribute %s", name)
		}
		attrs[name] = value
		if len(s) > 0 { // skip the comma
			s = s[1:]
			if len(s) == 0 {
				return nil, errors.New("trailing comma")
			}
		}
	}
	return attrs, nil
}

package e2e

// A small HLS / LL-HLS playlist parser (RFC 8216bis) and the rule checks that
// the end-to-end tests apply to what the daemon serves. It is deliberately
// independent of the hls/ package: these tests judge that package's output.

import (
	"bufio"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// attrs is a parsed attribute list (RFC 8216bis §4.2); quoted-string values
// are stored without their quotes.
type attrs map[string]string

func (a attrs) float(k string) (float64, bool) {
	v, ok := a[k]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

func (a attrs) int(k string) (int, bool) {
	v, ok := a[k]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// parseAttrs parses `KEY=VALUE,KEY="quoted, value",...`.
func parseAttrs(s string) (attrs, error) {
	a := attrs{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return a, fmt.Errorf("attribute list: no '=' in %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return a, fmt.Errorf("attribute %s: unterminated quoted string", key)
			}
			val = s[1 : end+1]
			s = s[end+2:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = s[:end]
			s = s[end:]
		}
		if _, dup := a[key]; dup {
			return a, fmt.Errorf("attribute %s appears twice", key)
		}
		a[key] = val
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if len(s) > 0 {
			return a, fmt.Errorf("attribute %s: junk after value: %q", key, s)
		}
	}
	return a, nil
}

type part struct {
	URI         string
	Duration    float64
	Independent bool
	Gap         bool
	Attrs       attrs
}

type segment struct {
	MSN           int
	URI           string
	Duration      float64
	PDT           time.Time // zero when the segment has no EXT-X-PROGRAM-DATE-TIME
	Discontinuity bool
	Map           string // URI of the EXT-X-MAP in force
	MapHere       bool   // an EXT-X-MAP tag precedes this very segment
	Gap           bool
	Parts         []part
}

type variant struct {
	URI   string
	Attrs attrs
}

// playlist is a parsed media or multivariant playlist.
type playlist struct {
	Raw         string
	Multi       bool // has EXT-X-STREAM-INF
	Version     int
	Target      int // EXT-X-TARGETDURATION
	MediaSeq    int
	DiscSeq     int
	PartTarget  float64 // 0 without EXT-X-PART-INF
	Server      attrs   // EXT-X-SERVER-CONTROL, nil when absent
	Segments    []segment
	Pending     segment // the segment being built: parts after the last complete segment (MSN = next)
	Hints       []attrs // EXT-X-PRELOAD-HINT
	Reports     []attrs // EXT-X-RENDITION-REPORT
	Skip        attrs   // EXT-X-SKIP
	Skipped     int     // SKIPPED-SEGMENTS of EXT-X-SKIP (delta updates)
	Endlist     bool
	Independent bool // EXT-X-INDEPENDENT-SEGMENTS
	Variants    []variant
	Media       []attrs  // EXT-X-MEDIA
	Order       []string // problems of tag order found while parsing (rule 3)
}

// lastMSN returns the media sequence number of the last complete segment, or
// MediaSeq-1 when none is listed.
func (p *playlist) lastMSN() int { return p.MediaSeq + p.Skipped + len(p.Segments) - 1 }

// nextPart returns the (msn, part) of the next part not yet listed: the
// target of a blocking reload for the next part.
func (p *playlist) nextPart() (int, int) {
	return p.lastMSN() + 1, len(p.Pending.Parts)
}

// progress is a monotonically increasing position: (lastMSN+1)*1000 + pending parts.
func (p *playlist) progress() int { return (p.lastMSN()+1)*1000 + len(p.Pending.Parts) }

func parsePlaylist(body string) (*playlist, error) {
	p := &playlist{Raw: body}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	var cur segment // tags gathered for the next segment
	var mapURI string
	var pendingInf *float64
	var pendingStreamInf attrs
	var skipped int
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if first {
			if l != "#EXTM3U" {
				return nil, fmt.Errorf("line 1: want #EXTM3U, got %q", l)
			}
			first = false
			continue
		}
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "#") {
			// A URI line.
			switch {
			case pendingStreamInf != nil:
				p.Variants = append(p.Variants, variant{URI: l, Attrs: pendingStreamInf})
				pendingStreamInf = nil
			case pendingInf != nil:
				cur.URI = l
				cur.Duration = *pendingInf
				cur.Map = mapURI
				cur.MSN = p.MediaSeq + skipped + len(p.Segments)
				p.Segments = append(p.Segments, cur)
				cur = segment{}
				pendingInf = nil
			default:
				return nil, fmt.Errorf("line %d: URI %q without EXTINF or EXT-X-STREAM-INF", line, l)
			}
			continue
		}
		if !strings.HasPrefix(l, "#EXT") {
			continue // comment
		}
		tag, val, _ := strings.Cut(l, ":")
		var err error
		needAttrs := func() attrs {
			var a attrs
			a, err = parseAttrs(val)
			return a
		}
		switch tag {
		case "#EXT-X-VERSION":
			p.Version, err = strconv.Atoi(val)
		case "#EXT-X-TARGETDURATION":
			p.Target, err = strconv.Atoi(val)
		case "#EXT-X-MEDIA-SEQUENCE":
			p.MediaSeq, err = strconv.Atoi(val)
		case "#EXT-X-DISCONTINUITY-SEQUENCE":
			p.DiscSeq, err = strconv.Atoi(val)
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			p.Independent = true
		case "#EXT-X-ENDLIST":
			p.Endlist = true
		case "#EXT-X-PART-INF":
			a := needAttrs()
			if err == nil {
				var ok bool
				if p.PartTarget, ok = a.float("PART-TARGET"); !ok {
					err = fmt.Errorf("PART-TARGET missing or invalid")
				}
			}
		case "#EXT-X-SERVER-CONTROL":
			p.Server = needAttrs()
		case "#EXT-X-SKIP":
			p.Skip = needAttrs()
			if err == nil {
				skipped, _ = p.Skip.int("SKIPPED-SEGMENTS")
			}
		case "#EXT-X-MAP":
			a := needAttrs()
			mapURI = a["URI"]
			cur.MapHere = true
			if len(cur.Parts) > 0 {
				p.Order = append(p.Order, fmt.Sprintf("line %d: EXT-X-MAP after the segment's first EXT-X-PART", line))
			}
		case "#EXT-X-DISCONTINUITY":
			cur.Discontinuity = true
			if len(cur.Parts) > 0 {
				p.Order = append(p.Order, fmt.Sprintf("line %d: EXT-X-DISCONTINUITY after the segment's first EXT-X-PART", line))
			}
		case "#EXT-X-GAP":
			cur.Gap = true
		case "#EXT-X-PROGRAM-DATE-TIME":
			cur.PDT, err = time.Parse(time.RFC3339Nano, val)
			if len(cur.Parts) > 0 {
				p.Order = append(p.Order, fmt.Sprintf("line %d: EXT-X-PROGRAM-DATE-TIME after the segment's first EXT-X-PART", line))
			}
		case "#EXTINF":
			durS, _, _ := strings.Cut(val, ",")
			var d float64
			d, err = strconv.ParseFloat(durS, 64)
			pendingInf = &d
		case "#EXT-X-PART":
			a := needAttrs()
			if err == nil {
				d, ok := a.float("DURATION")
				if !ok || a["URI"] == "" {
					err = fmt.Errorf("EXT-X-PART needs DURATION and URI")
				}
				cur.Parts = append(cur.Parts, part{URI: a["URI"], Duration: d, Independent: a["INDEPENDENT"] == "YES", Gap: a["GAP"] == "YES", Attrs: a})
			}
		case "#EXT-X-PRELOAD-HINT":
			a := needAttrs()
			p.Hints = append(p.Hints, a)
		case "#EXT-X-RENDITION-REPORT":
			a := needAttrs()
			p.Reports = append(p.Reports, a)
		case "#EXT-X-STREAM-INF":
			p.Multi = true
			pendingStreamInf = needAttrs()
		case "#EXT-X-MEDIA":
			a := needAttrs()
			p.Media = append(p.Media, a)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", line, tag, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if first {
		return nil, fmt.Errorf("empty playlist")
	}
	if pendingInf != nil || pendingStreamInf != nil {
		return nil, fmt.Errorf("playlist ends after a tag that needs a URI line")
	}
	cur.Map = mapURI
	cur.MSN = p.MediaSeq + skipped + len(p.Segments)
	p.Pending = cur
	p.Skipped = skipped
	return p, nil
}

// allParts returns every listed part in order with its MSN and index, and
// whether it is the last listed part of its segment.
type partRef struct {
	MSN, Index int
	Last       bool // last part of a complete segment, or last listed part of the pending segment
	Pending    bool
	part
}

func (p *playlist) allParts() []partRef {
	var out []partRef
	add := func(s segment, pending bool) {
		for i, pt := range s.Parts {
			out = append(out, partRef{MSN: s.MSN, Index: i, Last: i == len(s.Parts)-1, Pending: pending, part: pt})
		}
	}
	for _, s := range p.Segments {
		add(s, false)
	}
	add(p.Pending, true)
	return out
}

// checkLLHLS returns the violations of the LL-HLS rules found in one media
// playlist: target duration, program date-times, part and segment timing
// and the blocking-reload tags (RFC 8216bis §4.4.3.1, §4.4.3.7, §4.4.3.8,
// §4.4.4.9, §4.4.5.2).
func checkLLHLS(p *playlist, live bool) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	const eps = 1e-6
	parts := p.allParts()

	if p.Target <= 0 {
		bad("EXT-X-TARGETDURATION missing")
	}
	for _, s := range p.Segments {
		if int(math.Round(s.Duration)) > p.Target {
			bad("segment %d: EXTINF %.3f rounds above TARGETDURATION %d", s.MSN, s.Duration, p.Target)
		}
		if s.Duration <= 0 {
			bad("segment %d: EXTINF %.3f not positive", s.MSN, s.Duration)
		}
		if s.PDT.IsZero() {
			bad("segment %d: no EXT-X-PROGRAM-DATE-TIME", s.MSN)
		}
		if s.Map == "" {
			bad("segment %d: no EXT-X-MAP in force", s.MSN)
		}
		if len(s.Parts) > 0 {
			sum := 0.0
			for _, pt := range s.Parts {
				sum += pt.Duration
			}
			if math.Abs(sum-s.Duration) > 0.05 {
				bad("segment %d: parts add up to %.3f s, EXTINF says %.3f s", s.MSN, sum, s.Duration)
			}
		}
	}
	if len(p.Pending.Parts) > 0 && p.Pending.PDT.IsZero() {
		bad("segment %d (in progress): its parts are listed without a preceding EXT-X-PROGRAM-DATE-TIME", p.Pending.MSN)
	}
	v = append(v, p.Order...)

	// Rule 1.
	if len(parts) > 0 && p.PartTarget <= 0 {
		bad("parts listed without EXT-X-PART-INF:PART-TARGET")
	}
	if live && len(parts) == 0 {
		bad("live playlist lists no EXT-X-PART")
	}
	// Rule 2.
	for _, r := range parts {
		if r.Duration > p.PartTarget+eps {
			bad("part %d.%d: DURATION %.5f > PART-TARGET %.5f", r.MSN, r.Index, r.Duration, p.PartTarget)
		}
		if !r.Last && !r.Independent && !r.Gap && r.Duration < 0.85*p.PartTarget-eps {
			bad("part %d.%d: DURATION %.5f < 85%% of PART-TARGET %.5f", r.MSN, r.Index, r.Duration, p.PartTarget)
		}
		// a segment starts on a key frame, unless the packager cut a GOP
		// longer than the target duration allows: then the playlist does
		// not declare EXT-X-INDEPENDENT-SEGMENTS
		if r.Index == 0 && !r.Independent && p.Independent {
			bad("part %d.0 starts a segment (a keyframe) but lacks INDEPENDENT=YES", r.MSN)
		}
	}
	// Rule 4.
	if p.Server == nil {
		bad("no EXT-X-SERVER-CONTROL")
	} else {
		if p.Server["CAN-BLOCK-RELOAD"] != "YES" {
			bad("SERVER-CONTROL: CAN-BLOCK-RELOAD=%q, want YES", p.Server["CAN-BLOCK-RELOAD"])
		}
		if phb, ok := p.Server.float("PART-HOLD-BACK"); !ok {
			bad("SERVER-CONTROL: no PART-HOLD-BACK")
		} else if phb < 3*p.PartTarget-eps {
			bad("SERVER-CONTROL: PART-HOLD-BACK %.3f < 3 x PART-TARGET %.3f", phb, p.PartTarget)
		}
		if hb, ok := p.Server.float("HOLD-BACK"); ok && hb < 3*float64(p.Target)-eps {
			bad("SERVER-CONTROL: HOLD-BACK %.3f < 3 x TARGETDURATION %d", hb, p.Target)
		}
		if cs, ok := p.Server.float("CAN-SKIP-UNTIL"); ok && cs < 6*float64(p.Target)-eps {
			bad("SERVER-CONTROL: CAN-SKIP-UNTIL %.3f < 6 x TARGETDURATION %d", cs, p.Target)
		}
	}
	// Rules 5 and 9.
	partHints := 0
	for _, h := range p.Hints {
		if h["TYPE"] == "PART" && h["URI"] != "" {
			partHints++
		}
	}
	switch {
	case live && !p.Endlist && partHints != 1:
		bad("live playlist has %d EXT-X-PRELOAD-HINT TYPE=PART, want 1", partHints)
	case p.Endlist && len(p.Hints) > 0:
		bad("ended playlist still has EXT-X-PRELOAD-HINT")
	}
	// Rule 7: the playlist holds at least 3 target durations (once the stream
	// has had time to produce them; callers decide when that applies).
	return v
}

// checkMultivariant returns the violations of rule 8 in a multivariant playlist.
func checkMultivariant(p *playlist) []string {
	var v []string
	if !p.Multi || len(p.Variants) == 0 {
		return []string{"not a multivariant playlist (no EXT-X-STREAM-INF)"}
	}
	for i, vr := range p.Variants {
		for _, k := range []string{"BANDWIDTH", "CODECS"} {
			if vr.Attrs[k] == "" {
				v = append(v, fmt.Sprintf("variant %d (%s): no %s", i, vr.URI, k))
			}
		}
	}
	return v
}

// resolve resolves ref against base.
func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

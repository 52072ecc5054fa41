package hls

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A small HLS playlist parser for the tests (RFC 8216bis §4). It is strict
// about what this package writes and tolerant of the rest.

type plPart struct {
	dur         float64
	uri         string
	independent bool
}

type plSegment struct {
	disc   bool
	mapURI string
	pdt    time.Time
	parts  []plPart
	dur    float64
	uri    string // "" for the segment in progress
}

type plReport struct {
	uri      string
	lastMSN  int64
	lastPart int64
}

type plStream struct {
	attrs map[string]string
	uri   string
}

type playlist struct {
	version        int
	targetDuration int64
	serverControl  map[string]string
	partTarget     float64
	mediaSeq       int64
	discSeq        int64
	skipped        int64
	segments       []plSegment
	preloadHint    map[string]string
	reports        []plReport
	endlist        bool
	playlistType   string
	independent    bool
	// multivariant
	streams []plStream
	media   []map[string]string
}

// parseAttrs parses an attribute list (RFC 8216bis §4.2).
func parseAttrs(s string) (map[string]string, error) {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("attribute without value in %q", s)
		}
		name := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			val = s[1 : 1+end]
			s = s[2+end:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = s[:end]
			s = s[end:]
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate attribute %s", name)
		}
		out[name] = val
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if s != "" {
			return nil, fmt.Errorf("garbage after attribute %s", name)
		}
	}
	return out, nil
}

func parsePlaylist(text string) (*playlist, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	pl := &playlist{mediaSeq: -1}
	var cur plSegment
	var pendingStream map[string]string
	curMap := ""
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("missing #EXTM3U")
			}
			first = false
			continue
		}
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if pendingStream != nil {
				pl.streams = append(pl.streams, plStream{attrs: pendingStream, uri: line})
				pendingStream = nil
				continue
			}
			if cur.dur <= 0 {
				return nil, fmt.Errorf("URI %q without EXTINF", line)
			}
			cur.uri = line
			cur.mapURI = curMap
			pl.segments = append(pl.segments, cur)
			cur = plSegment{}
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue
		}
		tag, value, _ := strings.Cut(line, ":")
		var err error
		switch tag {
		case "#EXT-X-VERSION":
			pl.version, err = strconv.Atoi(value)
		case "#EXT-X-TARGETDURATION":
			pl.targetDuration, err = strconv.ParseInt(value, 10, 64)
		case "#EXT-X-MEDIA-SEQUENCE":
			pl.mediaSeq, err = strconv.ParseInt(value, 10, 64)
		case "#EXT-X-DISCONTINUITY-SEQUENCE":
			pl.discSeq, err = strconv.ParseInt(value, 10, 64)
		case "#EXT-X-PLAYLIST-TYPE":
			pl.playlistType = value
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			pl.independent = true
		case "#EXT-X-SERVER-CONTROL":
			pl.serverControl, err = parseAttrs(value)
		case "#EXT-X-PART-INF":
			var a map[string]string
			if a, err = parseAttrs(value); err == nil {
				pl.partTarget, err = strconv.ParseFloat(a["PART-TARGET"], 64)
			}
		case "#EXT-X-SKIP":
			var a map[string]string
			if a, err = parseAttrs(value); err == nil {
				pl.skipped, err = strconv.ParseInt(a["SKIPPED-SEGMENTS"], 10, 64)
			}
		case "#EXT-X-DISCONTINUITY":
			if len(cur.parts) > 0 {
				return nil, errors.New("EXT-X-DISCONTINUITY after EXT-X-PART")
			}
			cur.disc = true
		case "#EXT-X-MAP":
			if len(cur.parts) > 0 {
				return nil, errors.New("EXT-X-MAP after EXT-X-PART")
			}
			var a map[string]string
			if a, err = parseAttrs(value); err == nil {
				curMap = a["URI"]
			}
		case "#EXT-X-PROGRAM-DATE-TIME":
			if len(cur.parts) > 0 {
				return nil, errors.New("EXT-X-PROGRAM-DATE-TIME after EXT-X-PART")
			}
			cur.pdt, err = time.Parse(time.RFC3339Nano, value)
		case "#EXT-X-PART":
			var a map[string]string
			if a, err = parseAttrs(value); err == nil {
				var p plPart
				p.dur, err = strconv.ParseFloat(a["DURATION"], 64)
				p.uri = a["URI"]
				p.independent = a["INDEPENDENT"] == "YES"
				if p.uri == "" {
					err = errors.New("EXT-X-PART without URI")
				}
				cur.parts = append(cur.parts, p)
			}
		case "#EXTINF":
			d, _, _ := strings.Cut(value, ",")
			cur.dur, err = strconv.ParseFloat(d, 64)
			if err == nil && cur.dur <= 0 {
				err = errors.New("EXTINF not positive")
			}
		case "#EXT-X-PRELOAD-HINT":
			pl.preloadHint, err = parseAttrs(value)
		case "#EXT-X-RENDITION-REPORT":
			var a map[string]string
			if a, err = parseAttrs(value); err == nil {
				var rr plReport
				rr.uri = a["URI"]
				if rr.lastMSN, err = strconv.ParseInt(a["LAST-MSN"], 10, 64); err == nil {
					rr.lastPart, err = strconv.ParseInt(a["LAST-PART"], 10, 64)
				}
				pl.reports = append(pl.reports, rr)
			}
		case "#EXT-X-ENDLIST":
			pl.endlist = true
		case "#EXT-X-STREAM-INF":
			pendingStream, err = parseAttrs(value)
		case "#EXT-X-MEDIA":
			var a map[string]string
			if a, err = parseAttrs(value); err == nil {
				pl.media = append(pl.media, a)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tag, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if first {
		return nil, errors.New("empty playlist")
	}
	if len(cur.parts) > 0 || cur.disc || !cur.pdt.IsZero() {
		cur.mapURI = curMap
		pl.segments = append(pl.segments, cur) // in progress
	}
	return pl, nil
}

func FuzzParsePlaylist(f *testing.F) {
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.m4s\n")
	f.Add("#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"p.m4s\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"x\"\n")
	f.Add("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\"\nv/media.m3u8\n")
	f.Fuzz(func(t *testing.T, s string) {
		pl, err := parsePlaylist(s)
		if err != nil {
			return
		}
		for _, seg := range pl.segments {
			if seg.uri != "" && seg.dur <= 0 {
				t.Fatalf("segment without duration accepted")
			}
		}
	})
}

func TestParseAttrs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{`A=1,B="x,y",C=YES`, map[string]string{"A": "1", "B": "x,y", "C": "YES"}, false},
		{`URI="a?b=c"`, map[string]string{"URI": "a?b=c"}, false},
		{`A="x`, nil, true},
		{`A=1,A=2`, nil, true},
		{`=1`, nil, true},
	} {
		got, err := parseAttrs(tc.in)
		if (err != nil) != tc.err {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if !tc.err && fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("%q: got %v want %v", tc.in, got, tc.want)
		}
	}
}

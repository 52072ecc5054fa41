package upload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// outSegment is one segment of the playlist ffmpeg's HLS muxer wrote.
type outSegment struct {
	File     string // base name in the output directory
	Duration time.Duration
}

// maxOutSegments bounds the segments of one video (a week at 4 s).
const maxOutSegments = 200_000

// parseOutput reads the VOD media playlist ffmpeg wrote (RFC 8216bis
// §4.4.4.1 EXTINF, §4.4.4.5 EXT-X-MAP) and returns its init segment's and
// segments' file names, which must be plain names in the same directory.
func parseOutput(b []byte) (initFile string, segs []outSegment, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var pending time.Duration = -1
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			if initFile != "" {
				return "", nil, errors.New("playlist: more than one EXT-X-MAP")
			}
			uri, ok := attr(line[len("#EXT-X-MAP:"):], "URI")
			if !ok || !plainName(uri) {
				return "", nil, fmt.Errorf("playlist: bad EXT-X-MAP %q", line)
			}
			initFile = uri
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(line[len("#EXTINF:"):], ",")
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || !(f >= 0) || f > 3600 {
				return "", nil, fmt.Errorf("playlist: bad EXTINF %q", line)
			}
			pending = time.Duration(f * float64(time.Second))
		case strings.HasPrefix(line, "#"):
		default:
			if pending < 0 || !plainName(line) {
				return "", nil, fmt.Errorf("playlist: unexpected line %q", line)
			}
			if len(segs) == maxOutSegments {
				return "", nil, errors.New("playlist: too many segments")
			}
			segs = append(segs, outSegment{File: line, Duration: pending})
			pending = -1
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, fmt.Errorf("playlist: %w", err)
	}
	if initFile == "" || len(segs) == 0 {
		return "", nil, errors.New("playlist: no init segment or no segment")
	}
	return initFile, segs, nil
}

// attr returns the value of attribute name of an attribute list
// (RFC 8216bis §4.2), unquoted.
func attr(list, name string) (string, bool) {
	for list != "" {
		var kv string
		if i := strings.IndexByte(list, '='); i >= 0 && i+1 < len(list) && list[i+1] == '"' {
			end := strings.IndexByte(list[i+2:], '"')
			if end < 0 {
				return "", false
			}
			kv, list = list[:i+2+end+1], strings.TrimPrefix(list[i+2+end+1:], ",")
		} else {
			kv, list, _ = strings.Cut(list, ",")
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// plainName reports whether s is a file name without a directory.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && path.Base(s) == s && !strings.ContainsAny(s, `\/?#:`) && len(s) <= 64
}

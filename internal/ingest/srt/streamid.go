package srt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxStreamIDLen is the longest stream id SRT carries (SRT RFC draft
// draft-sharabayko-srt §3.2.1.3: the SID extension holds up to 512 bytes).
const maxStreamIDLen = 512

// Errors of parseStreamID.
var (
	// ErrBadStreamID means the stream id is malformed.
	ErrBadStreamID = errors.New("malformed stream id")
	// ErrNotPublish means the stream id asks for another mode than publish
	// (playback over SRT is not offered).
	ErrNotPublish = errors.New("stream id mode is not publish")
)

// streamID is what MpegFlow reads from an SRT stream id.
type streamID struct {
	// Key is the stream key; empty when the stream id names none.
	Key string
}

// parseStreamID reads the stream key from an SRT stream id in one of three
// forms:
//
//   - the SRT Access Control syntax (SRT AccessControl.md, "Standard
//     Keys"): "#!::" followed by comma-separated key=value pairs, of which
//     r (resource: the stream key) and m (mode) are read and the others
//     ignored. m must be "publish"; a missing m is taken as publish,
//     because MpegFlow serves no SRT playback ("request" is refused with
//     ErrNotPublish);
//   - "publish:KEY" (the prefix form of mediamtx and others); "read:..."
//     and "request:..." are refused with ErrNotPublish;
//   - the bare "KEY".
//
// An empty stream id, or one of the forms above without a key, yields an
// empty Key and no error: the caller rejects it as an unknown key.
func parseStreamID(s string) (streamID, error) {
	if len(s) > maxStreamIDLen {
		return streamID{}, fmt.Errorf("%w: longer than %d bytes", ErrBadStreamID, maxStreamIDLen)
	}
	s = decodeEncoded(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return streamID{}, fmt.Errorf("%w: control character at byte %d", ErrBadStreamID, i)
		}
	}
	if rest, ok := strings.CutPrefix(s, "#!::"); ok {
		return parseAccessControl(rest)
	}
	if strings.HasPrefix(s, "#!") {
		return streamID{}, fmt.Errorf("%w: unsupported access control syntax", ErrBadStreamID)
	}
	if key, ok := strings.CutPrefix(s, "publish:"); ok {
		return streamID{Key: key}, nil
	}
	for _, p := range []string{"read:", "request:", "play:"} {
		if strings.HasPrefix(s, p) {
			return streamID{}, fmt.Errorf("%w: %q", ErrNotPublish, strings.TrimSuffix(p, ":"))
		}
	}
	return streamID{Key: s}, nil
}

// decodeEncoded undoes the percent-encoding of a stream id that was
// written URL-encoded into an srt:// URL and passed on verbatim (ffmpeg
// before 6.1 does not decode the streamid query parameter): only a stream
// id that starts with an encoded "#!::" or "publish:" is decoded, so bare
// keys are never altered.
func decodeEncoded(s string) string {
	l := strings.ToLower(s)
	if !strings.HasPrefix(l, "%23%21%3a%3a") && !strings.HasPrefix(l, "publish%3a") {
		return s
	}
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// parseAccessControl parses the key=value list that follows "#!::".
func parseAccessControl(s string) (streamID, error) {
	var id streamID
	var haveR, haveM bool
	if s == "" {
		return id, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return streamID{}, fmt.Errorf("%w: access control entry without key=value", ErrBadStreamID)
		}
		switch k {
		case "r":
			if haveR {
				return streamID{}, fmt.Errorf("%w: duplicate r", ErrBadStreamID)
			}
			haveR, id.Key = true, v
		case "m":
			if haveM {
				return streamID{}, fmt.Errorf("%w: duplicate m", ErrBadStreamID)
			}
			haveM = true
			if v != "publish" {
				return streamID{}, fmt.Errorf("%w: %q", ErrNotPublish, v)
			}
		}
	}
	return id, nil
}

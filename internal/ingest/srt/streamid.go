package srt

import (
	"errors"
	"fmt"
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
// before 6.1 does not decode the streamid query parameter), wholly or in
// part ("%23!::r=KEY,m=publish", as shell examples write it): every valid
// %XX escape is decoded (RFC 3986 §2.1), invalid ones are kept as they
// are. Only a stream id whose decoded form is structured ("#!::" or
// "publish:") is decoded, so bare keys are never altered.
func decodeEncoded(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	d := unescapeValid(s)
	if strings.HasPrefix(d, "#!::") || strings.HasPrefix(d, "publish:") {
		return d
	}
	return s
}

// unescapeValid decodes every %XX with two hex digits and keeps anything
// else, an invalid escape included, unchanged.
func unescapeValid(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
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

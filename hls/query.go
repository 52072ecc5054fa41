package hls

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// skipMode is the _HLS_skip delivery directive (RFC 8216bis §6.2.5.1).
type skipMode int

const (
	skipNone skipMode = iota
	skipYes           // _HLS_skip=YES
	skipV2            // _HLS_skip=v2: also skips EXT-X-DATERANGE
)

// directives are the delivery directives of a playlist request
// (RFC 8216bis §6.2.5.1-2) and the rest of its query string.
type directives struct {
	msn   int64 // _HLS_msn, -1 if absent
	part  int64 // _HLS_part, -1 if absent
	skip  skipMode
	carry string // the query string minus _HLS_ parameters, to append to URIs
}

var errBadDirective = errors.New("hls: bad delivery directive")

// parseDirectives parses a raw query string. Parameters whose name starts with
// "_HLS_" are directives: known ones are validated, unknown ones dropped. The
// other parameters are kept verbatim, in order, in carry.
func parseDirectives(raw string) (directives, error) {
	d := directives{msn: -1, part: -1}
	if raw == "" {
		return d, nil
	}
	var carry strings.Builder
	seen := 0
	for len(raw) > 0 {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		rk, rv, _ := strings.Cut(kv, "=")
		k, err := url.QueryUnescape(rk)
		if err != nil && strings.HasPrefix(rk, "_HLS_") {
			return d, errBadDirective
		}
		if err != nil || !strings.HasPrefix(k, "_HLS_") {
			if carry.Len() > 0 {
				carry.WriteByte('&')
			}
			carry.WriteString(kv)
			continue
		}
		v, err := url.QueryUnescape(rv)
		if err != nil {
			return d, errBadDirective
		}
		var bit int
		switch k {
		case "_HLS_msn":
			bit = 1
			d.msn, err = parseDirectiveInt(v)
		case "_HLS_part":
			bit = 2
			d.part, err = parseDirectiveInt(v)
		case "_HLS_skip":
			bit = 4
			switch v {
			case "YES":
				d.skip = skipYes
			case "v2":
				d.skip = skipV2
			default:
				err = errBadDirective
			}
		default:
			continue
		}
		if err != nil || seen&bit != 0 {
			return d, errBadDirective
		}
		seen |= bit
	}
	if d.part >= 0 && d.msn < 0 {
		return d, errBadDirective // _HLS_part without _HLS_msn, §6.2.5.2
	}
	d.carry = sanitizeQuery(carry.String())
	return d, nil
}

// sanitizeQuery percent-encodes the bytes that could break out of a
// playlist's quoted-string or line (RFC 8216bis §4.2).
func sanitizeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == '"' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return q
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == '"' || c >= 0x7f {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func parseDirectiveInt(v string) (int64, error) {
	if v == "" || v[0] < '0' || v[0] > '9' {
		return 0, errBadDirective
	}
	n, err := strconv.ParseUint(v, 10, 62)
	if err != nil {
		return 0, errBadDirective
	}
	return int64(n), nil
}

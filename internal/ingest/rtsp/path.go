package rtsp

import (
	"errors"
	"strings"
)

// ErrBadPath means the request URL's path is not /live/STREAM_KEY.
var ErrBadPath = errors.New("rtsp path must be /live/STREAM_KEY")

// keyDelims end a stream key in a path, and in text being redacted; a key
// containing one is refused, so that redaction always covers a whole key.
const keyDelims = "/?#\"' \t\r\n)\x00"

// maxKeyLen bounds the stream key taken from a path; keys are far shorter.
const maxKeyLen = 256

// parsePath returns the stream key of a publish path: "live/KEY" or
// "/live/KEY", with an optional trailing slash (RFC 2326 §3.2 rtsp_URL
// abs_path, as gortsplib passes it without the query). The key is opaque
// here: it is looked up, never logged.
func parsePath(p string) (string, error) {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	rest, ok := strings.CutPrefix(p, "live/")
	if !ok || rest == "" || len(rest) > maxKeyLen || strings.ContainsAny(rest, keyDelims) {
		return "", ErrBadPath
	}
	return rest, nil
}

// redactPath replaces the stream key of every "/live/KEY" in s (an error
// text of the RTSP library may quote a request URL) so that logs never carry
// a key.
func redactPath(s string) string {
	const marker = "/live/"
	var b strings.Builder
	for {
		i := strings.Index(s, marker)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+len(marker)])
		s = s[i+len(marker):]
		j := strings.IndexAny(s, keyDelims)
		if j < 0 {
			j = len(s)
		}
		if j > 0 {
			b.WriteString("***")
		}
		s = s[j:]
	}
}

package restream

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	gosrt "github.com/datarhei/gosrt"
)

// ErrBadURL means a target URL cannot be used: an unsupported scheme, no
// host, or SRT options gosrt refuses.
var ErrBadURL = errors.New("bad target URL")

// Default ports of the target schemes.
const (
	portRTMP  = "1935"
	portRTMPS = "443"
)

// Target is where an output pushes to.
type Target struct {
	// URL is rtmp://host[:port]/app[/...], rtmps://... (TLS, certificate
	// verified) or srt://host:port?streamid=...&passphrase=... (caller
	// mode; the query parameters as ffmpeg's and srt-live-transmit's).
	URL string
	// StreamKey is the RTMP publishing name (RTMP spec §7.2.2.6); empty
	// means the URL's last path element is the name. For SRT it is the
	// stream id when the URL names none.
	StreamKey string
	// TLSSkipVerify turns certificate verification off for rtmps; only
	// when asked for explicitly.
	TLSSkipVerify bool
}

// dialTarget is a Target resolved for dialing.
type dialTarget struct {
	scheme string // rtmp, rtmps, srt
	addr   string // host:port
	host   string // TLS server name
	// RTMP
	app, tcURL, name string
	// SRT
	srt gosrt.Config
}

// ValidateURL reports whether rawURL is a target URL an output can use; the
// error names the problem (never the URL's secrets).
func ValidateURL(rawURL string) error {
	_, err := parseTarget(Target{URL: rawURL, StreamKey: "k"})
	return err
}

// ValidateTarget reports whether t can be dialed: ValidateURL, and for
// RTMP a stream key or a stream name at the end of the URL's path.
func ValidateTarget(t Target) error {
	_, err := parseTarget(t)
	return err
}

func parseTarget(t Target) (dialTarget, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return dialTarget{}, fmt.Errorf("%w: not a URL", ErrBadURL)
	}
	d := dialTarget{scheme: strings.ToLower(u.Scheme), host: u.Hostname()}
	if d.host == "" {
		return dialTarget{}, fmt.Errorf("%w: no host", ErrBadURL)
	}
	port := u.Port()
	switch d.scheme {
	case "rtmp", "rtmps":
		if port == "" {
			port = portRTMP
			if d.scheme == "rtmps" {
				port = portRTMPS
			}
		}
		path := strings.Trim(u.Path, "/")
		d.name = t.StreamKey
		if d.name == "" {
			i := strings.LastIndexByte(path, '/')
			if i < 0 {
				return dialTarget{}, fmt.Errorf("%w: no stream key and no stream name in the path", ErrBadURL)
			}
			path, d.name = path[:i], path[i+1:]
		}
		if path == "" {
			return dialTarget{}, fmt.Errorf("%w: no application in the path", ErrBadURL)
		}
		d.app = path
		if u.RawQuery != "" {
			d.app += "?" + u.RawQuery
		}
		tc := *u
		tc.Path, tc.RawPath, tc.RawQuery, tc.User = "/"+path, "", u.RawQuery, nil
		d.tcURL = tc.String()
	case "srt":
		if port == "" {
			return dialTarget{}, fmt.Errorf("%w: srt needs a port", ErrBadURL)
		}
		d.srt = gosrt.DefaultConfig()
		d.srt.PayloadSize = 7 * 188 // whole TS packets per SRT packet, as ffmpeg writes
		if err := d.srt.UnmarshalQuery(u.RawQuery); err != nil {
			return dialTarget{}, fmt.Errorf("%w: srt query", ErrBadURL)
		}
		if d.srt.StreamId == "" {
			d.srt.StreamId = t.StreamKey
		}
		if err := d.srt.Validate(); err != nil {
			return dialTarget{}, fmt.Errorf("%w: %s", ErrBadURL, scrubSRTError(err))
		}
	default:
		return dialTarget{}, fmt.Errorf("%w: scheme must be rtmp, rtmps or srt", ErrBadURL)
	}
	d.addr = net.JoinHostPort(d.host, port)
	return d, nil
}

// scrubSRTError keeps gosrt's validation message, which names limits and
// never values.
func scrubSRTError(err error) string {
	return strings.TrimPrefix(err.Error(), "config: ")
}

// MaskTarget is MaskURL of t's URL, with also the last element of an RTMP
// URL's path masked when t has no StreamKey (the key is then that
// element).
func MaskTarget(t Target) string {
	m := MaskURL(t.URL)
	if t.StreamKey != "" || !strings.HasPrefix(strings.ToLower(m), "rtmp") {
		return m
	}
	u, err := url.Parse(m)
	if err != nil {
		return ""
	}
	if i := strings.LastIndexByte(u.Path, '/'); i > 0 && i < len(u.Path)-1 {
		u.Path = u.Path[:i+1] + "****"
		u.RawPath = ""
	}
	return unescapeMask(u.String())
}

// MaskURL returns rawURL with its secrets replaced by "****": the password
// of the user info, and the passphrase and streamid query parameters (an
// SRT stream id carries the target's stream key). It is what the API shows
// and what logs may carry.
func MaskURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "****")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if strings.EqualFold(k, "passphrase") || strings.EqualFold(k, "streamid") {
				q.Set(k, "****")
			}
		}
		u.RawQuery = q.Encode()
	}
	return unescapeMask(u.String())
}

// unescapeMask shows the mask as "****" rather than percent-encoded.
func unescapeMask(s string) string { return strings.ReplaceAll(s, "%2A%2A%2A%2A", "****") }

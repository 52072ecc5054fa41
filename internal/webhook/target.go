package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// maxURLLen bounds a webhook URL.
const maxURLLen = 2048

// ParseURL checks the syntax of a webhook URL: absolute, http or https, a
// host, no user information, no fragment, at most 2048 bytes. It does not
// resolve the host (see CheckTarget). Errors wrap ErrInvalidURL.
func ParseURL(raw string) (*url.URL, error) {
	if raw == "" || len(raw) > maxURLLen {
		return nil, fmt.Errorf("%w: must be 1-%d bytes", ErrInvalidURL, maxURLLen)
	}
	if strings.ContainsAny(raw, " \t\r\n\x00") {
		return nil, fmt.Errorf("%w: contains whitespace or control characters", ErrInvalidURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidURL, "not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: the scheme must be http or https", ErrInvalidURL)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: a host is required", ErrInvalidURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user information is not allowed (use the signature)", ErrInvalidURL)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("%w: a fragment is not allowed", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
			return nil, fmt.Errorf("%w: bad port", ErrInvalidURL)
		}
	}
	return u, nil
}

// forbiddenAddr reports whether a is an address webhooks must not reach:
// loopback, link-local, private (RFC 1918, RFC 4193), multicast,
// unspecified, CGNAT (RFC 6598) or an IPv4-mapped form of those.
func forbiddenAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsPrivate() || a.IsUnspecified() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		if b[0] == 0 || (b[0] == 100 && b[1]&0xc0 == 64) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return true
		}
	}
	return false
}

// Resolver looks hosts up; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckTarget validates raw with ParseURL and, unless allowPrivate, refuses
// it when its host resolves to any forbidden address (a literal address is
// checked as is). Errors wrap ErrInvalidURL or ErrForbiddenTarget.
func CheckTarget(ctx context.Context, r Resolver, raw string, allowPrivate bool) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if forbiddenAddr(a) {
			return fmt.Errorf("%w: %s", ErrForbiddenTarget, a)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, host)
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: cannot resolve %s", ErrInvalidURL, host)
	}
	for _, a := range addrs {
		if forbiddenAddr(a) {
			return fmt.Errorf("%w: %s resolves to %s", ErrForbiddenTarget, host, a)
		}
	}
	return nil
}

// dialControl refuses connections to forbidden addresses at connect time,
// after DNS resolution, so a name that changes to a private address after
// the check (DNS rebinding) is still refused.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
	}
	if forbiddenAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, ap.Addr())
	}
	return nil
}

// dialer returns the dialer of deliveries.
func dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: DefaultTimeout}
	if !allowPrivate {
		d.Control = dialControl
	}
	return d
}

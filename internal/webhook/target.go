package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/mpegflow/mpegflow/internal/netguard"
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

// Resolver looks hosts up; *net.Resolver satisfies it.
type Resolver = netguard.Resolver

// CheckTarget validates raw with ParseURL and refuses it when the guard
// does: its host resolves to any special-purpose address or one of this
// machine's (a literal address is checked as is). Deliveries check again
// at connect time through the same guard. Errors wrap ErrInvalidURL or
// ErrForbiddenTarget.
func CheckTarget(ctx context.Context, g *netguard.Guard, raw string) error {
	if _, err := ParseURL(raw); err != nil {
		return err
	}
	err := g.CheckURL(ctx, raw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, netguard.ErrForbidden):
		return fmt.Errorf("%w: %w", ErrForbiddenTarget, err)
	default:
		return fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
}

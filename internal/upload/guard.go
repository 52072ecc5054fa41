package upload

import (
	"context"
	"fmt"
	"net"
	"net/url"
)

// Guard decides which URLs the server may fetch when it copies a video
// from a URL (server-side request forgery): the URL before the first
// request and at every redirect hop, and the address at every dial, after
// DNS resolution (so a name that resolves to a private address only later
// is refused too). *netguard.Guard, the daemon's one SSRF guard,
// satisfies it.
type Guard interface {
	// CheckURL refuses a URL whose host is, or resolves to, a forbidden
	// address.
	CheckURL(ctx context.Context, raw string) error
	// DialContext dials, refusing forbidden addresses.
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// checkSourceURL accepts absolute http and https URLs without user
// information (a copy's source, and each redirect's target).
func checkSourceURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: not a URL", ErrForbiddenSource)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: an http or https URL with a host and no user information is required", ErrForbiddenSource)
	}
	return nil
}

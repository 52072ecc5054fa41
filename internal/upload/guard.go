package upload

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/mpegflow/mpegflow/internal/webhook"
)

// Guard decides which URLs the server may fetch when it copies a video
// from a URL (server-side request forgery): the URL before the first
// request and at every redirect hop, and the address at every dial, after
// DNS resolution (so a name that resolves to a private address only later
// is refused too).
type Guard interface {
	// CheckURL refuses a URL whose syntax is bad or whose host is, or
	// resolves to, a forbidden address.
	CheckURL(ctx context.Context, raw string) error
	// Control is a net.Dialer Control function refusing forbidden
	// addresses.
	Control(network, address string, c syscall.RawConn) error
}

// WebhookGuard is the Guard of webhook targets (internal/webhook): http
// and https only, no loopback, link-local, private, CGNAT, multicast or
// unspecified address. AllowPrivate lets everything through (tests,
// private networks).
type WebhookGuard struct {
	Resolver     webhook.Resolver // default net.DefaultResolver
	AllowPrivate bool
}

var _ Guard = WebhookGuard{}

// CheckURL implements Guard.
func (g WebhookGuard) CheckURL(ctx context.Context, raw string) error {
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return webhook.CheckTarget(ctx, r, raw, g.AllowPrivate)
}

// Control implements Guard: the dialed address is a literal IP and port,
// checked as a URL host without resolution.
func (g WebhookGuard) Control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	return webhook.CheckTarget(context.Background(), noResolver{}, "http://"+address+"/", false)
}

// noResolver resolves nothing: a dialed address is already an IP.
type noResolver struct{}

func (noResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("no resolution at dial time")
}

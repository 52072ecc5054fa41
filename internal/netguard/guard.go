package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrForbidden is wrapped by every refusal of the guard.
var ErrForbidden = errors.New("address not allowed")

// Resolver looks hosts up; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config shapes a Guard.
type Config struct {
	// AllowPrivate turns the guard off (tests, and deployments whose
	// targets are on the private network by design). Default false.
	AllowPrivate bool
	// TrustedHosts are host names or literal addresses an operator
	// configured (an admission hook's host): dials naming them are not
	// checked. A redirect elsewhere is. Default none.
	TrustedHosts []string
	// Resolver resolves host names in CheckURL; default net.DefaultResolver.
	Resolver Resolver
	// InterfaceAddrs lists the machine's own addresses; default
	// net.InterfaceAddrs. They are re-read at most every LocalTTL
	// (default 30 s).
	InterfaceAddrs func() ([]net.Addr, error)
	LocalTTL       time.Duration
	// Timeout is the connect timeout of Dialer; default 10 s.
	Timeout time.Duration
}

// Guard refuses outbound connections to special-purpose addresses
// (Special) and to the machine's own interface addresses. Safe for
// concurrent use.
type Guard struct {
	cfg     Config
	trusted map[string]bool

	mu      sync.Mutex
	local   map[netip.Addr]bool
	localAt time.Time
}

// New returns a Guard.
func New(cfg Config) *Guard {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.InterfaceAddrs == nil {
		cfg.InterfaceAddrs = net.InterfaceAddrs
	}
	if cfg.LocalTTL <= 0 {
		cfg.LocalTTL = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	g := &Guard{cfg: cfg, trusted: map[string]bool{}}
	for _, h := range cfg.TrustedHosts {
		g.trusted[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return g
}

// Check returns an error wrapping ErrForbidden when a must not be reached.
func (g *Guard) Check(a netip.Addr) error {
	if g.cfg.AllowPrivate {
		return nil
	}
	if Special(a) {
		return fmt.Errorf("%w: %s is a special-purpose address", ErrForbidden, a)
	}
	if g.isLocal(a.Unmap()) {
		return fmt.Errorf("%w: %s is an address of this machine", ErrForbidden, a)
	}
	return nil
}

func (g *Guard) isLocal(a netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.local == nil || time.Since(g.localAt) > g.cfg.LocalTTL {
		g.local = map[netip.Addr]bool{}
		g.localAt = time.Now()
		if addrs, err := g.cfg.InterfaceAddrs(); err == nil {
			for _, ad := range addrs {
				if p, err := netip.ParsePrefix(ad.String()); err == nil {
					g.local[p.Addr().Unmap().WithZone("")] = true
				} else if x, err := netip.ParseAddr(ad.String()); err == nil {
					g.local[x.Unmap().WithZone("")] = true
				}
			}
		}
	}
	return g.local[a.WithZone("")]
}

// CheckURL refuses raw when its host is "localhost" (or under it) or
// resolves to any address Check refuses; a literal address is checked as
// is. It is the early answer for a URL an API client submits; the dial-time
// check (Control) is the one that holds.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%w: no host in the URL", ErrForbidden)
	}
	if g.cfg.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if g.trusted[strings.ToLower(host)] {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return g.Check(a)
	}
	if lh := strings.ToLower(strings.TrimSuffix(host, ".")); lh == "localhost" || strings.HasSuffix(lh, ".localhost") {
		return fmt.Errorf("%w: %s", ErrForbidden, host)
	}
	addrs, err := g.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return fmt.Errorf("%s resolves to %w", host, err)
		}
	}
	return nil
}

// Control is a net.Dialer.Control function: it refuses the connection
// when the resolved address is one Check refuses. It runs for every
// connection attempt, so a redirect to, or a DNS answer changed to, a
// forbidden address is refused too.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbidden, address)
	}
	return g.Check(ap.Addr())
}

// DialContext dials like a net.Dialer with Control, except for the hosts
// in TrustedHosts, dialed unchecked.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: g.cfg.Timeout}
	if host, _, err := net.SplitHostPort(address); err != nil || !g.trusted[strings.ToLower(host)] {
		if !g.cfg.AllowPrivate {
			d.Control = g.Control
		}
	}
	return d.DialContext(ctx, network, address)
}

// Transport returns an http.Transport that dials through the guard, with
// no proxy from the environment (a proxy would dial the target instead,
// unchecked).
func (g *Guard) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

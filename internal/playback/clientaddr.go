package playback

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the trusted reverse proxies (http.trusted_proxies): only
// their X-Forwarded-For and Forwarded headers are believed.
type Proxies struct{ nets []netip.Prefix }

// ParseProxies parses CIDRs or bare addresses.
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for i, s := range list {
		pr, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return Proxies{}, fmt.Errorf("trusted_proxies[%d]: %w", i, err)
		}
		p.nets = append(p.nets, pr)
	}
	return p, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the address of the client of r: the socket peer, unless
// the peer is a trusted proxy; then the forwarding headers are walked from
// the nearest hop backwards (Forwarded, RFC 7239 §4, preferred over
// X-Forwarded-For), skipping trusted proxies, and the first untrusted
// address is the client. Headers from untrusted peers are ignored.
func (p Proxies) ClientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if len(p.nets) == 0 || !peer.IsValid() || !p.trusted(peer) {
		return peer
	}
	var hops []netip.Addr
	if f := r.Header.Values("Forwarded"); len(f) > 0 {
		hops = ParseForwarded(strings.Join(f, ","))
	} else if x := r.Header.Values("X-Forwarded-For"); len(x) > 0 {
		hops = ParseXFF(strings.Join(x, ","))
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if !hops[i].IsValid() {
			break // an unknown or obfuscated hop: stop at the last proxy
		}
		client = hops[i]
		if !p.trusted(client) {
			break
		}
	}
	return client
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	h, _, err := net.SplitHostPort(remote)
	if err != nil {
		h = remote
	}
	a, _ := netip.ParseAddr(h)
	return a.Unmap()
}

// ParseXFF parses X-Forwarded-For: comma-separated addresses, nearest
// last. An element that is not an address is the invalid Addr.
func ParseXFF(v string) []netip.Addr {
	parts := strings.Split(v, ",")
	if len(parts) > 64 {
		parts = parts[len(parts)-64:]
	}
	out := make([]netip.Addr, 0, len(parts))
	for _, s := range parts {
		out = append(out, parseNode(strings.TrimSpace(s)))
	}
	return out
}

// ParseForwarded returns the for= node of every element of a Forwarded
// header (RFC 7239 §4), nearest last: quoted strings are unquoted,
// "[v6]:port" and "v4:port" lose their port; "unknown" and obfuscated
// identifiers (§6.3) are the invalid Addr.
func ParseForwarded(v string) []netip.Addr {
	var out []netip.Addr
	for elem := range splitQuoted(v, ',') {
		if len(out) >= 64 {
			out = out[1:]
		}
		found := netip.Addr{}
		for pair := range splitQuoted(elem, ';') {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
				continue
			}
			val = strings.TrimSpace(val)
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = strings.ReplaceAll(val[1:len(val)-1], `\`, "")
			}
			found = parseNode(val)
			break
		}
		out = append(out, found)
	}
	return out
}

// parseNode parses "addr", "addr:port", "[v6]" or "[v6]:port".
func parseNode(s string) netip.Addr {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}
		}
		s = s[1:end]
	} else if strings.Count(s, ":") == 1 {
		s, _, _ = strings.Cut(s, ":")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// splitQuoted yields the parts of s between sep, ignoring sep inside
// double quotes (RFC 7230 §3.2.6 quoted-string).
func splitQuoted(s string, sep byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		start, inQ, esc := 0, false, false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case esc:
				esc = false
			case inQ && c == '\\':
				esc = true
			case c == '"':
				inQ = !inQ
			case !inQ && c == sep:
				if !yield(s[start:i]) {
					return
				}
				start = i + 1
			}
		}
		yield(s[start:])
	}
}

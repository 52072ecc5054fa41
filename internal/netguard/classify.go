// Package netguard is the one guard against server-side request forgery
// (SSRF): it decides which addresses the daemon's outbound HTTP requests
// may reach (webhook deliveries, admission hooks, URL imports). Addresses
// in any special-purpose range of the IANA registries, and the machine's
// own interface addresses, are refused; the check runs at dial time
// (net.Dialer.Control), after DNS resolution, so redirects and DNS
// rebinding are covered too.
package netguard

import (
	"net/netip"
)

// blocked4 are the IPv4 ranges of the IANA IPv4 Special-Purpose Address
// Registry (RFC 6890 and updates), all refused, plus multicast (RFC 5771)
// and the reserved 240.0.0.0/4 (RFC 1112 §4) with the limited broadcast.
var blocked4 = mustPrefixes(
	"0.0.0.0/8",          // "this network" (RFC 791)
	"10.0.0.0/8",         // private (RFC 1918)
	"100.64.0.0/10",      // shared address space, CGNAT (RFC 6598)
	"127.0.0.0/8",        // loopback (RFC 1122)
	"169.254.0.0/16",     // link-local, cloud metadata (RFC 3927)
	"172.16.0.0/12",      // private (RFC 1918)
	"192.0.0.0/24",       // IETF protocol assignments (RFC 6890)
	"192.0.2.0/24",       // documentation TEST-NET-1 (RFC 5737)
	"192.31.196.0/24",    // AS112-v4 (RFC 7535)
	"192.52.193.0/24",    // AMT (RFC 7450)
	"192.88.99.0/24",     // deprecated 6to4 relay anycast (RFC 7526)
	"192.168.0.0/16",     // private (RFC 1918)
	"192.175.48.0/24",    // direct delegation AS112 (RFC 7534)
	"198.18.0.0/15",      // benchmarking (RFC 2544)
	"198.51.100.0/24",    // documentation TEST-NET-2 (RFC 5737)
	"203.0.113.0/24",     // documentation TEST-NET-3 (RFC 5737)
	"224.0.0.0/4",        // multicast (RFC 5771)
	"240.0.0.0/4",        // reserved (RFC 1112), limited broadcast included
	"255.255.255.255/32", // limited broadcast (RFC 919)
)

// blocked6 are the ranges of the IANA IPv6 Special-Purpose Address
// Registry that lie inside global unicast 2000::/3 (everything outside it
// is refused anyway: ::/128, ::1, IPv4-compatible ::/96, 64:ff9b::/96 and
// 64:ff9b:1::/48 NAT64, 100::/64 discard, fc00::/7, fe80::/10, fec0::/10,
// ff00::/8, 5f00::/16 SRv6).
var blocked6 = mustPrefixes(
	"2001::/23",         // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHIDv2 (RFC 2928)
	"2001:db8::/32",     // documentation (RFC 3849)
	"2002::/16",         // 6to4 (RFC 3056): embeds an IPv4 address
	"2620:4f:8000::/48", // AS112-v6 (RFC 7534)
	"3fff::/20",         // documentation (RFC 9637)
)

var global6 = netip.MustParsePrefix("2000::/3")

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Special reports whether a is an address outbound requests must not
// reach whatever the machine: invalid, or in a special-purpose range
// (blocked4, blocked6, IPv6 outside 2000::/3). An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is judged as its IPv4 address; a zone makes it special.
func Special(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return true
	}
	a = a.Unmap()
	if a.Is4() {
		for _, p := range blocked4 {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !global6.Contains(a) {
		return true
	}
	for _, p := range blocked6 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

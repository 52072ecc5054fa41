package playback

import (
	"net/http"
	"net/url"
	"strings"
)

// RequestOrigin is the origin of the page that made r: the Origin header
// (RFC 6454 §7), else the scheme://host[:port] of the Referer; "" when the
// request says neither (a native player, curl).
func RequestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return o
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "null"
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// OriginAllowed reports whether origin matches one of allowed: "*" matches
// any origin, "https://example.com" matches exactly (ASCII case-insensitive,
// the default port implied), "https://*.example.com" matches any
// subdomain of example.com (not example.com itself) with that scheme and
// port. An empty origin matches only "*"; the serialized opaque origin
// "null" matches nothing else.
func OriginAllowed(origin string, allowed []string) bool {
	o, ok := normOrigin(origin)
	for _, a := range allowed {
		if a == "*" {
			return true
		}
		if !ok {
			continue
		}
		pat, pok := normOrigin(a)
		if !pok {
			continue
		}
		if pat == o {
			return true
		}
		scheme, host, _ := strings.Cut(pat, "://")
		if suffix, wild := strings.CutPrefix(host, "*."); wild {
			os, oh, _ := strings.Cut(o, "://")
			if os == scheme && len(oh) > len(suffix)+1 && strings.HasSuffix(oh, "."+suffix) &&
				!strings.ContainsAny(oh[:len(oh)-len(suffix)-1], ":/@") {
				return true
			}
		}
	}
	return false
}

// normOrigin lower-cases an origin and removes the default port.
func normOrigin(s string) (string, bool) {
	if s == "" || s == "null" || len(s) > 2048 {
		return "", false
	}
	scheme, host, ok := strings.Cut(strings.ToLower(s), "://")
	if !ok || (scheme != "http" && scheme != "https") || host == "" || strings.ContainsAny(host, "/?#@ \\") {
		return "", false
	}
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host, true
}

package playback

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxRules is the most access rules a token may carry (Cloudflare's limit).
const MaxRules = 10

// Rule types and actions (Cloudflare Stream's access rules).
const (
	RuleAny     = "any"              // matches every request
	RuleIPSrc   = "ip.src"           // matches when the client address is in one of IP
	RuleCountry = "ip.geoip.country" // matches when the client's country is in Country
	ActionAllow = "allow"
	ActionBlock = "block"
)

// Rule is one access rule: first match wins; no match allows.
type Rule struct {
	Type    string   `json:"type"`              // any | ip.src | ip.geoip.country
	Action  string   `json:"action"`            // allow | block
	IP      []string `json:"ip,omitempty"`      // CIDRs (or bare addresses) for ip.src
	Country []string `json:"country,omitempty"` // ISO 3166-1 alpha-2 codes for ip.geoip.country

	prefixes []netip.Prefix
}

// ParseRules decodes and validates a JSON array of rules: at most
// MaxRules, known types and actions, valid CIDRs and two-letter country
// codes (upper-cased).
func ParseRules(b []byte) ([]Rule, error) {
	var rules []Rule
	if err := json.Unmarshal(b, &rules); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if err := CompileRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// CompileRules validates rules in place and prepares their prefixes.
func CompileRules(rules []Rule) error {
	if len(rules) > MaxRules {
		return fmt.Errorf("rules: more than %d", MaxRules)
	}
	for i := range rules {
		r := &rules[i]
		if r.Action != ActionAllow && r.Action != ActionBlock {
			return fmt.Errorf("rules[%d]: action must be allow or block", i)
		}
		switch r.Type {
		case RuleAny:
		case RuleIPSrc:
			if len(r.IP) == 0 || len(r.IP) > 64 {
				return fmt.Errorf("rules[%d]: ip must list 1-64 CIDRs", i)
			}
			r.prefixes = make([]netip.Prefix, 0, len(r.IP))
			for _, s := range r.IP {
				p, err := parsePrefix(s)
				if err != nil {
					return fmt.Errorf("rules[%d]: %w", i, err)
				}
				r.prefixes = append(r.prefixes, p)
			}
		case RuleCountry:
			if len(r.Country) == 0 || len(r.Country) > 250 {
				return fmt.Errorf("rules[%d]: country must list 1-250 codes", i)
			}
			for j, c := range r.Country {
				if len(c) != 2 || !isAlpha(c) {
					return fmt.Errorf("rules[%d]: country %q is not ISO 3166-1 alpha-2", i, c)
				}
				r.Country[j] = strings.ToUpper(c)
			}
		default:
			return fmt.Errorf("rules[%d]: unknown type %q", i, r.Type)
		}
	}
	return nil
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("ip %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ip %q: %w", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// CountryFunc returns the ISO 3166-1 alpha-2 country of an address ("" when
// the database has no entry: no country rule matches it), or an error when
// it cannot be known at all (no database).
type CountryFunc func(netip.Addr) (string, error)

// ErrNoCountry means the client's country is unknown; country rules then
// fail closed (the request is refused).
var ErrNoCountry = errors.New("country unknown")

// Evaluate applies rules to a request from addr: the action of the first
// rule that matches, allow when none does. A country rule evaluated without
// a country database refuses the request (fail closed, ErrNoCountry).
func Evaluate(rules []Rule, addr netip.Addr, country CountryFunc) (allow bool, err error) {
	addr = addr.Unmap()
	cc, ccDone := "", false
	for i := range rules {
		r := &rules[i]
		match := false
		switch r.Type {
		case RuleAny:
			match = true
		case RuleIPSrc:
			for _, p := range r.prefixes {
				if p.Contains(addr) {
					match = true
					break
				}
			}
		case RuleCountry:
			if !ccDone {
				ccDone = true
				if country == nil {
					return false, ErrNoCountry
				}
				var cerr error
				if cc, cerr = country(addr); cerr != nil {
					return false, fmt.Errorf("%w: %w", ErrNoCountry, cerr)
				}
			}
			for _, c := range r.Country {
				if c == cc {
					match = true
					break
				}
			}
		}
		if match {
			return r.Action == ActionAllow, nil
		}
	}
	return true, nil
}

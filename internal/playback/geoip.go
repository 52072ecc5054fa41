package playback

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ErrNoDatabase is returned by a nil *GeoIP: country rules fail closed.
var ErrNoDatabase = errors.New("no geoip database configured (geoip.database)")

// GeoIP looks countries up in a MaxMind-format database (GeoLite2/GeoIP2
// Country or City: the country.iso_code member, ISO 3166-1 alpha-2).
// A nil *GeoIP is valid and knows no country.
type GeoIP struct{ r *maxminddb.Reader }

// OpenGeoIP opens the database at path (memory-mapped).
func OpenGeoIP(path string) (*GeoIP, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	return &GeoIP{r: r}, nil
}

// OpenGeoIPBytes opens a database held in memory.
func OpenGeoIPBytes(b []byte) (*GeoIP, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	return &GeoIP{r: r}, nil
}

// Country returns the ISO 3166-1 alpha-2 code of a ("" when the database
// has no entry), or ErrNoDatabase. It implements CountryFunc.
func (g *GeoIP) Country(a netip.Addr) (string, error) {
	if g == nil || g.r == nil {
		return "", ErrNoDatabase
	}
	var rec struct {
		Country struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
	}
	res := g.r.Lookup(a.Unmap())
	if err := res.Err(); err != nil {
		return "", fmt.Errorf("geoip: %w", err)
	}
	if !res.Found() {
		return "", nil
	}
	if err := res.Decode(&rec); err != nil {
		return "", fmt.Errorf("geoip: %w", err)
	}
	return rec.Country.ISOCode, nil
}

// Close releases the database; nil-safe.
func (g *GeoIP) Close() error {
	if g == nil || g.r == nil {
		return nil
	}
	return g.r.Close()
}

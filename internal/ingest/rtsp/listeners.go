package rtsp

import (
	"crypto/tls"
	"fmt"

	"github.com/mpegflow/mpegflow/conf"
)

// Listener is one publish server the configuration asks for, named by
// its setting ("rtsp.address", "rtsps.address").
type Listener struct {
	Setting string
	Config  Config
}

// Listeners returns the servers that rtsp and rtsps ask for, each a copy
// of base with its addresses: rtsp.address with its UDP ports when they are
// set, and rtsps.address (TCP only) with the certificate and key loaded
// here (TLS 1.2 at least). An empty address asks for no server.
func Listeners(rtsp conf.RTSP, rtsps conf.RTSPS, base Config) ([]Listener, error) {
	var ls []Listener
	if rtsp.Address != "" {
		c := base
		c.Address, c.UDPRTPAddress, c.UDPRTCPAddress = rtsp.Address, rtsp.UDPRTPAddress, rtsp.UDPRTCPAddress
		ls = append(ls, Listener{Setting: "rtsp.address", Config: c})
	}
	if rtsps.Enabled() {
		cert, err := tls.LoadX509KeyPair(rtsps.CertFile, rtsps.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("rtsps.cert_file: %w", err)
		}
		c := base
		c.Address = rtsps.Address
		c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ls = append(ls, Listener{Setting: "rtsps.address", Config: c})
	}
	return ls, nil
}

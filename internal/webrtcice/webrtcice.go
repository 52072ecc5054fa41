// Package webrtcice is the ICE transport every WebRTC session of the daemon
// shares, WHIP ingest and WHEP playback alike: one UDP port multiplexed by
// ICE username fragment (an ICE UDP mux: every host candidate, RFC 8445
// §5.1.1.1, is on that port), optionally one TCP port for ICE-TCP passive
// candidates (RFC 6544) for networks that block UDP, and the 1:1 NAT
// addresses advertised in place of the local ones.
package webrtcice

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Defaults of Config.
const (
	DefaultUDPAddress = ":8189"
	// tcpReadBuffer is the per-connection read buffer of the ICE-TCP mux
	// (pion's recommended size for media).
	tcpReadBuffer = 8
)

// Config configures a Mux.
type Config struct {
	// UDPAddress is the one UDP address every session's ICE, DTLS and SRTP
	// share. Default ":8189"; tests use "127.0.0.1:0".
	UDPAddress string
	// TCPAddress, when set, is the one TCP address of ICE-TCP passive
	// candidates (RFC 6544 §4.5), a fallback for clients whose networks
	// block UDP. Default "" (no ICE-TCP).
	TCPAddress string
	// NAT1To1IPs, when set, are advertised as the host candidates'
	// addresses instead of the local ones (deployments behind 1:1 NAT).
	NAT1To1IPs []string
	// Logger receives the mux's logs; nil discards them.
	Logger *slog.Logger
}

// Timeouts are the ICE consent timers of a session (RFC 7675 §5.1).
type Timeouts struct {
	Disconnected, Failed, Keepalive time.Duration
}

// Mux owns the shared sockets. Its zero value is not usable; build it with
// New and Close it once every PeerConnection using it is closed.
type Mux struct {
	cfg    Config
	udp    net.PacketConn
	udpMux ice.UDPMux
	tcp    net.Listener // nil without ICE-TCP
	tcpMux ice.TCPMux
	once   sync.Once
}

// New binds the UDP port (and the TCP port when configured).
func New(cfg Config) (*Mux, error) {
	if cfg.UDPAddress == "" {
		cfg.UDPAddress = DefaultUDPAddress
	}
	for i, ip := range cfg.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("webrtcice: nat 1:1 ip %d: not an IP address: %q", i, ip)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	udp, err := net.ListenPacket("udp", cfg.UDPAddress)
	if err != nil {
		return nil, fmt.Errorf("webrtcice: listen udp %s: %w", cfg.UDPAddress, err)
	}
	// every session's writes go out in batches (batch.go)
	if uc, ok := udp.(*net.UDPConn); ok {
		udp = newBatchConn(uc, cfg.Logger)
	}
	m := &Mux{cfg: cfg, udp: udp, udpMux: webrtc.NewICEUDPMux(nil, udp)}
	if cfg.TCPAddress != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddress)
		if err != nil {
			_ = m.udpMux.Close()
			_ = udp.Close()
			return nil, fmt.Errorf("webrtcice: listen tcp %s: %w", cfg.TCPAddress, err)
		}
		m.tcp, m.tcpMux = ln, webrtc.NewICETCPMux(nil, ln, tcpReadBuffer)
	}
	attrs := []any{"udp_address", udp.LocalAddr().String()}
	if m.tcp != nil {
		attrs = append(attrs, "tcp_address", m.tcp.Addr().String())
	}
	cfg.Logger.Debug("webrtc ice ports bound", attrs...)
	return m, nil
}

// UDPAddr is the bound UDP address.
func (m *Mux) UDPAddr() net.Addr { return m.udp.LocalAddr() }

// TCPAddr is the bound ICE-TCP address, or nil without ICE-TCP.
func (m *Mux) TCPAddr() net.Addr {
	if m.tcp == nil {
		return nil
	}
	return m.tcp.Addr()
}

// SettingEngine returns the settings of one PeerConnection on the shared
// ports: host candidates only (loopback included, mDNS off), the given
// consent timers, the NAT 1:1 rewrite and ICE-TCP when configured.
func (m *Mux) SettingEngine(t Timeouts) (webrtc.SettingEngine, error) {
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(m.udpMux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if m.tcpMux != nil {
		se.SetICETCPMux(m.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	if t.Disconnected > 0 || t.Failed > 0 || t.Keepalive > 0 {
		se.SetICETimeouts(t.Disconnected, t.Failed, t.Keepalive)
	}
	if len(m.cfg.NAT1To1IPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: m.cfg.NAT1To1IPs, AsCandidateType: webrtc.ICECandidateTypeHost,
		})
		if err != nil {
			return webrtc.SettingEngine{}, fmt.Errorf("webrtcice: nat 1:1 ips: %w", err)
		}
	}
	return se, nil
}

// Close closes the muxes and their sockets; idempotent.
func (m *Mux) Close() error {
	var errs []error
	m.once.Do(func() {
		errs = append(errs, m.udpMux.Close(), m.udp.Close())
		if m.tcpMux != nil {
			errs = append(errs, m.tcpMux.Close(), m.tcp.Close())
		}
	})
	return ignoreClosed(errors.Join(errs...))
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

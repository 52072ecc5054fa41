package app

import (
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// openICE binds the ICE transport WHIP ingest and WHEP playback share
// (webrtc.udp_address, webrtc.tcp_address, webrtc.nat_1to1_ips).
func (a *App) openICE() (*webrtcice.Mux, error) {
	return webrtcice.New(webrtcice.Config{
		UDPAddress: a.cfg.WebRTC.UDPAddress,
		TCPAddress: a.cfg.WebRTC.TCPAddress,
		NAT1To1IPs: a.cfg.WebRTC.NAT1To1IPs,
		Logger:     a.log,
	})
}

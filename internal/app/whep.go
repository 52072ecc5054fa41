package app

import (
	"net/http"
	"os/exec"

	"github.com/mpegflow/mpegflow/internal/output/whep"
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

// newWHEP builds WebRTC playback at /whep/ on the shared ICE transport:
// the same playback gate as LL-HLS, key-frame requests to WHIP publishers,
// metrics on the daemon's registry.
func (a *App) newWHEP() (*whep.Server, error) {
	cfg := whep.Config{
		ICE:        a.ice,
		Hub:        a.hub,
		Inputs:     a.dir,
		Gate:       whepGate{a},
		CORSOrigin: a.cfg.HTTP.CORSAllowOrigin,
		Registerer: a.metrics.Registry,
		Logger:     a.log,
	}
	if a.whip != nil {
		cfg.Keyframes = a.whip
	}
	// AAC (RTMP, SRT) becomes Opus once per stream when ffmpeg is here
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		cfg.FFmpegPath, cfg.Capacity = ff, a.ffm
	} else {
		a.log.Warn("ffmpeg not found: WHEP viewers of AAC streams get video only", "error", err)
	}
	return whep.New(cfg)
}

// whepGate runs a WHEP offer through the gate of /live/ (signed playback,
// allowed_origins, access rules, the play admission hook).
type whepGate struct{ a *App }

func (g whepGate) Authorize(w http.ResponseWriter, r *http.Request, idOrToken string) (string, bool) {
	return g.a.checkPlayback(w, r, idOrToken)
}

// whepViewers is the number of WHEP sessions of a live input (0 without
// WHEP), added to its HLS viewers in the API's sessions.
func (a *App) whepViewers(id string) int {
	if a.whep == nil {
		return 0
	}
	return a.whep.Viewers(id)
}

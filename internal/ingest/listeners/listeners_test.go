package listeners

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestNewPortInUse checks that a listener that cannot bind is an error
// naming its setting, with the listeners already bound closed, not a panic
// (the daemon started beside another one on the same ports).
func TestNewPortInUse(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg, err := conf.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RTMP.Address, cfg.RTMPS.Address, cfg.RTSP.Address = "", "", ""
	cfg.WebRTC.UDPAddress = "127.0.0.1:0"
	for _, c := range []struct{ name, srt, webrtc string }{
		{"first listener", busy.LocalAddr().String(), ""},
		{"after one bound", "127.0.0.1:0", busy.LocalAddr().String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg.SRT.Address, cfg.WebRTC.UDPAddress = c.srt, c.webrtc
			hub := stream.NewHub(stream.HubConfig{})
			in, err := New(Config{Conf: cfg, Hub: hub, Metrics: metrics.New("test"), Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				in.Close()
				t.Fatal("New bound a port already in use")
			}
			if in != nil {
				t.Errorf("New returned a set with its error %v", err)
			}
			if !strings.Contains(err.Error(), "address") {
				t.Errorf("error %q does not name the setting", err)
			}
		})
	}
}

package rtsp

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpegflow/mpegflow/conf"
)

func TestListeners(t *testing.T) {
	base := Config{Takeover: true}
	ls, err := Listeners(conf.RTSP{Address: ":8554", UDPRTPAddress: ":8000", UDPRTCPAddress: ":8001"}, conf.RTSPS{}, base)
	if err != nil || len(ls) != 1 {
		t.Fatalf("%v %v", ls, err)
	}
	if l := ls[0]; l.Setting != "rtsp.address" || l.Config.Address != ":8554" || l.Config.UDPRTPAddress != ":8000" ||
		l.Config.UDPRTCPAddress != ":8001" || !l.Config.Takeover || l.Config.TLSConfig != nil {
		t.Fatalf("%+v", l)
	}
	if ls, err := Listeners(conf.RTSP{}, conf.RTSPS{}, base); err != nil || len(ls) != 0 {
		t.Fatalf("none asked: %v %v", ls, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, err = Listeners(conf.RTSP{}, conf.RTSPS{Address: ":8322", CertFile: missing, KeyFile: missing}, base)
	if err == nil || !strings.HasPrefix(err.Error(), "rtsps.cert_file: ") {
		t.Fatalf("missing certificate: %v", err)
	}
}

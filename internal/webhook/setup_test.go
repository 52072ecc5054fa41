package webhook

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/events"
)

// TestSetup: the configuration and the environment's test hooks reach the
// service; a bad retry schedule in the environment names its variable.
func TestSetup(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db.sqlite"))
	bus := events.NewBus()
	defer bus.Close()
	c := SetupConfig{Store: st.Webhooks(), Bus: bus, NodeID: "n1", Version: "1.2", Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler)}
	t.Setenv(EnvAllowPrivate, "1")
	t.Setenv(EnvSchedule, "10ms,20ms")
	svc, err := Setup(c)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if !svc.cfg.AllowPrivateTargets || svc.cfg.UserAgent != "MpegFlow-Webhooks/1.2" || !strings.HasPrefix(svc.cfg.NodeID, "n1/") ||
		len(svc.cfg.Schedule) != 2 {
		t.Fatalf("config %+v", svc.cfg)
	}
	t.Setenv(EnvSchedule, "soon")
	if _, err := Setup(c); err == nil || !strings.Contains(err.Error(), EnvSchedule) {
		t.Fatalf("bad schedule: %v", err)
	}
}

package webhook

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Test hooks of webhook delivery, read from the environment (not MPEGFLOW_*
// variables: those must name configuration keys). They exist for the
// end-to-end tests until the configuration has the keys.
const (
	// EnvAllowPrivate=1 lets webhook URLs resolve to loopback and private
	// addresses (the test receivers listen on 127.0.0.1).
	EnvAllowPrivate = "MPEGFLOWTEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS"
	// EnvSchedule is a comma-separated retry schedule, e.g. "200ms,500ms".
	EnvSchedule = "MPEGFLOWTEST_WEBHOOKS_RETRY_SCHEDULE"
)

// SetupConfig is what Setup builds the daemon's webhook delivery from.
type SetupConfig struct {
	Conf       conf.Webhooks
	Store      store.Webhooks
	Bus        Bus
	NodeID     string // the daemon's node id (record.NodeID)
	Version    string // the daemon's version, in the User-Agent
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Setup builds webhook delivery as the daemon runs it, from the webhooks
// section of the configuration and the test hooks of the environment.
// Events are written to the outbox by the changes that cause them (in their
// transactions); the service delivers from the outbox and watches the bus
// to wake up. Its lease holder is the node's id plus a per-start suffix: a
// restarted node does not take the leases its previous incarnation left,
// they expire.
func Setup(c SetupConfig) (*Service, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cfg := Config{
		Store:               c.Store,
		Bus:                 c.Bus,
		Timeout:             c.Conf.Timeout.D(),
		Workers:             c.Conf.Workers,
		Retention:           c.Conf.LogRetention.D(),
		AllowPrivateTargets: c.Conf.AllowPrivateTargets || os.Getenv(EnvAllowPrivate) == "1",
		UserAgent:           "MpegFlow-Webhooks/" + c.Version,
		NodeID:              fmt.Sprintf("%s/%x", c.NodeID, rnd),
		Registerer:          c.Registerer,
		Logger:              c.Logger,
	}
	if v := os.Getenv(EnvSchedule); v != "" {
		var err error
		if cfg.Schedule, err = ParseSchedule(v); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSchedule, err)
		}
	}
	if cfg.AllowPrivateTargets {
		c.Logger.Warn("webhook URLs may target private and loopback addresses (webhooks.allow_private_targets)")
	}
	svc, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return svc, nil
}

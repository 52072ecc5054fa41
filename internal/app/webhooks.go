package app

import (
	"crypto/rand"
	"fmt"
	"os"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// Test hooks of webhook delivery, read from the environment (not MPEGFLOW_*
// variables: those must name configuration keys). They exist for the
// end-to-end tests until the configuration has the keys.
const (
	// envAllowPrivate=1 lets webhook URLs resolve to loopback and private
	// addresses (the test receivers listen on 127.0.0.1).
	envAllowPrivate = "MPEGFLOWTEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS"
	// envSchedule is a comma-separated retry schedule, e.g. "200ms,500ms".
	envSchedule = "MPEGFLOWTEST_WEBHOOKS_RETRY_SCHEDULE"
)

// newWebhooks builds webhook delivery. Events are written to the outbox by
// the changes that cause them (in their transactions); the service
// delivers from the outbox and watches the bus to wake up.
func (a *App) newWebhooks(st store.Store, bus *events.Bus) (*webhook.Service, error) {
	node, err := record.NodeID(a.cfg.Recording.NodeID, a.cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("node id: %w", err)
	}
	// the node's id plus a per-start suffix: a restarted node does not
	// take the leases its previous incarnation left, they expire
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cfg := webhook.Config{
		Store:               st.Webhooks(),
		Bus:                 bus,
		Timeout:             a.cfg.Webhooks.Timeout.D(),
		Workers:             a.cfg.Webhooks.Workers,
		Retention:           a.cfg.Webhooks.LogRetention.D(),
		AllowPrivateTargets: a.cfg.Webhooks.AllowPrivateTargets || os.Getenv(envAllowPrivate) == "1",
		UserAgent:           "MpegFlow-Webhooks/" + a.version,
		NodeID:              fmt.Sprintf("%s/%x", node, rnd),
		Registerer:          a.metrics.Registry,
		Logger:              a.log.With("component", "webhooks"),
	}
	if v := os.Getenv(envSchedule); v != "" {
		if cfg.Schedule, err = webhook.ParseSchedule(v); err != nil {
			return nil, fmt.Errorf("%s: %w", envSchedule, err)
		}
	}
	if cfg.AllowPrivateTargets {
		a.log.Warn("webhook URLs may target private and loopback addresses (webhooks.allow_private_targets)")
	}
	svc, err := webhook.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return svc, nil
}

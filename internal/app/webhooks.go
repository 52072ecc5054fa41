package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
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

// webhookState is what the App keeps of webhook delivery.
type webhookState struct {
	svc  *webhook.Service
	done chan struct{} // closed when Run has returned; nil if never started
}

// eventPublisher is where the features publish the events that are state
// changes of their own, stored in no row (a transcoder failed): the
// webhook service, which writes them to the outbox before it publishes
// them on the bus, or the bus alone when webhooks are not built. The
// recorder's events are changes of video rows: it writes them in the
// rows' transactions and publishes them on the bus itself.
func (a *App) eventPublisher(bus *events.Bus) interface{ Publish(events.Event) } {
	if a.wh != nil {
		return a.wh.svc
	}
	return bus
}

// initWebhooks builds webhook delivery (issue 7). Live input changes write
// their events to the outbox themselves (in their transactions); the
// service delivers from the outbox and watches the bus to wake up.
func (a *App) initWebhooks(st store.Store, bus *events.Bus) (api.WebhooksDeps, error) {
	node, err := nodeID(a.cfg.Recording.NodeID, a.cfg.DataDir)
	if err != nil {
		return api.WebhooksDeps{}, fmt.Errorf("node id: %w", err)
	}
	// the node's id plus a per-start suffix: a restarted node does not
	// take the leases its previous incarnation left, they expire
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	leaseHolder := fmt.Sprintf("%s/%x", node, rnd)
	cfg := webhook.Config{
		Store:               st.Webhooks(),
		Bus:                 bus,
		Timeout:             a.cfg.Webhooks.Timeout.D(),
		Workers:             a.cfg.Webhooks.Workers,
		Retention:           a.cfg.Webhooks.LogRetention.D(),
		AllowPrivateTargets: a.cfg.Webhooks.AllowPrivateTargets || os.Getenv(envAllowPrivate) == "1",
		UserAgent:           "MpegFlow-Webhooks/" + a.version,
		NodeID:              leaseHolder,
		Registerer:          a.metrics.Registry,
		Logger:              a.log.With("component", "webhooks"),
	}
	if v := os.Getenv(envSchedule); v != "" {
		for _, f := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || d <= 0 {
				return api.WebhooksDeps{}, fmt.Errorf("%s: invalid duration %q", envSchedule, f)
			}
			cfg.Schedule = append(cfg.Schedule, d)
		}
	}
	if cfg.AllowPrivateTargets {
		a.log.Warn("webhook URLs may target private and loopback addresses (webhooks.allow_private_targets)")
	}
	svc, err := webhook.New(cfg)
	if err != nil {
		return api.WebhooksDeps{}, fmt.Errorf("webhooks: %w", err)
	}
	a.wh = &webhookState{svc: svc}
	return api.WebhooksDeps{Service: svc}, nil
}

// startWebhooks runs delivery until ctx is done; pending deliveries of the
// outbox are resumed at once.
func (a *App) startWebhooks(ctx context.Context, wg *sync.WaitGroup) {
	if a.wh == nil {
		return
	}
	svc := a.wh.svc
	done := make(chan struct{})
	a.wh.done = done
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			a.log.Error("webhook delivery stopped", "error", err)
		}
	}()
}

// closeWebhooks waits for delivery to stop (its context must be done: Run
// records or abandons its attempts and releases this node's leases) and
// stops watching the bus; idempotent. Call it before the store is closed.
// Events are in the outbox before they are published: none is left to
// write.
func (a *App) closeWebhooks() {
	if a.wh == nil {
		return
	}
	if a.wh.done != nil {
		<-a.wh.done
	}
	a.wh.svc.Close()
}

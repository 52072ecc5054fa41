package app

import (
	"context"
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
	svc *webhook.Service
}

// initWebhooks builds webhook delivery (issue 7): the service subscribes to
// the bus now, so that every event from here on reaches the outbox.
func (a *App) initWebhooks(st store.Store, bus *events.Bus) (api.WebhooksDeps, error) {
	cfg := webhook.Config{
		Store:               st.Webhooks(),
		Bus:                 bus,
		Timeout:             a.cfg.Webhooks.Timeout.D(),
		Workers:             a.cfg.Webhooks.Workers,
		Retention:           a.cfg.Webhooks.LogRetention.D(),
		AllowPrivateTargets: a.cfg.Webhooks.AllowPrivateTargets || os.Getenv(envAllowPrivate) == "1",
		UserAgent:           "MpegFlow-Webhooks/" + a.version,
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := svc.Run(ctx); err != nil {
			a.log.Error("webhook delivery stopped", "error", err)
		}
	}()
}

// closeWebhooks writes the events still queued to the outbox and stops
// taking events; idempotent. It must run before the store is closed for
// the events of the shutdown itself (live_input.idle) to be kept.
func (a *App) closeWebhooks() {
	if a.wh != nil {
		a.wh.svc.Close()
	}
}

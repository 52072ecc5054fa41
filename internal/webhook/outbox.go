package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// emitTimeout bounds one outbox write of Publish.
const emitTimeout = 10 * time.Second

// Emit writes evs to the outbox in one transaction (one delivery per
// enabled endpoint that wants each, store.Webhooks.Emit), then, once that
// committed, publishes them on the bus (WebSocket subscribers; it also
// wakes the dispatcher). It is the durable path of events that are the
// state change themselves (a publisher left, a session was kicked, a
// recording ended); a change to a stored row writes its events in its own
// transaction instead (store.EventFunc) and publishes them after.
func (s *Service) Emit(ctx context.Context, evs ...events.Event) error {
	rows, err := ToOutbox(evs...)
	if err == nil {
		err = s.st.Emit(ctx, rows...)
	}
	if err != nil {
		s.m.lost.Add(float64(len(evs)))
		return fmt.Errorf("webhook: emit: %w", err)
	}
	s.m.queued.Add(float64(len(evs)))
	for _, e := range evs {
		s.bus.Publish(e)
	}
	return nil
}

// Publish is Emit of one event for publishers without a context or an
// error path (record.Publisher): a failed outbox write is logged and
// counted (mpegflow_webhook_events_lost_total), and the event is still
// published on the bus.
func (s *Service) Publish(e events.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), emitTimeout)
	defer cancel()
	if err := s.Emit(ctx, e); err != nil {
		s.log.Error("webhook outbox: cannot write an event; it is not delivered", "event", e.ID, "type", e.Type, "error", err)
		s.bus.Publish(e)
	}
}

// Matches reports whether endpoint e wants event type t about live input
// id: its filters are empty or contain them.
func Matches(e *store.WebhookEndpoint, t events.Type, liveInputID string) bool {
	return e.Wants(string(t), liveInputID)
}

package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ids"
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

// EmitTo writes e to the outbox for endpoint endpointID alone (a
// pipeline's notify.webhook node names the endpoint, rather than the
// endpoint's filters naming the event): it is then delivered like every
// other event, signed, retried and in order per live input. The copy gets
// an id of its own, derived from e's, the endpoint's and key (the node
// that sends it), so that writing it again queues it once. Nothing is
// written when the endpoint is disabled, or when its filters want e
// already (Emit queued it for the endpoint: it is sent once).
func (s *Service) EmitTo(ctx context.Context, endpointID string, e events.Event, key string) error {
	ep, err := s.st.GetEndpoint(ctx, endpointID)
	if err != nil {
		return fmt.Errorf("webhook: emit to %s: %w", endpointID, err)
	}
	if !ep.Enabled || ep.Wants(string(e.Type), e.LiveInputID) {
		return nil
	}
	e.ID = derivedID(e.ID, endpointID, key)
	rows, err := ToOutbox(e)
	if err != nil {
		return err
	}
	ev := rows[0]
	at := ev.CreatedAt
	d := &store.WebhookDelivery{ID: store.NewDeliveryID(at), EndpointID: endpointID, EventID: ev.ID, EventType: ev.Type,
		LiveInputID: ev.LiveInputID, State: store.DeliveryPending, NextAttemptAt: &at, CreatedAt: at, UpdatedAt: at}
	if err := s.st.Enqueue(ctx, ev, []*store.WebhookDelivery{d}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // queued by an earlier call
		}
		s.m.lost.Inc()
		return fmt.Errorf("webhook: emit to %s: %w", endpointID, err)
	}
	s.m.queued.Inc()
	s.Changed()
	return nil
}

// derivedID is the id of the copy of event id sent to endpoint by key:
// "evt_" and 26 characters of the SHA-256 of the three (ids.Derived).
func derivedID(id, endpoint, key string) string { return ids.Derived("evt", id, endpoint, key) }

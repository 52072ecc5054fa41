package webhook

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// persistTimeout bounds one outbox write; the persister outlives Run's
// context (events published during shutdown are still written).
const persistTimeout = 10 * time.Second

// persist writes the bus's events into the outbox until the subscription
// ends; a subscription cut off for being slow is renewed (the events lost
// in between are counted and logged).
func (s *Service) persist(sub *events.Subscription) {
	defer close(s.persisted)
	for {
		select {
		case e := <-sub.C():
			s.persistBatch(s.drain(sub, e))
		case <-sub.Done():
			// what was queued before the end is still in the channel
		drainLoop:
			for {
				select {
				case e := <-sub.C():
					s.persistBatch(s.drain(sub, e))
				default:
					break drainLoop
				}
			}
			if !errors.Is(sub.Err(), events.ErrSlow) {
				return
			}
			s.m.lost.Inc()
			s.log.Error("webhook outbox fell behind the event bus; events were lost, resubscribing")
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				return
			}
			sub = s.subscribe()
			s.sub = sub
			s.mu.Unlock()
		}
	}
}

// drain returns first and the events already queued behind it (up to 256).
func (s *Service) drain(sub *events.Subscription, first events.Event) []events.Event {
	batch := []events.Event{first}
	for len(batch) < 256 {
		select {
		case e := <-sub.C():
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// persistBatch enqueues every event of batch for the enabled endpoints it
// matches, then wakes the dispatcher.
func (s *Service) persistBatch(batch []events.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
	defer cancel()
	eps, err := s.enabledEndpoints(ctx)
	if err != nil {
		s.log.Error("webhook outbox: cannot list endpoints; events not queued", "events", len(batch), "error", err)
		s.m.lost.Add(float64(len(batch)))
		return
	}
	queued := false
	for _, e := range batch {
		ok, err := s.enqueue(ctx, eps, e)
		if err != nil {
			s.log.Error("webhook outbox: cannot queue event", "event", e.ID, "type", e.Type, "error", err)
			s.m.lost.Inc()
			continue
		}
		queued = queued || ok
	}
	if queued {
		s.Changed()
	}
}

// enabledEndpoints lists every enabled endpoint.
func (s *Service) enabledEndpoints(ctx context.Context) ([]*store.WebhookEndpoint, error) {
	var out []*store.WebhookEndpoint
	on, after := true, ""
	for {
		rows, more, err := s.st.ListEndpoints(ctx, store.ListOptions{Limit: 1000, After: after, Enabled: &on})
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if !more || len(rows) == 0 {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// Matches reports whether endpoint e wants event type t about live input
// id: its filters are empty or contain them.
func Matches(e *store.WebhookEndpoint, t events.Type, liveInputID string) bool {
	if len(e.EventTypes) > 0 && !slices.Contains(e.EventTypes, string(t)) {
		return false
	}
	return len(e.LiveInputIDs) == 0 || slices.Contains(e.LiveInputIDs, liveInputID)
}

// enqueue writes e and its deliveries; false when no endpoint wants it.
func (s *Service) enqueue(ctx context.Context, eps []*store.WebhookEndpoint, e events.Event) (bool, error) {
	created := e.Time.UTC()
	var ds []*store.WebhookDelivery
	for _, ep := range eps {
		if !Matches(ep, e.Type, e.LiveInputID) {
			continue
		}
		ds = append(ds, &store.WebhookDelivery{
			ID: newID("whd_", created), EndpointID: ep.ID, EventID: e.ID, EventType: string(e.Type),
			LiveInputID: e.LiveInputID, State: store.DeliveryPending, NextAttemptAt: &created,
			CreatedAt: created, UpdatedAt: created,
		})
	}
	if len(ds) == 0 {
		return false, nil
	}
	body, err := envelope(e)
	if err != nil {
		return false, err
	}
	err = s.st.Enqueue(ctx, &store.WebhookEvent{ID: e.ID, Type: string(e.Type), LiveInputID: e.LiveInputID, CreatedAt: created, Payload: body}, ds)
	if errors.Is(err, store.ErrConflict) {
		return false, nil // already queued
	}
	if err != nil {
		return false, err
	}
	s.m.queued.Add(float64(len(ds)))
	return true, nil
}

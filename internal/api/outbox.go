package api

import (
	"context"
	"fmt"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// LiveInputData is the data of the live_input.* events (Renderer.LiveInput)
// with status, the runtime's when "".
func (s *Server) LiveInputData(li *store.LiveInput, status string) LiveInputObject {
	if status == "" && li.Enabled {
		status = s.rt.Status(li.ID)
	}
	return s.render.LiveInput(li, status)
}

// LiveInputErrorData is the data of live_input.errored
// (Renderer.LiveInputError) with the runtime's status.
func (s *Server) LiveInputErrorData(li *store.LiveInput, code, message string) LiveInputErrorObject {
	return s.render.LiveInputError(li, s.rt.Status(li.ID), code, message)
}

// VideoData is the data of the recording.started and video.* events
// (Renderer.Video).
func (s *Server) VideoData(v *store.Video) VideoObject { return s.render.Video(v) }

// outboxOf renders events as outbox rows (their webhook bodies).
func outboxOf(evs ...events.Event) ([]*store.WebhookEvent, error) {
	out := make([]*store.WebhookEvent, 0, len(evs))
	for _, e := range evs {
		b, err := e.Envelope()
		if err != nil {
			return nil, fmt.Errorf("render event %s: %w", e.Type, err)
		}
		out = append(out, &store.WebhookEvent{ID: e.ID, Type: string(e.Type), LiveInputID: e.LiveInputID, CreatedAt: e.Time, Payload: b})
	}
	return out, nil
}

// liveInputEvent returns the EventFunc of a live input change: an event
// of type t whose data is the row as the change's transaction sees it,
// kept in *ev to be published once the change committed.
func (s *Server) liveInputEvent(t events.Type, ev *events.Event) store.EventFunc {
	return func(li *store.LiveInput) ([]*store.WebhookEvent, error) {
		*ev = events.New(t, li.ID, s.LiveInputData(li, ""))
		return outboxOf(*ev)
	}
}

// emit writes events that are changes of their own (a session kicked, a
// publisher cut by a key rotation) to the webhook outbox, then publishes
// them. A failed write is logged: the action it reports has happened.
func (s *Server) emit(ctx context.Context, evs ...events.Event) {
	rows, err := outboxOf(evs...)
	if err == nil {
		err = s.st.Webhooks().Emit(context.WithoutCancel(ctx), rows...)
	}
	if err != nil {
		s.log.Error("cannot write events to the webhook outbox; they are not delivered", "events", len(evs), "error", err)
	}
	for _, e := range evs {
		s.bus.Publish(e)
	}
}

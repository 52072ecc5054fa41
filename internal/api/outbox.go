package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// LiveInputData is the data of the live_input.* events: live input li as
// GET /v1/live_inputs/ID returns it to a token without live_inputs:write
// (no stream key, no SRT passphrase), with status (the runtime's when "").
// An event has no request: its URLs use the configured listen addresses,
// a wildcard host ("" or 0.0.0.0, e.g. ":1935") named "localhost".
func (s *Server) LiveInputData(li *store.LiveInput, status string) any {
	j := s.toJSON(li, &http.Request{Host: "localhost"}, false)
	if status != "" && li.Enabled {
		j.Status = status
	}
	return j
}

// LiveInputErrorData is the data of live_input.errored: LiveInputData
// (with the runtime's status) and "error": {code, message}.
func (s *Server) LiveInputErrorData(li *store.LiveInput, code, message string) any {
	return struct {
		liveInputJSON
		Error events.ErrorData `json:"error"`
	}{s.toJSON(li, &http.Request{Host: "localhost"}, false), events.ErrorData{Code: code, Message: message}}
}

// VideoData is the data of the recording.started and video.* events:
// video v as GET /v1/videos/ID returns it, as the change that emits the
// event stored it (video.ready of a recording recovered after a crash has
// recovered: true; video.deleted carries the video as it was). Its URLs
// are those of LiveInputData: the configured HTTP listen address, a
// wildcard host named "localhost". A video holds no secret.
func (s *Server) VideoData(v *store.Video) any {
	return s.videoToJSON(v, &http.Request{Host: "localhost"})
}

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

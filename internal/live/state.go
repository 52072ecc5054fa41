package live

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// inputRef is the data of a status event whose live input is gone and was
// never read.
type inputRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// EventPayload implements events.Payload.
func (inputRef) EventPayload() {}

// data is the data of a status event: the live input as the API returns
// it, with status.
func (r *Runtime) data(id string, li *store.LiveInput, status string) events.Payload {
	if li == nil {
		return inputRef{ID: id, Status: status}
	}
	return r.cfg.Render.LiveInput(li, status)
}

func (r *Runtime) started(id, protocol, remote string) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := &api.Session{ID: api.NewSessionID(now), LiveInputID: id, Protocol: protocol, Remote: remote, StartedAt: now}
	st := &liveState{status: api.StatusConnected, session: s}
	r.mu.Lock()
	r.live[id] = st
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	var ev events.Event
	err := r.cfg.LiveInputs.SetLastConnectedEmitting(ctx, id, now, func(li *store.LiveInput) ([]*store.WebhookEvent, error) {
		ev = events.New(events.LiveInputConnected, id, r.data(id, li, api.StatusConnected))
		r.mu.Lock()
		st.row = li
		r.mu.Unlock()
		return webhook.ToOutbox(ev)
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			r.log.Error("cannot record the connection and its event; live_input.connected is not delivered", "live_input", id, "error", err)
		}
		ev = events.New(events.LiveInputConnected, id, r.data(id, nil, api.StatusConnected))
	}
	r.cfg.Bus.Publish(ev)
}

// row returns live input id as stored now, else as read at its last
// connection (it was deleted), else nil.
func (r *Runtime) row(ctx context.Context, id string, st *liveState) *store.LiveInput {
	li, err := r.cfg.LiveInputs.Get(ctx, id)
	if err == nil {
		return li
	}
	if !errors.Is(err, store.ErrNotFound) {
		r.log.Warn("cannot read the live input of a status event", "live_input", id, "error", err)
	}
	if st == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return st.row
}

// emit writes evs to the outbox in one transaction, then publishes them.
func (r *Runtime) emit(ctx context.Context, evs ...events.Event) {
	rows, err := webhook.ToOutbox(evs...)
	if err == nil {
		err = r.cfg.Outbox.Emit(ctx, rows...)
	}
	if err != nil {
		r.log.Error("cannot write status events to the webhook outbox; they are not delivered", "events", len(evs), "error", err)
	}
	for _, e := range evs {
		r.cfg.Bus.Publish(e)
	}
}

// Errored implements pipeline.Reporter: live_input.errored with the live
// input as the API returns it and {code, message} (a node such as the
// transcoder gave up).
func (r *Runtime) Errored(id, code, message string) {
	r.mu.Lock()
	st := r.live[id]
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	var data events.Payload = events.ErrorData{Code: code, Message: message}
	if li := r.row(ctx, id, st); li != nil {
		data = r.cfg.Render.LiveInputError(li, r.Status(id), code, message)
	}
	r.emit(ctx, events.New(events.LiveInputErrored, id, data))
}

func (r *Runtime) disconnected(id string) {
	r.mu.Lock()
	st := r.live[id]
	var s *api.Session
	if st != nil {
		s = st.session
		st.status, st.session = api.StatusReconnecting, nil
	}
	r.mu.Unlock()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	r.emit(ctx, events.New(events.LiveInputDisconnected, id, r.data(id, r.row(ctx, id, st), api.StatusReconnecting)))
}

func (r *Runtime) ended(id string) {
	r.mu.Lock()
	st := r.live[id]
	delete(r.live, id)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	data := r.data(id, r.row(ctx, id, st), api.StatusIdle)
	var evs []events.Event
	if st != nil && st.session != nil {
		evs = append(evs, events.New(events.LiveInputDisconnected, id, data))
	}
	r.emit(ctx, append(evs, events.New(events.LiveInputIdle, id, data))...)
}

// Status implements api.Runtime.
func (r *Runtime) Status(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.live[id]; st != nil {
		return st.status
	}
	return api.StatusIdle
}

// Sessions implements api.Runtime: the session with the publisher's
// bitrate, codecs and viewers now.
func (r *Runtime) Sessions(id string) []api.Session {
	r.mu.Lock()
	st := r.live[id]
	var s api.Session
	ok := st != nil && st.session != nil
	if ok {
		s = *st.session
	}
	r.mu.Unlock()
	if !ok {
		return nil
	}
	s.Codecs = []string{}
	if src := r.hub.Get(id); src != nil {
		s.BitrateBPS, s.Codecs = int64(r.cfg.Metrics.Bitrate(id)), codecs(src)
		if r.cfg.Viewers != nil {
			s.Viewers = r.cfg.Viewers.Viewers(id)
		}
		if st, ok := r.cfg.Metrics.RTPStats(id); ok {
			s.RTP = &api.RTPStats{PacketsReceived: st.PacketsReceived, PacketsLost: st.PacketsLost,
				VideoJitterMS: float64(st.VideoJitter.Microseconds()) / 1000, AudioJitterMS: float64(st.AudioJitter.Microseconds()) / 1000,
				BitrateBPS: int64(st.BitsPerSecond)}
		}
	}
	return []api.Session{s}
}

// sessionInput returns the live input of session sid, "" when none.
func (r *Runtime) sessionInput(sid string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for lid, st := range r.live {
		if st.session != nil && st.session.ID == sid {
			return lid
		}
	}
	return ""
}

// Session implements api.SessionLookup.
func (r *Runtime) Session(sid string) (api.Session, bool) {
	for _, s := range r.Sessions(r.sessionInput(sid)) {
		if s.ID == sid {
			return s, true
		}
	}
	return api.Session{}, false
}

// Kick implements api.Runtime: the publisher is disconnected and the
// stream waits in its reconnect window.
func (r *Runtime) Kick(sid string) (string, error) {
	id := r.sessionInput(sid)
	if id == "" || !r.hub.Kick(id) {
		return "", api.ErrNoSession
	}
	return id, nil
}

// End implements api.Runtime: the broadcast ends now, without the
// reconnect window.
func (r *Runtime) End(id string) error {
	r.hub.End(id)
	return nil
}

// LiveIDs returns the ids with a stream, sorted.
func (r *Runtime) LiveIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.live))
	for id := range r.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

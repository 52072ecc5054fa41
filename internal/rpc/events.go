package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"

	"connectrpc.com/connect"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	mpegflowv1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// eventsSvc is mpegflow.v1.EventService over the API's event bus.
type eventsSvc struct{ s *Server }

var _ mpegflowv1connect.EventServiceHandler = eventsSvc{}

func (e eventsSvc) WatchEvents(ctx context.Context, req *connect.Request[mpegflowv1.WatchEventsRequest], stream *connect.ServerStream[mpegflowv1.WatchEventsResponse]) error {
	_, c, err := e.s.call(ctx, api.ScopeEventsRead)
	if err != nil {
		return err
	}
	q := url.Values{"type": req.Msg.GetTypes()}
	if id := req.Msg.GetLiveInputId(); id != "" {
		q.Set("live_input_id", id)
	}
	sub, err := e.s.api.WatchEvents(c, q)
	if err != nil {
		return e.s.toConnect(err)
	}
	defer sub.Close()
	// the headers go out now, so the client knows the stream is open
	if err := stream.Send(nil); err != nil {
		return err
	}
	for {
		select {
		case ev := <-sub.C():
			m, err := e.s.events.message(ev)
			if err != nil {
				continue
			}
			if err := stream.Send(m); err != nil {
				return err
			}
		case <-sub.Done():
			if errors.Is(sub.Err(), events.ErrSlow) {
				return connect.NewError(connect.CodeResourceExhausted, errors.New("too slow: event queue full"))
			}
			return connect.NewError(connect.CodeUnavailable, errors.New("the event stream ended"))
		case <-e.s.api.Done():
			return connect.NewError(connect.CodeUnavailable, errors.New("the server is shutting down"))
		case <-ctx.Done():
			return nil
		}
	}
}

// eventMessages converts each event into its message once for every
// stream that sends it (an event reaches every subscriber; converting it
// per stream cost more than sending it). It remembers the last
// len(ring) events.
type eventMessages struct {
	mu   sync.Mutex
	byID map[string]*mpegflowv1.WatchEventsResponse
	ring [256]string
	next int
}

func newEventMessages() *eventMessages {
	return &eventMessages{byID: map[string]*mpegflowv1.WatchEventsResponse{}}
}

// message returns the message of ev: the WebSocket's JSON rendering read
// into WatchEventsResponse. Messages are shared between streams and never
// modified (sending only reads them).
func (c *eventMessages) message(ev events.Event) (*mpegflowv1.WatchEventsResponse, error) {
	c.mu.Lock()
	m, ok := c.byID[ev.ID]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	m = &mpegflowv1.WatchEventsResponse{}
	if err := fromJSON(b, m); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.byID[ev.ID]; ok { // converted meanwhile by another stream
		return have, nil
	}
	delete(c.byID, c.ring[c.next])
	c.ring[c.next], c.next = ev.ID, (c.next+1)%len(c.ring)
	c.byID[ev.ID] = m
	return m, nil
}

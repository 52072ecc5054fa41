package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/mpegflow/mpegflow/internal/events"
)

// WebSocket event stream settings.
const (
	// wsQueue is how many events may wait for one WebSocket client; a
	// client further behind is cut off (close code 1008, "too slow").
	wsQueue = 256
	// wsWriteTimeout bounds one message write.
	wsWriteTimeout = 10 * time.Second
	// wsPing is the keep-alive interval.
	wsPing = 30 * time.Second
)

// streamEvents upgrades GET /v1/events to a WebSocket (RFC 6455) that sends
// each event as one JSON text message. Filters: ?type= (repeated or
// comma-separated) and ?live_input_id=. Messages from the client are
// ignored.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, p *principal) error {
	types, liID, err := eventFilterOf(r.URL.Query())
	if err != nil {
		return err
	}
	// Subscribe before the upgrade so that nothing published after the
	// handshake completes is missed.
	sub := s.bus.Subscribe(events.SubscribeOptions{Match: events.Filter(types, liID), Queue: wsQueue})
	defer sub.Close()
	return s.serveEventsWS(w, r, p, sub)
}

// eventFilterOf reads the event filter of q: type (repeated or
// comma-separated known types) and live_input_id.
func eventFilterOf(q url.Values) ([]events.Type, string, error) {
	var types []events.Type
	for _, v := range q["type"] {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !events.Known(events.Type(t)) {
				return nil, "", paramErr("type", "unknown event type "+quote(t))
			}
			types = append(types, events.Type(t))
		}
	}
	liID := q.Get("live_input_id")
	if liID != "" && !validID(liID) {
		return nil, "", paramErr("live_input_id", "invalid live input id")
	}
	return types, liID, nil
}

// serveEventsWS upgrades r and sends the events of sub until either side
// ends.
func (s *Server) serveEventsWS(w http.ResponseWriter, r *http.Request, p *principal, sub *events.Subscription) error {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsProtocol}})
	if err != nil {
		return nil // Accept has answered the request
	}
	if !s.trackStream() {
		_ = c.Close(websocket.StatusGoingAway, "server closing")
		return nil
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	ctx = c.CloseRead(ctx)
	s.log.Debug("event stream opened", "token", p.tok.ID, "remote", s.clientAddr(r))
	ping := time.NewTicker(wsPing)
	defer ping.Stop()
	for {
		select {
		case ev := <-sub.C():
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, wsWriteTimeout)
			err = c.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				_ = c.CloseNow()
				return nil
			}
		case <-sub.Done():
			if errors.Is(sub.Err(), events.ErrSlow) {
				s.log.Info("event stream cut off: client too slow", "token", p.tok.ID, "remote", s.clientAddr(r))
				_ = c.Close(websocket.StatusPolicyViolation, "too slow: event queue full")
			} else {
				_ = c.Close(websocket.StatusGoingAway, "server shutting down")
			}
			return nil
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, wsWriteTimeout)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				_ = c.CloseNow()
				return nil
			}
		case <-ctx.Done():
			if s.ctx.Err() != nil {
				_ = c.Close(websocket.StatusGoingAway, "server shutting down")
			} else {
				_ = c.CloseNow()
			}
			return nil
		}
	}
}

// trackStream counts one more WebSocket stream for Close to wait for, or
// reports false once Close began: a WaitGroup's Add must not race its Wait.
func (s *Server) trackStream() bool {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

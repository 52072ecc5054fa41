package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mpegflow/mpegflow/internal/events"
)

func dialEvents(t *testing.T, e *env, token, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/v1/events" + query
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func readEvent(t *testing.T, c *websocket.Conn) events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestEventsWebSocket(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ro := e.token(ScopeLiveInputsRead)
		all := dialEvents(t, e, ro, "")
		only := dialEvents(t, e, ro, "?type=live_input.updated,live_input.deleted")
		li := e.create(map[string]any{"name": "ws"})
		id := li["id"].(string)
		ev := readEvent(t, all)
		if ev.Type != events.LiveInputCreated || ev.LiveInputID != id || !strings.HasPrefix(ev.ID, "evt_") {
			t.Fatalf("event %+v", ev)
		}
		b, _ := json.Marshal(ev.Data)
		if strings.Contains(string(b), li["rtmp"].(map[string]any)["stream_key"].(string)) {
			t.Fatal("the event carries the stream key")
		}
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"name":"x"}`).want(t, 200, "")
		if ev := readEvent(t, only); ev.Type != events.LiveInputUpdated {
			t.Fatalf("filtered stream got %s first", ev.Type)
		}
		e.bus.Publish(events.New(events.LiveInputConnected, id, events.ErrorData{Code: "rtmp"}))
		readEvent(t, all) // updated
		if ev := readEvent(t, all); ev.Type != events.LiveInputConnected {
			t.Fatalf("got %s", ev.Type)
		}
	})
}

func TestEventsWebSocketAccessTokenQuery(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	base := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/v1/events"
	c, _, err := websocket.Dial(ctx, base+"?access_token="+e.admin, nil)
	if err != nil {
		t.Fatalf("browser-style dial with ?access_token=: %v", err)
	}
	_ = c.CloseNow()
	if _, _, err := websocket.Dial(ctx, base+"?access_token=mf_wrongwrongwrongwrong", nil); err == nil {
		t.Fatal("a wrong access_token was accepted")
	}
	// not on plain requests: a token in a URL is for WebSockets only
	e.do("GET", "/v1/live_inputs?access_token="+e.admin, "", nil).want(t, 401, CodeUnauthorized)
}

func TestEventsWebSocketRefusals(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	tok := e.token(ScopeTokensRead)
	e.do("GET", "/v1/events", tok, nil).want(t, 403, CodeForbidden)
	e.do("GET", "/v1/events?type=nope", e.admin, nil).want(t, 400, CodeInvalidParameter)
	e.do("GET", "/v1/events", "", nil).want(t, 401, CodeUnauthorized)
}

// A client that never reads is cut off; the bus and other clients go on.
func TestEventsWebSocketSlowClientCutOff(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	slow := dialEvents(t, e, e.admin, "")
	fast := dialEvents(t, e, e.admin, "?live_input_id=x")
	big := strings.Repeat("x", 16<<10)
	start := time.Now()
	for i := 0; i < 20000; i++ {
		e.bus.Publish(events.New(events.LiveInputUpdated, "y", events.ErrorData{Message: big}))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("publishing took %v: blocked by a slow client", d)
	}
	e.bus.Publish(events.New(events.LiveInputIdle, "x", nil))
	if ev := readEvent(t, fast); ev.Type != events.LiveInputIdle {
		t.Fatalf("fast client got %s", ev.Type)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := slow.Read(ctx)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("slow client ended with %v, want close 1008", err)
		}
		break
	}
	if _, cut := e.bus.Stats(); cut == 0 {
		t.Fatal("no subscriber was cut off")
	}
}

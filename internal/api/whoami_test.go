package api

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWhoami(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	tests := []struct {
		name   string
		scopes []string
		want   []string
	}{
		{"read only", []string{ScopeLiveInputsRead}, []string{ScopeEventsRead, ScopeLiveInputsRead}},
		{"writes imply reads", []string{ScopeVideosWrite, ScopeWebhooksWrite},
			[]string{ScopeVideosRead, ScopeVideosWrite, ScopeWebhooksRead, ScopeWebhooksWrite}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.token(tc.scopes...)
			d := e.do("GET", "/v1/whoami", tok, nil).want(t, 200, "").data()
			var got []string
			for _, s := range d["effective_scopes"].([]any) {
				got = append(got, s.(string))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("effective scopes %v, want %v", got, tc.want)
			}
			if tk := d["token"].(map[string]any); tk["token"] != nil || tk["name"] != "t" {
				t.Fatalf("token metadata %v: the secret must not be returned", tk)
			}
		})
	}
	e.do("GET", "/v1/whoami", "", nil).want(t, 401, CodeUnauthorized)
	d := e.do("GET", "/v1/whoami", e.admin, nil).want(t, 200, "").data()
	if n := len(d["effective_scopes"].([]any)); n != len(Scopes()) {
		t.Fatalf("admin has %d effective scopes, want %d", n, len(Scopes()))
	}
}

// Browsers offer the token as a subprotocol, keeping it out of the URL.
func TestEventsWebSocketBearerSubprotocol(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	base := "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/v1/events"
	c, _, err := websocket.Dial(ctx, base, &websocket.DialOptions{Subprotocols: []string{wsProtocol, wsBearerPrefix + e.admin}})
	if err != nil {
		t.Fatalf("dial with the bearer subprotocol: %v", err)
	}
	if got := c.Subprotocol(); got != wsProtocol {
		t.Fatalf("selected subprotocol %q, want %q (never the token)", got, wsProtocol)
	}
	_ = c.CloseNow()
	if _, _, err := websocket.Dial(ctx, base, &websocket.DialOptions{Subprotocols: []string{wsProtocol, wsBearerPrefix + "mf_wrongwrongwrongwrong"}}); err == nil {
		t.Fatal("a wrong bearer subprotocol was accepted")
	}
}

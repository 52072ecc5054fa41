package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/webhook"
	"github.com/mpegflow/mpegflow/webhook/verify"
)

// newWebhookEnv is newEnv with the real webhook service (private targets
// allowed: the receivers are on loopback).
func newWebhookEnv(t *testing.T, st store.Store) (*env, *webhook.Service) {
	t.Helper()
	e := &env{t: t, st: st, bus: events.NewBus(), rt: newFakeRuntime()}
	b, err := BootstrapAdmin(context.Background(), st.Tokens(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.admin = b.Generated
	svc, err := webhook.New(webhook.Config{Store: st.Webhooks(), Bus: e.bus, AllowPrivateTargets: true,
		Poll: 20 * time.Millisecond, Schedule: []time.Duration{time.Hour}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	e.srv, err = New(Config{Store: st, Bus: e.bus, Runtime: e.rt, Webhooks: WebhooksDeps{Service: svc}})
	if err != nil {
		t.Fatal(err)
	}
	e.hs = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.hs.Close()
		_ = e.srv.Close()
		cancel()
		<-done
		svc.Close()
		e.bus.Close()
	})
	return e, svc
}

func TestWebhooksCRUD(t *testing.T) {
	for _, sf := range storeFactories() {
		t.Run(sf.name, func(t *testing.T) {
			e, _ := newWebhookEnv(t, sf.open(t))
			r := e.do("POST", "/v1/webhooks", e.admin, map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"live_input.idle"}}).want(t, 201, "")
			wh := r.data()
			id, secret := wh["id"].(string), wh["secret"].(string)
			if !strings.HasPrefix(id, "whk_") || !strings.HasPrefix(secret, "whsec_") || wh["enabled"] != true {
				t.Fatalf("created %v", wh)
			}
			if _, err := verify.New(secret); err != nil {
				t.Fatalf("secret %q is not a Standard Webhooks secret: %v", secret, err)
			}
			got := e.do("GET", "/v1/webhooks/"+id, e.admin, nil).want(t, 200, "").data()
			if _, ok := got["secret"]; ok {
				t.Fatal("GET shows the secret")
			}
			if l := e.do("GET", "/v1/webhooks", e.admin, nil).want(t, 200, "").list(); len(l) != 1 || strings.Contains(string(e.do("GET", "/v1/webhooks", e.admin, nil).Body), secret) {
				t.Fatalf("list %v", l)
			}
			p := e.do("PATCH", "/v1/webhooks/"+id, e.admin, map[string]any{"description": "d", "event_types": []string{}, "live_input_ids": []string{"li_1"}}).want(t, 200, "").data()
			if p["description"] != "d" || len(p["event_types"].([]any)) != 0 || len(p["live_input_ids"].([]any)) != 1 || p["url"] != "http://127.0.0.1:9/hook" {
				t.Fatalf("patched %v", p)
			}
			rot := e.do("POST", "/v1/webhooks/"+id+"/rotate_secret", e.admin, nil).want(t, 200, "").data()
			if rot["secret"] == secret || rot["previous_secret_expires_at"] == nil {
				t.Fatalf("rotated %v", rot)
			}
			e.do("DELETE", "/v1/webhooks/"+id, e.admin, nil).want(t, 204, "")
			e.do("GET", "/v1/webhooks/"+id, e.admin, nil).want(t, 404, CodeNotFound)
			e.do("DELETE", "/v1/webhooks/"+id, e.admin, nil).want(t, 404, CodeNotFound)
		})
	}
}

func TestWebhooksValidation(t *testing.T) {
	e, _ := newWebhookEnv(t, openSQLite(t))
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"no url", map[string]any{}, "url"},
		{"ftp", map[string]any{"url": "ftp://example.com/"}, "url"},
		{"credentials", map[string]any{"url": "https://a:b@example.com/"}, "url"},
		{"bad type", map[string]any{"url": "http://127.0.0.1/", "event_types": []string{"Connected"}}, "event_types[0]"},
		{"unknown type", map[string]any{"url": "http://127.0.0.1/", "event_types": []string{"live_input.connected", "live_input.bogus"}}, "event_types[1]"},
		{"dup type", map[string]any{"url": "http://127.0.0.1/", "event_types": []string{"live_input.idle", "live_input.idle"}}, "event_types[1]"},
		{"bad input", map[string]any{"url": "http://127.0.0.1/", "live_input_ids": []string{"li/1"}}, "live_input_ids"},
		{"long description", map[string]any{"url": "http://127.0.0.1/", "description": strings.Repeat("x", 1025)}, "description"},
		{"unknown field", map[string]any{"url": "http://127.0.0.1/", "secret": "whsec_x"}, "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/webhooks", e.admin, tt.body)
			if r.Status != 400 {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
			if d, _ := r.JSON["error"].(map[string]any)["details"].(map[string]any); d["field"] != tt.field {
				t.Fatalf("field %v, want %s: %s", d["field"], tt.field, r.Body)
			}
		})
	}
}

// Private targets are refused unless allowed.
func TestWebhooksSSRF(t *testing.T) {
	st := openSQLite(t)
	bus := events.NewBus()
	defer bus.Close()
	svc, err := webhook.New(webhook.Config{Store: st.Webhooks(), Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv, err := New(Config{Store: st, Bus: bus, Webhooks: WebhooksDeps{Service: svc}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := &env{t: t, st: st, bus: bus, srv: srv, hs: httptest.NewServer(srv.Handler())}
	defer e.hs.Close()
	b, _ := BootstrapAdmin(t.Context(), st.Tokens(), "", time.Now())
	for _, u := range []string{"http://127.0.0.1/", "http://169.254.169.254/", "http://10.0.0.1/", "http://[::1]/", "http://localhost:8080/"} {
		r := e.do("POST", "/v1/webhooks", b.Generated, map[string]any{"url": u})
		if r.Status != 400 || !strings.Contains(string(r.Body), "forbidden address") {
			t.Errorf("%s: HTTP %d %s", u, r.Status, r.Body)
		}
	}
}

func TestWebhooksScopes(t *testing.T) {
	e, _ := newWebhookEnv(t, openSQLite(t))
	ro := e.token(ScopeWebhooksRead)
	rw := e.token(ScopeWebhooksWrite)
	li := e.token(ScopeLiveInputsWrite)
	e.do("GET", "/v1/webhooks", ro, nil).want(t, 200, "")
	e.do("POST", "/v1/webhooks", ro, map[string]any{"url": "http://127.0.0.1/"}).want(t, 403, CodeForbidden)
	e.do("GET", "/v1/webhooks", li, nil).want(t, 403, CodeForbidden)
	e.do("POST", "/v1/webhooks", rw, map[string]any{"url": "http://127.0.0.1/"}).want(t, 201, "")
	e.do("GET", "/v1/webhooks", rw, nil).want(t, 200, "") // write implies read
}

// test, the delivery log and retry, through a real receiver.
func TestWebhooksTestDeliveriesRetry(t *testing.T) {
	e, _ := newWebhookEnv(t, openSQLite(t))
	var status atomic.Int64
	status.Store(500)
	var got atomic.Int64
	var secret atomic.Value
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, _ := verify.New(secret.Load().(string))
		if err := v.Verify(r.Header, body); err != nil {
			t.Errorf("verify: %v", err)
		}
		got.Add(1)
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "nope")
	}))
	defer rc.Close()
	wh := e.do("POST", "/v1/webhooks", e.admin, map[string]any{"url": rc.URL}).want(t, 201, "").data()
	id := wh["id"].(string)
	secret.Store(wh["secret"].(string))

	res := e.do("POST", "/v1/webhooks/"+id+"/test", e.admin, nil).want(t, 200, "").data()
	if res["status_code"] != float64(500) || res["success"] != false || res["latency_ms"].(float64) <= 0 {
		t.Fatalf("test result %v", res)
	}

	// written to the outbox with the live input, in its transaction
	e.do("POST", "/v1/live_inputs", e.admin, map[string]any{"name": "x"}).want(t, 201, "")
	var d map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l := e.do("GET", "/v1/webhooks/"+id+"/deliveries", e.admin, nil).want(t, 200, "").list(); len(l) == 1 {
			d = l[0].(map[string]any)
			if d["attempts"] == float64(1) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d == nil || d["status"] != "pending" || d["type"] != "live_input.created" || d["last_status_code"] != float64(500) || d["response_body_prefix"] != "nope" || d["next_attempt_at"] == nil {
		t.Fatalf("delivery %v", d)
	}
	status.Store(204)
	e.do("POST", "/v1/webhooks/"+id+"/deliveries/"+d["id"].(string)+"/retry", e.admin, nil).want(t, 202, "")
	for time.Now().Before(deadline) {
		l := e.do("GET", "/v1/webhooks/"+id+"/deliveries", e.admin, nil).list()
		if l[0].(map[string]any)["status"] == "succeeded" {
			if l[0].(map[string]any)["attempts"] != float64(2) {
				t.Fatalf("attempts %v", l[0])
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("retried delivery never succeeded")
}

func TestWebhooksWithoutService(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	e.do("POST", "/v1/webhooks", e.admin, map[string]any{"url": "https://example.com/"}).want(t, 501, CodeNotSupported)
	e.do("GET", "/v1/webhooks", e.admin, nil).want(t, 200, "")
}

func TestAdminImpliesWebhookScopes(t *testing.T) {
	for _, sc := range []string{ScopeWebhooksRead, ScopeWebhooksWrite} {
		if !slices.Contains(implied(ScopeAdmin), sc) {
			t.Errorf("admin does not imply %s", sc)
		}
	}
}

func TestKnownEventTypes(t *testing.T) {
	known := knownEventTypes()
	for _, want := range []string{"live_input.connected", "video.ready", "webhook.test", "webhook.disabled"} {
		if !slices.Contains(known, want) {
			t.Errorf("%s is not a known event type", want)
		}
	}
	if err := validEventTypes(known); err != nil {
		t.Errorf("the known types are refused: %v", err)
	}
}

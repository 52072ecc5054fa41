package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/webhook/verify"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver records verified deliveries; respond decides each status.
type receiver struct {
	t       testing.TB
	lat     []time.Duration // event time to receipt, of the 2xx answers
	srv     *httptest.Server
	v       *verify.Verifier
	mu      sync.Mutex
	got     []Envelope
	sigs    []string
	respond func(req *http.Request, n int, e Envelope) int // n counts requests from 1
	n       atomic.Int64
}

func newReceiver(t testing.TB, respond func(int, Envelope) int) *receiver {
	if respond == nil {
		return newRequestReceiver(t, nil)
	}
	return newRequestReceiver(t, func(_ *http.Request, n int, e Envelope) int { return respond(n, e) })
}

// newRequestReceiver is newReceiver with respond given the request too.
func newRequestReceiver(t testing.TB, respond func(*http.Request, int, Envelope) int) *receiver {
	r := &receiver{t: t, respond: respond}
	r.v, _ = verify.New(testSecret)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := r.v.Verify(req.Header, body); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(400)
			return
		}
		if ua := req.Header.Get("User-Agent"); !strings.HasPrefix(ua, "MpegFlow-Webhooks/") {
			t.Errorf("user agent %q", ua)
		}
		var e Envelope
		if err := json.Unmarshal(body, &e); err != nil || e.ID != req.Header.Get("webhook-id") {
			t.Errorf("envelope %s: %v", body, err)
		}
		n := int(r.n.Add(1))
		st := 200
		if r.respond != nil {
			st = r.respond(req, n, e)
		}
		if st < 300 {
			r.mu.Lock()
			r.got = append(r.got, e)
			r.lat = append(r.lat, time.Since(e.CreatedAt.Std()))
			r.sigs = append(r.sigs, req.Header.Get("webhook-signature"))
			r.mu.Unlock()
		}
		w.WriteHeader(st)
		_, _ = io.WriteString(w, "ok\x01")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) events() []Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *receiver) waitCount(t *testing.T, n int, within time.Duration) []Envelope {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := r.events(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("received %d events, want %d", len(r.events()), n)
	return nil
}

type fixture struct {
	st  *sqlite.DB
	bus *events.Bus
	svc *Service
	run func() // stops Run and Close
}

func openStore(t testing.TB, path string) *sqlite.DB {
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// start builds and runs a Service on st; the returned stop ends it.
func start(t testing.TB, st store.Store, bus *events.Bus, mod func(*Config)) (*Service, func()) {
	cfg := Config{Store: st.Webhooks(), Bus: bus, AllowPrivateTargets: true, Poll: 20 * time.Millisecond,
		Schedule: []time.Duration{50 * time.Millisecond}, Timeout: 2 * time.Second, Registerer: prometheus.NewRegistry()}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = svc.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			svc.Close()
		})
	}
	t.Cleanup(stop)
	return svc, stop
}

func addEndpoint(t *testing.T, st store.Store, id, url string, mod func(*store.WebhookEndpoint)) *store.WebhookEndpoint {
	now := time.Now().UTC()
	e := &store.WebhookEndpoint{ID: id, URL: url, Enabled: true, Secret: testSecret, CreatedAt: now, UpdatedAt: now}
	if mod != nil {
		mod(e)
	}
	if err := st.Webhooks().CreateEndpoint(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func types(es []Envelope, input string) []string {
	var out []string
	for _, e := range es {
		if input == "" || e.LiveInputID == input {
			out = append(out, e.Type)
		}
	}
	return out
}

var lifecycle = []events.Type{events.LiveInputConnected, events.LiveInputDisconnected, events.LiveInputIdle}

func TestDeliversSignedInOrder(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	rc := newReceiver(t, nil)
	addEndpoint(t, st, "whk_a", rc.srv.URL, nil)
	svc, _ := start(t, st, bus, nil)
	for _, tp := range lifecycle {
		svc.Publish(events.New(tp, "li_1", protocolData{Protocol: "rtmp"}))
	}
	got := rc.waitCount(t, 3, 5*time.Second)
	if w := []string{"live_input.connected", "live_input.disconnected", "live_input.idle"}; !slices.Equal(types(got, "li_1"), w) {
		t.Fatalf("order %v", types(got, ""))
	}
	if string(got[0].Data) != `{"protocol":"rtmp"}` {
		t.Fatalf("data %s", got[0].Data)
	}
}

// A failing head delays only its own live input; 503 is retried, 400 is
// final, and the log records both.
func TestRetryOrderingAndFinal(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	var fails atomic.Int64
	rc := newReceiver(t, func(n int, e Envelope) int {
		switch {
		case e.LiveInputID == "li_a" && e.Type == "live_input.connected" && fails.Add(1) <= 3:
			return 503
		case e.LiveInputID == "li_c":
			return 400
		}
		return 200
	})
	addEndpoint(t, st, "whk_a", rc.srv.URL, nil)
	svc, _ := start(t, st, bus, nil)
	for _, tp := range lifecycle {
		svc.Publish(events.New(tp, "li_a", nil))
		svc.Publish(events.New(tp, "li_b", nil))
	}
	svc.Publish(events.New(events.LiveInputCreated, "li_c", nil))
	got := rc.waitCount(t, 6, 5*time.Second)
	w := []string{"live_input.connected", "live_input.disconnected", "live_input.idle"}
	if !slices.Equal(types(got, "li_a"), w) || !slices.Equal(types(got, "li_b"), w) {
		t.Fatalf("per input order broken: %v", got)
	}
	if got[0].LiveInputID != "li_b" {
		t.Errorf("li_b waited for li_a's retries: first %v", got[0])
	}
	time.Sleep(300 * time.Millisecond)
	ds, _, err := st.Webhooks().ListDeliveries(t.Context(), "whk_a", store.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		switch {
		case d.LiveInputID == "li_c":
			if d.State != store.DeliveryFailed || d.Attempts != 1 || d.LastStatus != 400 || d.ResponsePrefix != "ok?" {
				t.Errorf("4xx delivery %+v", d)
			}
		case d.LiveInputID == "li_a" && d.EventType == "live_input.connected":
			if d.State != store.DeliverySucceeded || d.Attempts != 4 {
				t.Errorf("retried delivery %+v", d)
			}
		default:
			if d.State != store.DeliverySucceeded || d.Attempts != 1 {
				t.Errorf("delivery %+v", d)
			}
		}
	}
}

// Filters: types and live inputs; a slow endpoint does not delay another.
func TestFiltersAndSlowEndpoint(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	release := make(chan struct{})
	slow := newReceiver(t, func(int, Envelope) int { <-release; return 200 })
	defer close(release)
	fast := newReceiver(t, nil)
	only := newReceiver(t, nil)
	addEndpoint(t, st, "whk_slow", slow.srv.URL, nil)
	addEndpoint(t, st, "whk_fast", fast.srv.URL, nil)
	addEndpoint(t, st, "whk_only", only.srv.URL, func(e *store.WebhookEndpoint) {
		e.EventTypes, e.LiveInputIDs = []string{"live_input.idle"}, []string{"li_2"}
	})
	svc, _ := start(t, st, bus, func(c *Config) { c.Workers = 4 })
	for i := range 10 {
		in := []string{"li_1", "li_2"}[i%2]
		for _, tp := range lifecycle {
			svc.Publish(events.New(tp, in, nil))
		}
	}
	start := time.Now()
	fast.waitCount(t, 30, 5*time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the fast endpoint took %v", d)
	}
	got := only.waitCount(t, 5, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if got = only.events(); len(got) != 5 || slices.ContainsFunc(got, func(e Envelope) bool { return e.Type != "live_input.idle" || e.LiveInputID != "li_2" }) {
		t.Fatalf("filtered endpoint got %v", got)
	}
}

// What is in the outbox is delivered by the next Service on the same
// database (a restart); the receiver being down meanwhile loses nothing.
func TestOutboxSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st := openStore(t, path)
	bus := events.NewBus()
	var up atomic.Bool
	rc := newReceiver(t, func(int, Envelope) int {
		if !up.Load() {
			return 503
		}
		return 200
	})
	addEndpoint(t, st, "whk_a", rc.srv.URL, nil)
	svc, stop := start(t, st, bus, func(c *Config) { c.Schedule = []time.Duration{time.Hour} })
	var want []string
	for i := range 5 {
		e := events.New(lifecycle[i%3], "li_1", nil)
		want = append(want, e.ID)
		svc.Publish(e)
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	if n, _, _ := st.Webhooks().OutboxStats(t.Context()); n != 5 {
		t.Fatalf("pending %d after stop, want 5", n)
	}
	_ = st.Close()
	up.Store(true)
	st2 := openStore(t, path)
	// the failed head waits an hour: retry it now, as an operator would
	svc, _ = start(t, st2, events.NewBus(), nil)
	ds, _, _ := st2.Webhooks().ListDeliveries(t.Context(), "whk_a", store.ListOptions{Limit: 10})
	for _, d := range ds {
		if d.Attempts > 0 {
			if _, err := svc.Retry(t.Context(), "whk_a", d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := rc.waitCount(t, 5, 5*time.Second)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("after restart got %v, want %v", ids, want)
	}
}

// An endpoint failing for DisableAfter is disabled, and webhook.disabled
// reaches the other endpoints.
func TestDisableAfterFailures(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	dead := newReceiver(t, func(int, Envelope) int { return 500 })
	other := newReceiver(t, nil)
	addEndpoint(t, st, "whk_dead", dead.srv.URL, nil)
	addEndpoint(t, st, "whk_other", other.srv.URL, func(e *store.WebhookEndpoint) { e.EventTypes = []string{"webhook.disabled"} })
	svc, _ := start(t, st, bus, func(c *Config) { c.DisableAfter = 200 * time.Millisecond })
	svc.Publish(events.New(events.LiveInputCreated, "li_1", nil))
	got := other.waitCount(t, 1, 5*time.Second)
	var d EndpointData
	if err := json.Unmarshal(got[0].Data, &d); err != nil || d.ID != "whk_dead" || d.Enabled || d.FailingSince == nil || got[0].Type != "webhook.disabled" {
		t.Fatalf("disabled event %v %+v %v", got[0], d, err)
	}
	e, _ := st.Webhooks().GetEndpoint(t.Context(), "whk_dead")
	if e.Enabled || e.DisabledReason == "" {
		t.Fatalf("endpoint %+v", e)
	}
}

// During a rotation both secrets sign; a receiver with either verifies.
func TestRotationSignsTwice(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	rc := newReceiver(t, nil)
	exp := time.Now().Add(time.Hour)
	newSecret := "whsec_" + "bmV3IHNlY3JldCBmb3IgdGhlIHJvdGF0aW9uIHRlc3Q="
	e := addEndpoint(t, st, "whk_a", rc.srv.URL, func(e *store.WebhookEndpoint) {
		e.Secret, e.PreviousSecret, e.PreviousSecretExpiresAt = newSecret, testSecret, &exp
	})
	svc, _ := start(t, st, bus, nil)
	status, latency, err := svc.Test(t.Context(), e)
	if err != nil || status != 200 || latency <= 0 {
		t.Fatalf("test: %d %v %v", status, latency, err)
	}
	rc.waitCount(t, 1, time.Second)
	if sig := rc.sigs[0]; len(strings.Fields(sig)) != 2 {
		t.Fatalf("signature header %q", sig)
	}
	if rc.events()[0].Type != "webhook.test" {
		t.Fatalf("test event %v", rc.events()[0])
	}
}

func TestRetryDelay(t *testing.T) {
	s := DefaultSchedule()
	tests := []struct {
		n    int
		want time.Duration
	}{{1, 5 * time.Second}, {2, 30 * time.Second}, {8, 6 * time.Hour}, {9, 12 * time.Hour}, {50, 12 * time.Hour}}
	for _, tt := range tests {
		for range 20 {
			d := retryDelay(s, tt.n)
			if d < time.Duration(float64(tt.want)*0.8) || d > time.Duration(float64(tt.want)*1.2) {
				t.Fatalf("retryDelay(%d) = %v, want %v ±20%%", tt.n, d, tt.want)
			}
		}
	}
}

// protocolData is an event payload of the tests.
type protocolData struct {
	Protocol string `json:"protocol"`
}

func (protocolData) EventPayload() {}

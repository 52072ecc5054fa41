package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// webhooksCases is the conformance suite of store.Webhooks.
func webhooksCases() []testCase {
	return []testCase{
		{"endpoint_round_trip", testEndpointRoundTrip},
		{"endpoint_not_found", testEndpointNotFound},
		{"endpoint_list", testEndpointList},
		{"outbox_order_and_due", testOutboxDue},
		{"outbox_disabled_endpoint", testOutboxDisabled},
		{"outbox_expedite", testOutboxExpedite},
		{"deliveries_list_update_purge", testDeliveriesLog},
		{"delete_endpoint_cascades", testEndpointCascade},
	}
}

func newEndpoint(id string) *store.WebhookEndpoint {
	return &store.WebhookEndpoint{
		ID: id, URL: "https://example.com/hook/" + id, Enabled: true, Secret: "whsec_" + id,
		CreatedAt: baseTime(), UpdatedAt: baseTime(),
	}
}

func mustEndpoint(t testing.TB, s store.Store, e *store.WebhookEndpoint) {
	t.Helper()
	if err := s.Webhooks().CreateEndpoint(t.Context(), e); err != nil {
		t.Fatalf("CreateEndpoint %s: %v", e.ID, err)
	}
}

func normEndpoint(e *store.WebhookEndpoint) store.WebhookEndpoint {
	n := *e
	n.CreatedAt, n.UpdatedAt = norm(e.CreatedAt), norm(e.UpdatedAt)
	n.PreviousSecretExpiresAt, n.FailingSince = normPtr(e.PreviousSecretExpiresAt), normPtr(e.FailingSince)
	if n.EventTypes == nil {
		n.EventTypes = []string{}
	}
	if n.LiveInputIDs == nil {
		n.LiveInputIDs = []string{}
	}
	return n
}

func testEndpointRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newEndpoint("whk_a")
	mustEndpoint(t, s, e)
	wantErr(t, "duplicate", s.Webhooks().CreateEndpoint(ctx, newEndpoint("whk_a")), store.ErrConflict)
	got, err := s.Webhooks().GetEndpoint(ctx, "whk_a")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := *got, normEndpoint(e); !reflect.DeepEqual(g, w) {
		t.Fatalf("got %+v\nwant %+v", g, w)
	}
	exp := baseTime().Add(24 * time.Hour)
	e.URL, e.Description, e.Enabled = "http://example.org/x", "d", false
	e.EventTypes, e.LiveInputIDs = []string{"live_input.connected"}, []string{"li_1", "li_2"}
	e.Secret, e.PreviousSecret, e.PreviousSecretExpiresAt = "whsec_new", "whsec_a", &exp
	e.FailingSince, e.DisabledReason, e.UpdatedAt = ptr(baseTime()), "failing", baseTime().Add(time.Hour)
	if err := s.Webhooks().UpdateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err = s.Webhooks().GetEndpoint(ctx, "whk_a")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := *got, normEndpoint(e); !reflect.DeepEqual(g, w) {
		t.Fatalf("after update got %+v\nwant %+v", g, w)
	}
}

func testEndpointNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.Webhooks().GetEndpoint(ctx, "whk_none")
	wantErr(t, "get", err, store.ErrNotFound)
	wantErr(t, "update", s.Webhooks().UpdateEndpoint(ctx, newEndpoint("whk_none")), store.ErrNotFound)
	wantErr(t, "delete", s.Webhooks().DeleteEndpoint(ctx, "whk_none"), store.ErrNotFound)
	_, err = s.Webhooks().GetDelivery(ctx, "whk_none", "whd_none")
	wantErr(t, "get delivery", err, store.ErrNotFound)
}

func testEndpointList(t *testing.T, s store.Store) {
	for i := range 5 {
		e := newEndpoint(fmt.Sprintf("whk_%d", i))
		e.Enabled = i%2 == 0
		mustEndpoint(t, s, e)
	}
	rows, more, err := s.Webhooks().ListEndpoints(t.Context(), store.ListOptions{Limit: 2, After: "whk_0"})
	if err != nil || !more || len(rows) != 2 || rows[0].ID != "whk_1" || rows[1].ID != "whk_2" {
		t.Fatalf("page: %v more=%v err=%v", ids(rows), more, err)
	}
	rows, more, err = s.Webhooks().ListEndpoints(t.Context(), store.ListOptions{Limit: 10, Enabled: ptr(true)})
	if err != nil || more || len(rows) != 3 {
		t.Fatalf("enabled: %v more=%v err=%v", ids(rows), more, err)
	}
}

func ids(rows []*store.WebhookEndpoint) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// enqueue stores one event for the endpoints, due at at.
func enqueue(t testing.TB, s store.Store, evID, input string, at time.Time, endpoints ...string) []*store.WebhookDelivery {
	t.Helper()
	ev := &store.WebhookEvent{ID: evID, Type: "live_input.connected", LiveInputID: input, CreatedAt: at, Payload: []byte(`{"id":"` + evID + `"}`)}
	var ds []*store.WebhookDelivery
	for _, e := range endpoints {
		ds = append(ds, &store.WebhookDelivery{ID: "whd_" + evID + "_" + e, EndpointID: e, EventID: evID, EventType: ev.Type,
			LiveInputID: input, State: store.DeliveryPending, NextAttemptAt: &at, CreatedAt: at, UpdatedAt: at})
	}
	if err := s.Webhooks().Enqueue(t.Context(), ev, ds); err != nil {
		t.Fatalf("Enqueue %s: %v", evID, err)
	}
	return ds
}

func dueIDs(t testing.TB, s store.Store, now time.Time) []string {
	t.Helper()
	ds, err := s.Webhooks().Due(t.Context(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		if len(d.Payload) == 0 {
			t.Errorf("%s: no payload", d.ID)
		}
		out = append(out, d.ID)
	}
	return out
}

func testOutboxDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	mustEndpoint(t, s, newEndpoint("whk_b"))
	t0 := baseTime()
	d1 := enqueue(t, s, "evt_1", "li_x", t0, "whk_a", "whk_b")
	enqueue(t, s, "evt_2", "li_x", t0, "whk_a", "whk_b")
	enqueue(t, s, "evt_3", "li_y", t0, "whk_a")
	wantErr(t, "duplicate event", s.Webhooks().Enqueue(ctx, &store.WebhookEvent{ID: "evt_1", CreatedAt: t0}, nil), store.ErrConflict)
	if d1[0].Seq == 0 || d1[1].Seq <= d1[0].Seq {
		t.Fatalf("seq not assigned in order: %d %d", d1[0].Seq, d1[1].Seq)
	}
	// only the head of each (endpoint, live input) queue
	want := []string{"whd_evt_1_whk_a", "whd_evt_1_whk_b", "whd_evt_3_whk_a"}
	if got := dueIDs(t, s, t0); !reflect.DeepEqual(got, want) {
		t.Fatalf("due %v, want %v", got, want)
	}
	if got := dueIDs(t, s, t0.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("due before their time: %v", got)
	}
	// a retry later keeps the queue blocked; success frees it
	d := d1[0]
	later := t0.Add(time.Minute)
	d.Attempts, d.LastStatus, d.NextAttemptAt, d.UpdatedAt = 1, 503, &later, t0
	if err := s.Webhooks().UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, t0); !reflect.DeepEqual(got, []string{"whd_evt_1_whk_b", "whd_evt_3_whk_a"}) {
		t.Fatalf("due while retrying: %v", got)
	}
	d.State, d.NextAttemptAt, d.LastStatus = store.DeliverySucceeded, nil, 200
	if err := s.Webhooks().UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, t0); !reflect.DeepEqual(got, []string{"whd_evt_1_whk_b", "whd_evt_2_whk_a", "whd_evt_3_whk_a"}) {
		t.Fatalf("due after success: %v", got)
	}
	n, oldest, err := s.Webhooks().OutboxStats(ctx)
	if err != nil || n != 4 || oldest == nil || !oldest.Equal(norm(t0)) {
		t.Fatalf("stats %d %v %v", n, oldest, err)
	}
}

func testOutboxDisabled(t *testing.T, s store.Store) {
	e := newEndpoint("whk_a")
	e.Enabled = false
	mustEndpoint(t, s, e)
	enqueue(t, s, "evt_1", "", baseTime(), "whk_a")
	if got := dueIDs(t, s, baseTime()); len(got) != 0 {
		t.Fatalf("due on a disabled endpoint: %v", got)
	}
}

func testOutboxExpedite(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	mustEndpoint(t, s, newEndpoint("whk_b"))
	t0 := baseTime()
	now := t0.Add(time.Minute)
	later := t0.Add(time.Hour)
	retry := func(d *store.WebhookDelivery, status int) {
		t.Helper()
		d.Attempts, d.LastStatus, d.NextAttemptAt, d.UpdatedAt = 1, status, &later, t0
		if status == 0 {
			d.LastError = "connection refused"
		}
		if err := s.Webhooks().UpdateDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	unreachable := enqueue(t, s, "evt_1", "li_x", t0, "whk_a", "whk_b") // 503 on both endpoints
	retry(unreachable[0], 503)
	retry(unreachable[1], 503)
	queued := enqueue(t, s, "evt_2", "li_x", t0, "whk_a")[0] // behind evt_1: never tried
	noResponse := enqueue(t, s, "evt_3", "li_y", t0, "whk_a")[0]
	retry(noResponse, 0)
	limited := enqueue(t, s, "evt_4", "li_z", t0, "whk_a")[0] // 429: keeps its backoff
	retry(limited, 429)
	done := enqueue(t, s, "evt_5", "li_w", t0, "whk_a")[0]
	done.State, done.NextAttemptAt, done.LastStatus = store.DeliverySucceeded, nil, 200
	if err := s.Webhooks().UpdateDelivery(ctx, done); err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(t, s, now); len(got) != 0 {
		t.Fatalf("due before expediting: %v", got)
	}
	n, err := s.Webhooks().ExpediteDeliveries(ctx, "whk_a", now)
	if err != nil || n != 2 {
		t.Fatalf("expedite: %d %v, want 2", n, err)
	}
	// only heads are due: evt_2 still waits for evt_1 of its live input
	if got, want := dueIDs(t, s, now), []string{"whd_evt_1_whk_a", "whd_evt_3_whk_a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("due after expediting %v, want %v", got, want)
	}
	for _, c := range []struct {
		endpoint, id string
		next         *time.Time
		state        string
	}{
		{"whk_a", unreachable[0].ID, &now, store.DeliveryPending},
		{"whk_b", unreachable[1].ID, &later, store.DeliveryPending}, // another endpoint
		{"whk_a", queued.ID, &t0, store.DeliveryPending},            // already due: unchanged
		{"whk_a", noResponse.ID, &now, store.DeliveryPending},
		{"whk_a", limited.ID, &later, store.DeliveryPending},
		{"whk_a", done.ID, nil, store.DeliverySucceeded},
	} {
		d, err := s.Webhooks().GetDelivery(ctx, c.endpoint, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != c.state || !reflect.DeepEqual(d.NextAttemptAt, normPtr(c.next)) || !d.UpdatedAt.Equal(norm(t0)) {
			t.Errorf("%s: state %s next %v updated %v, want %s %v (updated_at kept)", c.id, d.State, d.NextAttemptAt, d.UpdatedAt, c.state, c.next)
		}
	}
	if n, err := s.Webhooks().ExpediteDeliveries(ctx, "whk_a", now); err != nil || n != 0 {
		t.Fatalf("second expedite: %d %v, want 0", n, err)
	}
}

func testDeliveriesLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	t0 := baseTime()
	var all []*store.WebhookDelivery
	for i := range 3 {
		all = append(all, enqueue(t, s, fmt.Sprintf("evt_%d", i), "li_x", t0, "whk_a")...)
	}
	rows, more, err := s.Webhooks().ListDeliveries(ctx, "whk_a", store.ListOptions{Limit: 2})
	if err != nil || !more || len(rows) != 2 || rows[0].ID != "whd_evt_2_whk_a" {
		t.Fatalf("list: %v %v %v", rows, more, err)
	}
	rows, more, err = s.Webhooks().ListDeliveries(ctx, "whk_a", store.ListOptions{Limit: 2, After: rows[1].ID})
	if err != nil || more || len(rows) != 1 || rows[0].ID != "whd_evt_0_whk_a" {
		t.Fatalf("list page 2: %v %v %v", rows, more, err)
	}
	d := all[0]
	d.State, d.Attempts, d.LastStatus, d.LastLatency, d.LastError, d.ResponsePrefix = store.DeliveryFailed, 2, 400, 1500*time.Microsecond, "", "bad"
	d.NextAttemptAt, d.UpdatedAt = nil, t0.Add(time.Hour)
	if err := s.Webhooks().UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	got, err := s.Webhooks().GetDelivery(ctx, "whk_a", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := *d
	w.CreatedAt, w.UpdatedAt = norm(w.CreatedAt), norm(w.UpdatedAt)
	if !reflect.DeepEqual(*got, w) {
		t.Fatalf("delivery got %+v\nwant %+v", *got, w)
	}
	if _, err := s.Webhooks().GetDelivery(ctx, "whk_other", d.ID); err == nil {
		t.Fatal("delivery found under another endpoint")
	}
	n, err := s.Webhooks().PurgeDeliveries(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v (pending ones must stay)", n, err)
	}
	if pending, _, _ := s.Webhooks().OutboxStats(ctx); pending != 2 {
		t.Fatalf("pending after purge %d", pending)
	}
}

func testEndpointCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	enqueue(t, s, "evt_1", "li_x", baseTime(), "whk_a")
	if err := s.Webhooks().DeleteEndpoint(ctx, "whk_a"); err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.Webhooks().OutboxStats(ctx); err != nil || n != 0 {
		t.Fatalf("deliveries left after delete: %d %v", n, err)
	}
}

package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// outboxCases is the conformance suite of the transactional outbox, the
// delivery leases and endpoint health.
func outboxCases() []testCase {
	return []testCase{
		{"emit_fans_out_to_wanting_endpoints", testEmitFanOut},
		{"live_input_changes_emit_atomically", testEmitAtomic},
		{"video_changes_emit_atomically", testVideoEmitAtomic},
		{"video_finish_emits_the_committed_row", testVideoEmitRace},
		{"claim_leases_heads_once", testClaimLeases},
		{"record_health_atomic", testRecordHealth},
	}
}

func outboxEvent(id, typ, input string) *store.WebhookEvent {
	return &store.WebhookEvent{ID: id, Type: typ, LiveInputID: input, CreatedAt: baseTime(), Payload: []byte(`{"id":"` + id + `"}`)}
}

// deliveredEvents lists the event ids of an endpoint's deliveries, oldest
// first.
func deliveredEvents(t testing.TB, s store.Store, endpoint string) []string {
	t.Helper()
	rows, _, err := s.Webhooks().ListDeliveries(t.Context(), endpoint, store.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Seq < rows[j].Seq })
	out := []string{}
	for _, d := range rows {
		out = append(out, d.EventID)
	}
	return out
}

func testEmitFanOut(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_all"))
	typed := newEndpoint("whk_typed")
	typed.EventTypes = []string{"live_input.idle"}
	mustEndpoint(t, s, typed)
	input := newEndpoint("whk_input")
	input.LiveInputIDs = []string{"li_b"}
	mustEndpoint(t, s, input)
	off := newEndpoint("whk_off")
	off.Enabled = false
	mustEndpoint(t, s, off)
	if err := s.Webhooks().Emit(ctx, outboxEvent("evt_1", "live_input.idle", "li_a"), outboxEvent("evt_2", "live_input.connected", "li_b")); err != nil {
		t.Fatal(err)
	}
	for ep, want := range map[string][]string{"whk_all": {"evt_1", "evt_2"}, "whk_typed": {"evt_1"}, "whk_input": {"evt_2"}, "whk_off": {}} {
		if got := deliveredEvents(t, s, ep); !reflect.DeepEqual(got, want) {
			t.Errorf("%s got %v, want %v", ep, got, want)
		}
	}
	ds := dueIDs(t, s, baseTime())
	if len(ds) != 4 { // evt_1 to all and typed, evt_2 to all (behind evt_1? no: another input) and input
		t.Errorf("due %v, want 4 deliveries", ds)
	}
	// one batch is one transaction: a duplicate id cancels the whole batch
	err := s.Webhooks().Emit(ctx, outboxEvent("evt_3", "live_input.idle", "li_a"), outboxEvent("evt_1", "live_input.idle", "li_a"))
	wantErr(t, "duplicate event", err, store.ErrConflict)
	if got := deliveredEvents(t, s, "whk_all"); !reflect.DeepEqual(got, []string{"evt_1", "evt_2"}) {
		t.Errorf("after a failed batch: %v", got)
	}
	// an event no endpoint wants is not stored (its id is free again)
	if err := s.Webhooks().Emit(ctx, outboxEvent("evt_x", "live_input.idle", "li_z")); err != nil {
		t.Fatal(err)
	}
}

// testEmitAtomic: an event exists if and only if the change that emitted
// it committed.
func testEmitAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	lis := s.LiveInputs()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	seen := map[string]int64{} // event id -> the version the EventFunc saw
	evf := func(id, typ string) store.EventFunc {
		return func(li *store.LiveInput) ([]*store.WebhookEvent, error) {
			seen[id] = li.Version
			return []*store.WebhookEvent{outboxEvent(id, typ, li.ID)}, nil
		}
	}
	failing := func(*store.LiveInput) ([]*store.WebhookEvent, error) { return nil, errors.New("render failed") }
	dup := func(*store.LiveInput) ([]*store.WebhookEvent, error) {
		return []*store.WebhookEvent{outboxEvent("evt_created", "live_input.updated", "li_1")}, nil // an existing id: the INSERT fails
	}

	li := newLiveInput("li_1")
	if err := lis.CreateEmitting(ctx, li, evf("evt_created", "live_input.created")); err != nil {
		t.Fatal(err)
	}
	if li.Version != 1 || seen["evt_created"] != 1 {
		t.Fatalf("version %d, the EventFunc saw %d", li.Version, seen["evt_created"])
	}
	if err := lis.CreateEmitting(ctx, newLiveInput("li_2"), failing); err == nil {
		t.Fatal("create with a failing EventFunc succeeded")
	}
	_, err := lis.Get(ctx, "li_2")
	wantErr(t, "live input of a failed create", err, store.ErrNotFound)

	li.Name = "renamed"
	if err := lis.UpdateEmitting(ctx, li, evf("evt_updated", "live_input.updated")); err != nil {
		t.Fatal(err)
	}
	if li.Version != 2 || seen["evt_updated"] != 2 {
		t.Fatalf("version %d, the EventFunc saw %d (want the new version)", li.Version, seen["evt_updated"])
	}
	stale := *li
	stale.Version = 1
	wantErr(t, "stale update", lis.UpdateEmitting(ctx, &stale, evf("evt_stale", "live_input.updated")), store.ErrPrecondition)
	li.Name = "never stored"
	if err := lis.UpdateEmitting(ctx, li, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update whose event fails: %v, want ErrConflict", err)
	}
	li.Version = 2 // the failed update did not count
	if got := mustGet(t, s, "li_1"); got.Name != "renamed" || got.Version != 2 {
		t.Fatalf("after a failed update: %q v%d", got.Name, got.Version)
	}
	wantErr(t, "update of a missing row", lis.UpdateEmitting(ctx, newLiveInput("li_none"), evf("evt_none", "live_input.updated")), store.ErrNotFound)

	at := baseTime().Add(time.Minute)
	if err := lis.SetLastConnectedEmitting(ctx, "li_1", at, func(li *store.LiveInput) ([]*store.WebhookEvent, error) {
		if li.LastConnectedAt == nil || !li.LastConnectedAt.Equal(norm(at)) {
			return nil, fmt.Errorf("EventFunc saw last_connected_at %v", li.LastConnectedAt)
		}
		return evf("evt_connected", "live_input.connected")(li)
	}); err != nil {
		t.Fatal(err)
	}
	if err := lis.SetLastConnectedEmitting(ctx, "li_1", at.Add(time.Minute), failing); err == nil {
		t.Fatal("set last connected with a failing EventFunc succeeded")
	}
	if got := mustGet(t, s, "li_1"); !got.LastConnectedAt.Equal(norm(at)) {
		t.Fatalf("a failed status update was kept: %v", got.LastConnectedAt)
	}
	wantErr(t, "connected of a missing row", lis.SetLastConnectedEmitting(ctx, "li_none", at, evf("evt_x", "live_input.connected")), store.ErrNotFound)

	if err := lis.DeleteEmitting(ctx, "li_1", dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete whose event fails: %v, want ErrConflict", err)
	}
	mustGet(t, s, "li_1") // still there
	if err := lis.DeleteEmitting(ctx, "li_1", evf("evt_deleted", "live_input.deleted")); err != nil {
		t.Fatal(err)
	}
	if seen["evt_deleted"] != 2 {
		t.Fatalf("the delete's EventFunc saw version %d, want the row before deletion", seen["evt_deleted"])
	}
	wantErr(t, "delete again", lis.DeleteEmitting(ctx, "li_1", evf("evt_again", "live_input.deleted")), store.ErrNotFound)

	want := []string{"evt_created", "evt_updated", "evt_connected", "evt_deleted"}
	if got := deliveredEvents(t, s, "whk_a"); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v (only those of committed changes, in order)", got, want)
	}
}

func testClaimLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	wh := s.Webhooks()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	t0 := baseTime()
	enqueue(t, s, "evt_1", "li_x", t0, "whk_a")
	enqueue(t, s, "evt_2", "li_x", t0, "whk_a")
	enqueue(t, s, "evt_3", "li_y", t0, "whk_a")
	const lease = time.Minute
	claimIDs := func(owner string, now time.Time) []*store.WebhookDelivery {
		t.Helper()
		ds, err := wh.Claim(ctx, owner, now, lease, 100)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	a := claimIDs("node-a", t0)
	if len(a) != 2 || a[0].EventID != "evt_1" || a[1].EventID != "evt_3" {
		t.Fatalf("node-a claimed %v, want the heads evt_1 and evt_3", a)
	}
	for _, d := range a {
		if d.LeaseOwner != "node-a" || d.LeaseUntil == nil || !d.LeaseUntil.Equal(norm(t0.Add(lease))) || len(d.Payload) == 0 {
			t.Fatalf("claimed delivery %+v", d)
		}
	}
	if b := claimIDs("node-b", t0.Add(time.Second)); len(b) != 0 {
		t.Fatalf("node-b claimed %v while node-a holds the heads (evt_2 must wait for evt_1)", b)
	}
	// node-a completes evt_1: evt_2 is the head now, and free
	d := a[0]
	d.State, d.Attempts, d.LastStatus, d.NextAttemptAt, d.UpdatedAt = store.DeliverySucceeded, 1, 200, nil, t0
	if err := wh.CompleteDelivery(ctx, "node-a", d); err != nil {
		t.Fatal(err)
	}
	b := claimIDs("node-b", t0.Add(time.Second))
	if len(b) != 1 || b[0].EventID != "evt_2" {
		t.Fatalf("node-b claimed %v, want evt_2", b)
	}
	b[0].State, b[0].Attempts, b[0].NextAttemptAt = store.DeliverySucceeded, 1, nil
	if err := wh.CompleteDelivery(ctx, "node-b", b[0]); err != nil {
		t.Fatal(err)
	}
	// node-a crashes holding evt_3: its lease expires and node-b takes over
	if got := claimIDs("node-b", t0.Add(lease-time.Second)); len(got) != 0 {
		t.Fatalf("claimed before the lease expired: %v", got)
	}
	got := claimIDs("node-b", t0.Add(lease))
	if len(got) != 1 || got[0].EventID != "evt_3" {
		t.Fatalf("after the lease expired node-b claimed %v, want evt_3", got)
	}
	late := a[1]
	late.State, late.Attempts, late.NextAttemptAt = store.DeliverySucceeded, 1, nil
	wantErr(t, "completion by a node whose lease was taken over", wh.CompleteDelivery(ctx, "node-a", late), store.ErrPrecondition)
	missing := *late
	missing.ID = "whd_none"
	wantErr(t, "completion of a missing delivery", wh.CompleteDelivery(ctx, "node-b", &missing), store.ErrNotFound)
	// a retry scheduled by the holder stays its queue's head, unleased
	r := got[0]
	next := t0.Add(2 * lease)
	r.Attempts, r.LastStatus, r.NextAttemptAt = 1, 503, &next
	if err := wh.CompleteDelivery(ctx, "node-b", r); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs("node-a", next); len(got) != 1 || got[0].EventID != "evt_3" || got[0].Attempts != 1 {
		t.Fatalf("retry claimed %v", got)
	}
	if n, err := wh.ReleaseLeases(ctx, "node-a"); err != nil || n != 1 {
		t.Fatalf("release: %d %v, want 1", n, err)
	}
	dl, err := wh.GetDelivery(ctx, "whk_a", got[0].ID)
	if err != nil || dl.LeaseOwner != "" || dl.LeaseUntil != nil {
		t.Fatalf("after release: %+v %v", dl, err)
	}
	if got := claimIDs("node-b", next); len(got) != 1 {
		t.Fatalf("a released delivery is not claimable at once: %v", got)
	}
}

func testRecordHealth(t *testing.T, s store.Store) {
	ctx := t.Context()
	wh := s.Webhooks()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	mustEndpoint(t, s, newEndpoint("whk_b"))
	t0 := baseTime()
	const after = 72 * time.Hour
	calls := 0
	disabled := func(e *store.WebhookEndpoint) ([]*store.WebhookEvent, error) {
		calls++
		return []*store.WebhookEvent{outboxEvent("evt_disabled_"+e.ID, "webhook.disabled", "")}, nil
	}
	get := func() *store.WebhookEndpoint {
		t.Helper()
		e, err := wh.GetEndpoint(ctx, "whk_a")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, at := range []time.Time{t0, t0.Add(time.Hour)} {
		if e, err := wh.RecordHealth(ctx, "whk_a", false, at, after, disabled); err != nil || e != nil {
			t.Fatalf("failure at %v: %v %v", at, e, err)
		}
	}
	if e := get(); e.FailingSince == nil || !e.FailingSince.Equal(norm(t0)) || !e.Enabled {
		t.Fatalf("failing_since %v enabled %v, want the first failure", e.FailingSince, e.Enabled)
	}
	if _, err := wh.RecordHealth(ctx, "whk_a", true, t0.Add(2*time.Hour), after, disabled); err != nil {
		t.Fatal(err)
	}
	if e := get(); e.FailingSince != nil {
		t.Fatalf("a success kept failing_since %v", e.FailingSince)
	}
	t1 := t0.Add(3 * time.Hour)
	if _, err := wh.RecordHealth(ctx, "whk_a", false, t1, after, disabled); err != nil {
		t.Fatal(err)
	}
	if e, err := wh.RecordHealth(ctx, "whk_a", false, t1.Add(after-time.Second), after, disabled); err != nil || e != nil {
		t.Fatalf("disabled early: %v %v", e, err)
	}
	e, err := wh.RecordHealth(ctx, "whk_a", false, t1.Add(after), after, disabled)
	if err != nil || e == nil || e.Enabled || e.DisabledReason == "" || !e.FailingSince.Equal(norm(t1)) {
		t.Fatalf("after %v of failures: %+v %v, want the endpoint disabled", after, e, err)
	}
	// only one call disables it
	if e, err := wh.RecordHealth(ctx, "whk_a", false, t1.Add(after+time.Second), after, disabled); err != nil || e != nil || calls != 1 {
		t.Fatalf("second disable: %v %v, %d calls", e, err, calls)
	}
	if g := get(); g.Enabled || g.DisabledReason != store.DisabledReason {
		t.Fatalf("stored %+v", g)
	}
	// webhook.disabled goes to the other endpoints only
	if got := deliveredEvents(t, s, "whk_b"); !reflect.DeepEqual(got, []string{"evt_disabled_whk_a"}) {
		t.Fatalf("whk_b got %v", got)
	}
	if got := deliveredEvents(t, s, "whk_a"); len(got) != 0 {
		t.Fatalf("the disabled endpoint got %v", got)
	}
	wantErr(t, "missing endpoint", func() error { _, err := wh.RecordHealth(ctx, "whk_none", false, t1, after, disabled); return err }(), nil)
}

package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// boundaryCases cover what a store translates between Go and its database
// on every path, not only the main one of each method: driver errors
// inside transactions, times in every table, and concurrent claims.
func boundaryCases() []testCase {
	return []testCase{
		{"conflicts_inside_transactions", testConflictsInTx},
		{"not_found_inside_transactions", testNotFoundInTx},
		{"times_in_every_table", testTimesEveryTable},
		{"time_bounds_compare_stored_precision", testTimeBounds},
		{"claim_contention", testClaimContention},
	}
}

// noEvents is an event function that emits nothing.
func noEvents[T any](T) ([]*store.WebhookEvent, error) { return nil, nil }

// testConflictsInTx: a unique violation met inside a transaction (the
// *Emitting methods, Enqueue, Emit) is store.ErrConflict, as it is
// outside one, and leaves nothing behind.
func testConflictsInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	mustCreate(t, s, newLiveInput("li_a"))
	mustCreate(t, s, newLiveInput("li_b"))
	enqueue(t, s, "evt_1", "li_a", baseTime(), "whk_a")
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_a", baseTime())); err != nil {
		t.Fatal(err)
	}

	taken, err := s.LiveInputs().Get(ctx, "li_b")
	if err != nil {
		t.Fatal(err)
	}
	taken.StreamKeyHash = keyHash("sk_li_a")
	ev := outboxEvent("evt_1", "live_input.connected", "li_a")
	tests := []struct {
		name string
		call func() error
	}{
		{"LiveInputs.CreateEmitting duplicate id", func() error {
			return s.LiveInputs().CreateEmitting(ctx, newLiveInput("li_a"), noEvents[*store.LiveInput])
		}},
		{"LiveInputs.UpdateEmitting stream key hash taken", func() error {
			return s.LiveInputs().UpdateEmitting(ctx, taken, noEvents[*store.LiveInput])
		}},
		{"Videos.CreateEmitting duplicate id", func() error {
			return s.Videos().CreateEmitting(ctx, newVideo("vid_1", "li_a", baseTime()), noEvents[*store.Video])
		}},
		{"Videos.AddSegment duplicate seq", func() error {
			seg := &store.VideoSegment{VideoID: "vid_1", Seq: 0, Duration: time.Second, InitKey: "i", Key: "k0", Size: 1}
			if err := s.Videos().AddSegment(ctx, seg); err != nil {
				return fmt.Errorf("first AddSegment: %w", err)
			}
			return s.Videos().AddSegment(ctx, seg)
		}},
		{"Webhooks.Enqueue duplicate event", func() error { return s.Webhooks().Enqueue(ctx, ev, nil) }},
		{"Webhooks.Emit duplicate event", func() error { return s.Webhooks().Emit(ctx, ev) }},
		{"LiveInputs.CreateEmitting duplicate event", func() error {
			return s.LiveInputs().CreateEmitting(ctx, newLiveInput("li_c"), func(*store.LiveInput) ([]*store.WebhookEvent, error) {
				return []*store.WebhookEvent{ev}, nil
			})
		}},
	}
	for _, tc := range tests {
		err := tc.call()
		wantErr(t, tc.name, err, store.ErrConflict)
		if errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: err = %v is also ErrNotFound", tc.name, err)
		}
	}
	if _, err := s.LiveInputs().Get(ctx, "li_c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("li_c after its failed CreateEmitting: err = %v, want ErrNotFound", err)
	}
	if got := deliveredEvents(t, s, "whk_a"); len(got) != 1 {
		t.Fatalf("deliveries after the failed writes: %v, want evt_1 only", got)
	}
}

// testNotFoundInTx: a missing row met inside a transaction is
// store.ErrNotFound, and the event function is not called.
func testNotFoundInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	called := false
	liEvf := func(*store.LiveInput) ([]*store.WebhookEvent, error) { called = true; return nil, nil }
	vEvf := func(*store.Video) ([]*store.WebhookEvent, error) { called = true; return nil, nil }
	missing := newLiveInput("li_missing")
	missing.Version = 1
	tests := []struct {
		name string
		call func() error
	}{
		{"LiveInputs.UpdateEmitting", func() error { return s.LiveInputs().UpdateEmitting(ctx, missing, liEvf) }},
		{"LiveInputs.DeleteEmitting", func() error { return s.LiveInputs().DeleteEmitting(ctx, "li_missing", liEvf) }},
		{"LiveInputs.SetLastConnectedEmitting", func() error {
			return s.LiveInputs().SetLastConnectedEmitting(ctx, "li_missing", baseTime(), liEvf)
		}},
		{"Videos.DeleteEmitting", func() error { return s.Videos().DeleteEmitting(ctx, "vid_missing", vEvf) }},
		{"Videos.SetDownloadEmitting", func() error {
			return s.Videos().SetDownloadEmitting(ctx, "vid_missing", store.DownloadReady, "k", baseTime(), vEvf)
		}},
		{"Videos.FinishEmitting", func() error {
			return s.Videos().FinishEmitting(ctx, "vid_missing", "node", store.VideoEnd{Status: store.VideoReady,
				EndedAt: baseTime(), UpdatedAt: baseTime()}, vEvf)
		}},
		{"Videos.AddSegment", func() error {
			return s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_missing", Key: "k", InitKey: "i"})
		}},
	}
	for _, tc := range tests {
		wantErr(t, tc.name, tc.call(), store.ErrNotFound)
	}
	if called {
		t.Fatal("an event function was called for a missing row")
	}
}

// testTimesEveryTable: every time column, nullable or not, reads back
// truncated to the microsecond in UTC, whatever the zone and the
// nanoseconds written.
func testTimesEveryTable(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := baseTime()
	later := at.Add(90*time.Minute + 123*time.Nanosecond)
	eq := func(what string, got, want time.Time) {
		t.Helper()
		if !got.Equal(norm(want)) || got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v in UTC", what, got, norm(want))
		}
	}
	eqPtr := func(what string, got *time.Time, want time.Time) {
		t.Helper()
		if got == nil {
			t.Errorf("%s = nil, want %v", what, norm(want))
			return
		}
		eq(what, *got, want)
	}

	tok := newToken("tok_t")
	tok.CreatedAt = at
	mustCreateToken(t, s, tok)
	if err := s.Tokens().Touch(ctx, "tok_t", later); err != nil {
		t.Fatal(err)
	}
	if err := s.Tokens().Revoke(ctx, "tok_t", later); err != nil {
		t.Fatal(err)
	}
	gotTok, err := s.Tokens().Get(ctx, "tok_t")
	if err != nil {
		t.Fatal(err)
	}
	eq("token CreatedAt", gotTok.CreatedAt, at)
	eqPtr("token LastUsedAt", gotTok.LastUsedAt, later)
	eqPtr("token RevokedAt", gotTok.RevokedAt, later)

	if err := s.SigningKeys().Create(ctx, newSigningKey("sk_t", store.AlgES256)); err != nil {
		t.Fatal(err)
	}
	if err := s.SigningKeys().Revoke(ctx, "sk_t", later); err != nil {
		t.Fatal(err)
	}
	gotKey, err := s.SigningKeys().Get(ctx, "sk_t")
	if err != nil {
		t.Fatal(err)
	}
	eq("signing key CreatedAt", gotKey.CreatedAt, at)
	eqPtr("signing key RevokedAt", gotKey.RevokedAt, later)

	if err := s.Idempotency().Put(ctx, newRecord("scope", "key", later)); err != nil {
		t.Fatal(err)
	}
	gotRec, err := s.Idempotency().Get(ctx, "scope", "key")
	if err != nil {
		t.Fatal(err)
	}
	eq("idempotency CreatedAt", gotRec.CreatedAt, later)

	e := newEndpoint("whk_t")
	e.PreviousSecret, e.PreviousSecretExpiresAt, e.FailingSince = "whsec_old", &later, &at
	mustEndpoint(t, s, e)
	gotE, err := s.Webhooks().GetEndpoint(ctx, "whk_t")
	if err != nil {
		t.Fatal(err)
	}
	eqPtr("endpoint PreviousSecretExpiresAt", gotE.PreviousSecretExpiresAt, later)
	eqPtr("endpoint FailingSince", gotE.FailingSince, at)
	ds := enqueue(t, s, "evt_t", "li_t", at, "whk_t")
	d := ds[0]
	d.Attempts, d.LastStatus, d.NextAttemptAt, d.UpdatedAt = 1, 503, &later, later
	if err := s.Webhooks().UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	gotD, err := s.Webhooks().GetDelivery(ctx, "whk_t", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	eq("delivery CreatedAt", gotD.CreatedAt, at)
	eq("delivery UpdatedAt", gotD.UpdatedAt, later)
	eqPtr("delivery NextAttemptAt", gotD.NextAttemptAt, later)
	_, oldest, err := s.Webhooks().OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eqPtr("OutboxStats oldest", oldest, at)

	v := newVideo("vid_t", "li_t", at)
	v.NodeID, v.LeaseExpires, v.ScheduledDeletion = "node", later, &later
	if err := s.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_t", Seq: 0, Duration: time.Second,
		ProgramDateTime: later, InitKey: "init", Key: "seg0", Size: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().Finish(ctx, "vid_t", "node", store.VideoEnd{Status: store.VideoReady, EndedAt: later,
		UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	gotV, err := s.Videos().Get(ctx, "vid_t")
	if err != nil {
		t.Fatal(err)
	}
	eq("video CreatedAt", gotV.CreatedAt, at)
	eq("video StartedAt", gotV.StartedAt, at)
	eq("video UpdatedAt", gotV.UpdatedAt, later)
	eq("video LeaseExpires", gotV.LeaseExpires, later)
	eqPtr("video EndedAt", gotV.EndedAt, later)
	eqPtr("video ScheduledDeletion", gotV.ScheduledDeletion, later)
	segs, err := s.Videos().Segments(ctx, "vid_t", 0, 0)
	if err != nil || len(segs) != 1 {
		t.Fatalf("Segments = %v, %v", segs, err)
	}
	eq("segment ProgramDateTime", segs[0].ProgramDateTime, later)
}

// testTimeBounds: a time bound is compared at the stored precision: a
// bound in the same microsecond as a stored time is neither before nor
// after it, whatever its nanoseconds.
func testTimeBounds(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := baseTime() // .535897932
	if err := s.Videos().Create(ctx, newVideo("vid_b", "li_b", created)); err != nil {
		t.Fatal(err)
	}
	sameMicro := norm(created).Add(999 * time.Nanosecond)
	nextMicro := norm(created).Add(time.Microsecond)
	tests := []struct {
		name string
		opts store.VideoListOptions
		want int
	}{
		{"before, same microsecond", store.VideoListOptions{CreatedBefore: sameMicro}, 0},
		{"after, same microsecond", store.VideoListOptions{CreatedAfter: sameMicro}, 0},
		{"before, next microsecond", store.VideoListOptions{CreatedBefore: nextMicro}, 1},
		{"after, previous microsecond", store.VideoListOptions{CreatedAfter: norm(created).Add(-time.Nanosecond)}, 1},
	}
	for _, tc := range tests {
		tc.opts.Limit = 10
		got, _, err := s.Videos().List(ctx, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d videos, want %d", tc.name, len(got), tc.want)
		}
	}
	// Due at the stored instant, given with more nanoseconds than stored.
	if err := s.Webhooks().CreateEndpoint(ctx, newEndpoint("whk_b")); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "evt_b", "li_b", created, "whk_b")
	if got := dueIDs(t, s, norm(created).Add(-time.Nanosecond)); len(got) != 0 {
		t.Fatalf("due a nanosecond before the stored microsecond: %v", got)
	}
	if got := dueIDs(t, s, created); len(got) != 1 {
		t.Fatalf("due at the written instant: %v, want 1", got)
	}
}

// testClaimContention: claimers racing on one store (as nodes sharing a
// database do) get disjoint deliveries, and every due head exactly once.
func testClaimContention(t *testing.T, s store.Store) {
	const queues, claimers = 24, 6
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_c"))
	t0 := baseTime()
	for i := range queues {
		enqueue(t, s, fmt.Sprintf("evt_%02d", i), fmt.Sprintf("li_%02d", i), t0, "whk_c")
	}
	var (
		mu     sync.Mutex
		owners = map[string]string{}
		wg     sync.WaitGroup
	)
	for c := range claimers {
		owner := fmt.Sprintf("node-%d", c)
		wg.Go(func() {
			for {
				ds, err := s.Webhooks().Claim(ctx, owner, t0, time.Minute, 2)
				if err != nil {
					t.Errorf("%s: Claim: %v", owner, err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, ok := owners[d.ID]; ok {
						t.Errorf("%s claimed by %s and %s", d.ID, prev, owner)
					}
					owners[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owners) != queues {
		t.Fatalf("%d deliveries claimed, want %d", len(owners), queues)
	}
}
